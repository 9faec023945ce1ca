"""Workload side of Azure managed identity: fetch the Entra token from IMDS, as the Claude docs' Azure
guide does (``GET /metadata/identity/oauth2/token``, ``Metadata: true``, ``api-version=2018-02-01``,
``resource=<audience>``, optionally ``client_id`` / ``object_id`` / ``msi_res_id``).

The IMDS host is ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` when set (as ``azure-identity`` reads it),
else the link-local ``http://169.254.169.254``; the lab's connection file names the mock. IMDS
caches tokens itself, so :func:`imds_token_provider` simply asks again on every call.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from .. import http
from ..errors import ConfigurationError, ProviderError
from ..redact import Secret, redact

IMDS_HOST = "http://169.254.169.254"
TOKEN_PATH = "/metadata/identity/oauth2/token"
API_VERSION = "2018-02-01"
HOST_ENV = "AZURE_POD_IDENTITY_AUTHORITY_HOST"
DEFAULT_TIMEOUT = 5.0


def identity_selector(resource: str, **selectors: str | None) -> dict[str, str]:
    """The one selector (if any) naming which managed identity to use; both identity endpoints take at
    most one, and both need the resource the token is for."""
    chosen = {k: v for k, v in selectors.items() if v}
    if len(chosen) > 1:
        raise ConfigurationError("name the managed identity one way only",
                                 hint=f"pass one of {', '.join(selectors)}")
    if not resource:
        raise ConfigurationError("resource is required", hint="the audience app's identifier URI, api://<APP_ID>")
    return chosen


@dataclass(frozen=True, repr=False)
class ImdsToken:
    """IMDS's answer with its string fields parsed; the token never shows in repr."""

    access_token: Secret
    resource: str
    client_id: str
    expires_in: int
    expires_on: int
    not_before: int
    ext_expires_in: int
    token_type: str = "Bearer"

    def __post_init__(self) -> None:
        object.__setattr__(self, "access_token", Secret(self.access_token))

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ImdsToken:
        def number(name: str) -> int:
            return int(body.get(name) or 0)

        return cls(
            access_token=str(body["access_token"]),
            resource=str(body.get("resource", "")),
            client_id=str(body.get("client_id", "")),
            expires_in=number("expires_in"),
            expires_on=number("expires_on"),
            not_before=number("not_before"),
            ext_expires_in=number("ext_expires_in"),
            token_type=str(body.get("token_type", "Bearer")),
        )

    def claims(self) -> dict[str, Any]:
        """The token's claims, *unverified* (for display; verification is the relying party's job)."""
        return jwt.decode(self.access_token, options={"verify_signature": False})

    def __repr__(self) -> str:
        return (f"ImdsToken(resource={self.resource!r}, client_id={self.client_id!r}, "
                f"expires_in={self.expires_in}, access_token={redact(self.access_token, short=True)!r})")


def _hint(status: int, error: str | None, description: str, *, selected: bool) -> str:
    """What to check next for each refusal IMDS is known to send."""
    text = description or ""
    if "AADSTS500011" in text or "AADSTS50001" in text or error == "invalid_resource":
        return ("register the audience app in this tenant (identifier URI api://<APP_ID>, "
                "requestedAccessTokenVersion=2, with a service principal) and pass exactly that URI as resource")
    if "Multiple user assigned identities" in text:
        return "several user-assigned identities are attached and none is system-assigned: pass client_id=<identity>"
    if text == "Identity not found":
        if selected:
            return ("check client_id/object_id/msi_res_id: it must name an identity assigned to this VM "
                    "(az vm identity show lists them)")
        return "this VM has no managed identity: assign one (az vm identity assign) or pass client_id"
    if "metadata header" in text:
        return "send the header `Metadata: true` (it proves the request is not a redirected one)"
    if "'resource'" in text:
        return "pass resource=<identifier URI of the audience app>, e.g. api://<APP_ID>"
    if (error or "").startswith("Bad request. api-version"):
        return f"use api-version={API_VERSION} or a later one IMDS lists in newest-versions"
    if status in (404, 410, 429) or status >= 500:
        return "IMDS is updating or throttling; retry with exponential backoff (410: for up to 70 s)"
    return "the IMDS response body above"


def refusal(response: httpx.Response, *, selected: bool = False) -> ProviderError:
    """One :class:`ProviderError` from any non-200 IMDS answer."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    error = body.get("error")
    description = str(body.get("error_description") or "")
    error = str(error) if error is not None else None
    summary = description or error or response.text[:200] or response.reason_phrase
    return ProviderError(
        f"IMDS refused the token request ({response.status_code}): {summary}",
        status=response.status_code, error=error, description=description or None,
        hint=_hint(response.status_code, error, description, selected=selected),
    )


class ImdsClient:
    """Fetches managed-identity tokens for one resource (and optionally one named identity)."""

    def __init__(
        self,
        resource: str,
        *,
        base_url: str | None = None,
        client_id: str | None = None,
        object_id: str | None = None,
        msi_res_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.selector = identity_selector(resource, client_id=client_id, object_id=object_id, msi_res_id=msi_res_id)
        self.resource = resource
        self.base_url = (base_url or os.environ.get(HOST_ENV) or IMDS_HOST).strip("/")
        self.timeout = timeout
        self._transport = transport

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    def get_token(self) -> ImdsToken:
        params = {"api-version": API_VERSION, "resource": self.resource, **self.selector}
        # IMDS is link-local: never send it through a proxy (trust_env=False ignores HTTP(S)_PROXY).
        response = http.request(
            "GET", self.token_url, what="IMDS", deadline=self.timeout, trust_env=False, transport=self._transport,
            params=params, headers={"Metadata": "true"},
            hint=("IMDS only answers on an Azure VM/VMSS (169.254.169.254); App Service, Functions and "
                  "Container Apps use IDENTITY_ENDPOINT instead; in the lab, use the connection file's "
                  "imds_url (or set AZURE_POD_IDENTITY_AUTHORITY_HOST)"),
        )
        if response.status_code != 200:
            raise refusal(response, selected=bool(self.selector))
        try:
            body = response.json()
            return ImdsToken.from_body(body)
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(
                "IMDS answered 200 without a usable token", status=200,
                hint="the endpoint is not IMDS, or a proxy rewrote the answer",
            ) from exc

    def __repr__(self) -> str:
        return f"ImdsClient({self.token_url!r}, resource={self.resource!r}, selector={self.selector!r})"


def from_connection(
    section: Mapping[str, Any],
    *,
    identity: str | None = None,
    resource: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ImdsClient:
    """A client for the lab's mock IMDS from the connection file's ``imds`` section.

    ``identity`` names one of the section's identities; a user-assigned one is selected by its
    ``client_id``, the system-assigned one by sending no selector (as on a real VM).
    """
    client_id = None
    if identity is not None:
        known = {i["name"]: i for i in section.get("identities", [])}
        if identity not in known:
            raise ConfigurationError(f"no identity {identity!r} in the connection file",
                                     hint=f"one of: {', '.join(known) or 'none'}")
        if known[identity]["kind"] == "user":
            client_id = known[identity]["client_id"]
    return ImdsClient(resource or section["resource"], base_url=section["imds_url"], client_id=client_id,
                      timeout=timeout)


def imds_token_provider(client: ImdsClient) -> Callable[[], str]:
    """An ``identity_token_provider`` for the Anthropic SDK: the current Entra token from IMDS."""

    def provide() -> str:
        return client.get_token().access_token

    return provide
