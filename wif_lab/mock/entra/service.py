"""The Entra mock itself: one tenant on the lab's https host, its routes and its connection section.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..base import LabContext, MockSpec
from ..errors import EXCEPTION_HANDLERS
from ..issuer_keys import IssuerKeys
from .endpoints import EntraEndpoints
from .errors import JSON_UTF8, EntraError, tenant_not_found
from .federation import ISSUER_KEYS_CACHE_SECONDS, ISSUER_KEYS_REFETCH_SECONDS, Federation
from .keys import SIGNING_KEYS, IssuerFacts
from .lab_routes import lab_routes
from .tenant import MULTI_TENANT_ALIASES, Tenant, TenantAdmin, default_tenant
from .tokens import FederatedTokenRequest, TokenMinting


class EntraMock(IssuerFacts, TenantAdmin, TokenMinting, Federation):
    """One Entra tenant on the lab's https host: discovery, keys and token minting."""

    name = "entra"

    def __init__(
        self,
        ctx: LabContext,
        tenant: Tenant | None = None,
        *,
        outbound: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self.ctx = ctx
        self.base_url = ctx.base_url(self.name)
        self.tenant = tenant or default_tenant(ctx.seed)
        self._lock = threading.RLock()
        self._rng = random.Random(f"{ctx.seed}:entra:tokens")
        self._lifetimes = random.Random(f"{ctx.seed}:entra:client-credentials")
        self._keys = [self._signing_key(name) for name in SIGNING_KEYS]
        # How Entra reaches external issuers (over https, trusting the lab CA); tests may route in-process.
        self.issuer_keys = IssuerKeys(outbound or ctx.outbound_client, ctx.clock,
                                      cache_seconds=ISSUER_KEYS_CACHE_SECONDS,
                                      refetch_seconds=ISSUER_KEYS_REFETCH_SECONDS)
        self.federated_requests: deque[FederatedTokenRequest] = deque(maxlen=256)

    # -- HTTP

    def tenant_refusal(self, segment: str) -> EntraError | None:
        """AADSTS90002 for a path segment that names no tenant here; ``common``/``organizations`` pass."""
        if segment in MULTI_TENANT_ALIASES or self.tenant.resolve_alias(segment):
            return None
        return tenant_not_found(segment, now=self.ctx.clock())

    def _metadata(self, body: dict[str, Any]) -> JSONResponse:
        headers = {"cache-control": "max-age=86400, private", "access-control-allow-origin": "*"}
        return JSONResponse(body, media_type=JSON_UTF8, headers=headers)

    def error_response(self, err: EntraError) -> JSONResponse:
        headers = {"cache-control": "no-store, no-cache", "pragma": "no-cache", "expires": "-1"}
        return JSONResponse(err.body, status_code=err.status, media_type=JSON_UTF8, headers=headers)

    async def discovery_v2(self, request: Request) -> JSONResponse:
        segment = request.path_params["tenant"]
        err = self.tenant_refusal(segment)
        if err:
            return self.error_response(err)
        return self._metadata(self.discovery(2, segment if segment in MULTI_TENANT_ALIASES else None))

    async def discovery_v1(self, request: Request) -> JSONResponse:
        segment = request.path_params["tenant"]
        err = self.tenant_refusal(segment)
        if err:
            return self.error_response(err)
        return self._metadata(self.discovery(1, segment if segment in MULTI_TENANT_ALIASES else None))

    async def keys_v2(self, request: Request) -> JSONResponse:
        err = self.tenant_refusal(request.path_params["tenant"])
        return self.error_response(err) if err else self._metadata(self.jwks(2))

    async def keys_v1(self, request: Request) -> JSONResponse:
        err = self.tenant_refusal(request.path_params["tenant"])
        return self.error_response(err) if err else self._metadata(self.jwks(1))

    def known_client(self, client_id: str) -> bool:
        """Whether a ``client_id`` names something in the tenant that can ask for tokens: an app
        registration (by app ID) or a managed identity (by client ID)."""
        wanted = client_id.strip().lower()
        with self._lock:
            apps = any(app.app_id == wanted for app in self.tenant.apps.values())
        return apps or self.tenant.identity_by_client_id(wanted) is not None

    def asgi(self) -> Starlette:

        return Starlette(
            routes=[
                *lab_routes(self),  # first: Entra's own routes take any first segment as a tenant
                Route("/{tenant}/v2.0/.well-known/openid-configuration", self.discovery_v2, methods=["GET"]),
                Route("/{tenant}/.well-known/openid-configuration", self.discovery_v1, methods=["GET"]),
                Route("/{tenant}/discovery/v2.0/keys", self.keys_v2, methods=["GET"]),
                Route("/{tenant}/discovery/keys", self.keys_v1, methods=["GET"]),
                *EntraEndpoints(self).routes(),
            ],
            exception_handlers=EXCEPTION_HANDLERS,
        )

    def connection(self) -> dict[str, Any]:
        with self._lock:
            apps = [app.summary() for app in self.tenant.apps.values()]
        return {
            "base_url": self.base_url,
            "tenant_id": self.tenant_id,
            "issuer_v2": self.issuer(2),
            "issuer_v1": self.issuer(1),
            "discovery_v2": f"{self.base_url}/{self.tenant_id}/v2.0/.well-known/openid-configuration",
            "discovery_v1": f"{self.base_url}/{self.tenant_id}/.well-known/openid-configuration",
            "jwks_uri_v2": f"{self.base_url}/{self.tenant_id}/discovery/v2.0/keys",
            "jwks_uri_v1": f"{self.base_url}/{self.tenant_id}/discovery/keys",
            "token_endpoint": f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token",
            "identities": [mi.summary() for mi in self.tenant.identities.values()],
            "apps": apps,
            "federated_credentials": {name: [f.summary() for f in fics]
                                      for name, fics in self.tenant.federated_credentials.items() if fics},
        }


SPEC = MockSpec("entra", "https", factory=EntraMock)
