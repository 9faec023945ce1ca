"""The raw RFC 7523 jwt-bearer exchange at ``POST /v1/oauth/token``, sent as the SDK sends it.

This is what the SDK does under the hood, made visible: one JSON POST, an access token back.
Failures become :class:`~wif_lab.errors.ExchangeRefused` carrying status, OAuth ``error``,
description and request id, plus one line on what to check next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from . import http
from .errors import ConfigurationError, ExchangeRefused
from .http import Verify
from .oauth import JWT_BEARER_GRANT as GRANT_TYPE
from .redact import Secret, is_redacted, redact, redact_text

EXCHANGE_BETA = "oauth-2025-04-20,oidc-federation-2026-04-01"
TOKEN_PATH = "/v1/oauth/token"
ACCESS_TOKEN_PREFIX = "sk-ant-oat01-"

_DENIAL_HINT = (
    "the authentication history for this rule (Console → Workload identity); no entry at all means the "
    "rule id was not recognised (check federation_rule_id and organization_id); otherwise the entry names "
    "the failing check: iss equal to the issuer URL byte for byte, aud, the claims the rule matches, a fresh "
    "token within the issuer's max JWT lifetime, its kid in the JWKS, a jti not already used, and "
    "workspace_id when the rule covers several workspaces"
)
_REQUEST_HINT = (
    "the field the message names: federation_rule_id (fdrl_…), organization_id (UUID), "
    "service_account_id (svac_…, required), workspace_id (wrkspc_… or 'default')"
)
# Keyed by (status, error) as the endpoint reports them. The current service answers every denial
# with 401 authentication_error and every malformed request with 400 invalid_request_error; an
# older deployment (the earlier guides) answered 400 invalid_grant / invalid_request instead.
_HINTS = {
    (401, "authentication_error"): _DENIAL_HINT,
    (400, "invalid_request_error"): _REQUEST_HINT,
    (400, "invalid_grant"): "(an older deployment's wording for a denial) " + _DENIAL_HINT,
    (400, "invalid_request"): _REQUEST_HINT,
    (400, "unsupported_grant_type"): f"grant_type must be {GRANT_TYPE}",
}


@dataclass(frozen=True)
class ExchangeResult:
    """A successful exchange; the access token never appears in repr or str."""

    access_token: Secret = field(repr=False)
    token_type: str
    expires_in: int
    scope: str | None
    request_id: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "access_token", Secret(self.access_token))

    def __repr__(self) -> str:
        return (
            f"ExchangeResult(access_token={redact(self.access_token)!r}, token_type={self.token_type!r}, "
            f"expires_in={self.expires_in}, scope={self.scope!r})"
        )

    __str__ = __repr__

    @property
    def looks_valid(self) -> bool:
        """The documented shape: an ``sk-ant-oat01-`` bearer token with a positive lifetime."""
        return (
            self.access_token.startswith(ACCESS_TOKEN_PREFIX)
            and self.token_type.lower() == "bearer"
            and self.expires_in > 0
        )


def exchange_request(
    assertion: str,
    *,
    federation_rule_id: str,
    organization_id: str,
    service_account_id: str | None = None,
    workspace_id: str | None = None,
) -> dict[str, Any]:
    """The JSON body, keys in the SDK's order; optional fields only when set (as the SDK does)."""
    body: dict[str, Any] = {
        "grant_type": GRANT_TYPE,
        "assertion": assertion,
        "federation_rule_id": federation_rule_id,
        "organization_id": organization_id,
    }
    if service_account_id:
        body["service_account_id"] = service_account_id
    if workspace_id:
        body["workspace_id"] = workspace_id
    return body


def exchange(
    assertion: str,
    *,
    base_url: str,
    federation_rule_id: str,
    organization_id: str,
    service_account_id: str | None = None,
    workspace_id: str | None = None,
    verify: Verify = True,
    timeout: float = 30.0,
) -> ExchangeResult:
    """Exchange an identity token for a Claude API access token (one POST, no caching).

    ``timeout`` is the overall deadline for the whole request, answer included.
    """
    if is_redacted(assertion):
        raise ConfigurationError(
            "the assertion is the redacted form of a token (what str() or an f-string shows in a notebook)",
            hint="pass the token variable itself (e.g. okta_token.access_token), or token.reveal() for the raw string",
        )
    url = base_url.rstrip("/") + TOKEN_PATH
    body = exchange_request(
        assertion.strip(),
        federation_rule_id=federation_rule_id,
        organization_id=organization_id,
        service_account_id=service_account_id,
        workspace_id=workspace_id,
    )
    headers = {"anthropic-beta": EXCHANGE_BETA, "content-type": "application/json"}
    response = http.request("POST", url, what="the token endpoint", verify=verify, deadline=timeout, json=body,
                            headers=headers, hint="base_url (the Claude API, e.g. https://api.anthropic.com), that "
                            "it is reachable from here, and the CA bundle used for TLS")
    rid = response.headers.get("request-id")
    if response.status_code in (404, 405):
        raise _not_a_token_endpoint(url, response, rid)
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400:
        raise _refused(response.status_code, data, rid, response.text)
    if not isinstance(data, dict) or "access_token" not in data or "expires_in" not in data:
        raise ExchangeRefused(
            f"token endpoint answered {response.status_code} without an access token",
            status=response.status_code, error=None, description=redact(response.text[:200]), request_id=rid,
            hint="that base_url points at the Claude API (not the identity provider)",
        )
    return ExchangeResult(
        access_token=str(data["access_token"]),
        token_type=str(data.get("token_type", "Bearer")),
        expires_in=int(data["expires_in"]),
        scope=data.get("scope"),
        request_id=rid,
    )


def _not_a_token_endpoint(url: str, response: httpx.Response, rid: str | None) -> ExchangeRefused:
    """A 404/405 means nothing answers the exchange at this URL: show the body as it is (an error page is no
    secret; anything in it that looks like a token is still redacted) and point at base_url."""
    text = " ".join(response.text.split())[:300]
    return ExchangeRefused(
        f"{url} answered HTTP {response.status_code}: {redact_text(text) or response.reason_phrase}",
        status=response.status_code, error=None, description=redact_text(text) or None, request_id=rid,
        hint="base_url: it must be the Claude API (https://api.anthropic.com, or the lab's anthropic.base_url), "
        "without a path such as /v1",
    )


def _refused(status: int, data: Any, rid: str | None, text: str) -> ExchangeRefused:
    error: str | None = None
    description: str | None = None
    if isinstance(data, dict):
        if isinstance(data.get("error"), str):
            error, description = data["error"], data.get("error_description")
        elif isinstance(data.get("error"), dict):  # Anthropic API error shape
            error, description = data["error"].get("type"), data["error"].get("message")
    hint = _HINTS.get((status, error or ""), "the authentication history, then the exchange parameters")
    shown = f"{error}: {description}" if error else redact(text[:200])
    return ExchangeRefused(
        f"token exchange refused (HTTP {status}) {shown} [request_id={rid}]",
        status=status, error=error, description=description, request_id=rid, hint=hint,
    )
