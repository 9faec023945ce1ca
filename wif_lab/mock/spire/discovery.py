"""SPIRE's OIDC Discovery Provider: ``/.well-known/openid-configuration`` and ``/keys``, over https.

Follows ``support/oidc-discovery-provider/handler.go`` and ``domain_policy.go`` (``shared/reference/
providers.md`` §5.4), which a default SPIRE install does not run: it is deployed beside the server with
``domains = [...]`` and its own TLS (ACME, or a load balancer):

- the discovery document has exactly six members: ``issuer`` (the provider's ``jwt_issuer`` if set,
  else ``https://<Host>``), ``jwks_uri`` (``https://<Host>/keys``), ``authorization_endpoint: ""``,
  ``response_types_supported: ["id_token"]``, ``subject_types_supported: []`` and
  ``id_token_signing_alg_values_supported: ["RS256","ES256","ES384"]``, indented by two spaces;
- ``Host`` may come from ``X-Forwarded-Host`` (the provider sits behind proxies) and must be one of
  ``domains``, else ``400 domain "<host>" is not allowed``; ``/keys`` does not check the host;
- ``/keys`` is the trust domain's JWKS with ``alg`` on every key (``use`` only with ``set_key_use``),
  sent with caching disabled;
- any method but GET is ``405 method not allowed``; other paths are Go's ``404 page not found``.

Lab deviations: a host outside ``domains`` that is not even a valid DNS name is answered "is not
allowed" (the real policy first says why it is not a domain name).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..errors import EXCEPTION_HANDLERS
from .errors import domain_not_allowed, method_not_allowed
from .server import SpireServer

SIGNING_ALGS = ["RS256", "ES256", "ES384"]
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]  # Go's mux routes them all to the handler
NO_CACHE = {"cache-control": "no-cache, no-store, must-revalidate", "pragma": "no-cache", "expires": "0"}


def _json(document: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(document, indent=2), media_type="application/json", headers=headers)


class DiscoveryProvider:
    """The provider for one trust domain, answering for ``domains``."""

    def __init__(self, server: SpireServer, domains: list[str], *, jwt_issuer: str | None = None,
                 set_key_use: bool = False) -> None:
        self.server = server
        self.domains = list(domains)
        self.jwt_issuer = jwt_issuer  # the provider's own setting; unset: https://<Host>
        self.set_key_use = set_key_use
        self.fetches = 0

    def _host(self, request: Request) -> str:
        return request.headers.get("x-forwarded-host") or request.headers.get("host", "")

    def document(self, host: str) -> dict[str, Any]:
        return {
            "issuer": self.jwt_issuer or f"https://{host}",
            "jwks_uri": f"https://{host}/keys",
            "authorization_endpoint": "",
            "response_types_supported": ["id_token"],
            "subject_types_supported": [],
            "id_token_signing_alg_values_supported": SIGNING_ALGS,
        }

    def keys(self) -> dict[str, Any]:
        jwks = self.server.jwks(alg=True)
        if self.set_key_use:
            jwks["keys"] = [{"use": "sig", **key} for key in jwks["keys"]]
        return jwks

    def _allowed(self, host: str) -> None:
        domain = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        if domain.startswith("[") and "]" in domain:  # [v6]:port
            domain = domain[1:domain.index("]")]
        if domain not in self.domains:
            raise domain_not_allowed(domain)

    async def well_known(self, request: Request) -> Response:
        if request.method != "GET":
            raise method_not_allowed()
        host = self._host(request)
        self._allowed(host)
        return _json(self.document(host))

    async def keys_endpoint(self, request: Request) -> Response:
        if request.method != "GET":
            raise method_not_allowed()
        self.fetches += 1
        return _json(self.keys(), NO_CACHE)

    def routes(self) -> list[Route]:
        return [
            Route("/.well-known/openid-configuration", self.well_known, methods=ANY_METHOD),
            Route("/keys", self.keys_endpoint, methods=ANY_METHOD),
        ]


async def not_found(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("404 page not found\n", status_code=404, headers={"x-content-type-options": "nosniff"})


def app(routes: list[Route]) -> Starlette:
    """The provider's routes (and the lab's), refusals written by the one handler, Go's 404 for the rest."""
    handlers: dict[Any, Callable[..., Any]] = {**EXCEPTION_HANDLERS, 404: not_found}
    return Starlette(routes=routes, exception_handlers=handlers)
