"""Workload side of managed identity on App Service, Azure Functions and Container Apps: fetch the Entra
token from the platform's identity endpoint, as the Claude docs' Azure guide lists it for those services
(``GET $IDENTITY_ENDPOINT?api-version=2019-08-01&resource=<audience>``, header
``X-IDENTITY-HEADER: $IDENTITY_HEADER``, optionally ``client_id`` / ``object_id`` / ``mi_res_id``).

IMDS is not reachable there. The platform sets both variables in the app's environment; the header
value is a secret it rotates, so it is read from the environment at runtime and never shown. The
endpoint caches tokens itself, so :func:`identity_endpoint_token_provider` simply asks again on every
call. The parallel of :mod:`.azure_imds` for VMs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from .. import http
from ..errors import ConfigurationError, ProviderError
from ..redact import Secret, redact
from .azure_imds import identity_selector

ENDPOINT_ENV = "IDENTITY_ENDPOINT"
HEADER_ENV = "IDENTITY_HEADER"
HEADER = "X-IDENTITY-HEADER"
API_VERSION = "2019-08-01"
DEFAULT_TIMEOUT = 5.0
NO_IDENTITY = "Unable to load the proper Managed Identity."


@dataclass(frozen=True, repr=False)
class IdentityEndpointToken:
    """The endpoint's answer with ``expires_on`` parsed; the token never shows in repr. There is no
    ``expires_in`` on the wire: :meth:`expires_in` counts down from ``expires_on``."""

    access_token: Secret
    resource: str
    client_id: str
    expires_on: int
    token_type: str = "Bearer"

    def __post_init__(self) -> None:
        object.__setattr__(self, "access_token", Secret(self.access_token))

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> IdentityEndpointToken:
        return cls(access_token=str(body["access_token"]), resource=str(body.get("resource", "")),
                   client_id=str(body.get("client_id", "")), expires_on=int(body["expires_on"]),
                   token_type=str(body.get("token_type", "Bearer")))

    def expires_in(self, now: float | None = None) -> int:
        return self.expires_on - int(time.time() if now is None else now)

    def claims(self) -> dict[str, Any]:
        """The token's claims, *unverified* (for display; verification is the relying party's job)."""
        return jwt.decode(self.access_token, options={"verify_signature": False})

    def __repr__(self) -> str:
        return (f"IdentityEndpointToken(resource={self.resource!r}, client_id={self.client_id!r}, "
                f"expires_on={self.expires_on}, access_token={redact(self.access_token, short=True)!r})")


def _hint(status: int, code: str | None, message: str, *, selected: bool) -> str:
    """What to check next for each refusal the endpoint is known to send."""
    if status == 401:
        return (f"send {HEADER} with the value the platform put in {HEADER_ENV} for this app; it rotates, so read "
                "it from the environment at runtime and never copy it into configuration")
    if message == NO_IDENTITY:
        if selected:
            return ("check client_id/object_id/mi_res_id: it must name an identity assigned to this app "
                    "(az webapp identity show / az containerapp identity show list them)")
        return ("this app has no system-assigned identity: pass the client_id of a user-assigned one "
                "(AZURE_CLIENT_ID), or turn the system-assigned identity on")
    if code and code.startswith(("UnsupportedApiVersion", "ApiVersion")):
        return f"use api-version={API_VERSION}"
    if "'resource'" in message:
        return "pass resource=<identifier URI of the audience app>, e.g. api://<APP_ID>"
    if status >= 500:
        return ("Entra refused the token: most often the resource is not registered in this tenant (identifier URI "
                "api://<APP_ID> with a service principal); otherwise retry with backoff")
    return "the identity endpoint's response body above"


def refusal(response: httpx.Response, *, selected: bool = False) -> ProviderError:
    """One :class:`ProviderError` from any non-200 answer: ``{"statusCode", "message", "correlationId"}``,
    or the API-versioning layer's ``{"error": {"code", "message"}}``."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    nested = body.get("error") if isinstance(body.get("error"), dict) else None
    code = str(nested.get("code")) if nested else None
    message = str((nested or body).get("message") or "")
    summary = message or response.text[:200] or response.reason_phrase
    return ProviderError(
        f"the identity endpoint refused the token request ({response.status_code}): {summary}",
        status=response.status_code, error=code, description=message or None,
        hint=_hint(response.status_code, code, message, selected=selected),
    )


class AppServiceIdentityClient:
    """Fetches managed-identity tokens for one resource from ``IDENTITY_ENDPOINT`` (and optionally one named
    identity); ``endpoint`` and ``header`` default to the variables the platform sets."""

    def __init__(
        self,
        resource: str,
        *,
        endpoint: str | None = None,
        header: str | None = None,
        client_id: str | None = None,
        object_id: str | None = None,
        mi_res_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.selector = identity_selector(resource, client_id=client_id, object_id=object_id, mi_res_id=mi_res_id)
        endpoint = endpoint or os.environ.get(ENDPOINT_ENV)
        header = header or os.environ.get(HEADER_ENV)
        if not endpoint or not header:
            missing = " and ".join(n for n, v in ((ENDPOINT_ENV, endpoint), (HEADER_ENV, header)) if not v)
            raise ConfigurationError(
                f"{missing} not set: this is not an App Service, Functions or Container Apps app with a managed "
                "identity",
                hint=("turn the app's managed identity on (the platform then sets both variables); on a VM use IMDS "
                      "instead; in the lab, use the connection file's app_service section"))
        self.resource = resource
        self.endpoint = endpoint
        self._header = Secret(header)
        self.timeout = timeout
        self._transport = transport

    def get_token(self) -> IdentityEndpointToken:
        params = {"api-version": API_VERSION, "resource": self.resource, **self.selector}
        # The endpoint is on the host's loopback: never send it (or its header) through a proxy.
        response = http.request(
            "GET", self.endpoint, what="the managed identity endpoint", deadline=self.timeout, trust_env=False,
            transport=self._transport, params=params, headers={HEADER: self._header.reveal()},
            hint=(f"{ENDPOINT_ENV} is only reachable inside the app (App Service, Functions, Container Apps); "
                  "in the lab, use the connection file's app_service section"),
        )
        if response.status_code != 200:
            raise refusal(response, selected=bool(self.selector))
        try:
            return IdentityEndpointToken.from_body(response.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(
                "the identity endpoint answered 200 without a usable token", status=200,
                hint="the endpoint is not the platform's identity endpoint, or a proxy rewrote the answer",
            ) from exc

    def __repr__(self) -> str:
        return (f"AppServiceIdentityClient({self.endpoint!r}, resource={self.resource!r}, "
                f"selector={self.selector!r}, header={redact(self._header.reveal())!r})")


def from_connection(
    section: Mapping[str, Any],
    *,
    identity: str | None = None,
    resource: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> AppServiceIdentityClient:
    """A client for the lab's identity endpoint from the connection file's ``app_service`` section;
    ``identity`` names one of the section's identities (selected by its ``client_id``)."""
    client_id = None
    if identity is not None:
        known = {i["name"]: i for i in section.get("identities", [])}
        if identity not in known:
            raise ConfigurationError(f"no identity {identity!r} on the lab's app",
                                     hint=f"one of: {', '.join(known) or 'none'}")
        if known[identity]["kind"] == "user":
            client_id = known[identity]["client_id"]
    return AppServiceIdentityClient(resource or section["resource"], endpoint=section["identity_endpoint"],
                                    header=section["identity_header"], client_id=client_id, timeout=timeout)


def identity_endpoint_token_provider(client: AppServiceIdentityClient) -> Callable[[], str]:
    """An ``identity_token_provider`` for the Anthropic SDK: the current Entra token from the endpoint."""

    def provide() -> str:
        return client.get_token().access_token

    return provide
