"""``POST /oauth2/{authorizationServerId}/v1/token`` and ``POST /oauth2/v1/token`` for client_credentials.

Follows Okta's OpenID Connect & OAuth 2.0 API reference (``/token``), "Implement authorization by
grant type → Client Credentials", and the access-token reference: the request is authenticated,
the grant type checked against the app, DPoP enforced when the app requires it, scopes checked
against the authorization server, and access policies evaluated in order (the first rule that
matches the grant type and *all* requested scopes wins). The access token is an RS256 JWT with
claims ``ver, jti, iss, aud, iat, exp, cid, scp, sub`` (no ``uid`` without a user) plus the
server's custom claims.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..inbound import Rejected, form_pairs
from . import errors as E
from .client_auth import Authenticated, authenticate
from .console import KNOWN_GRANT_TYPES, OIDC_SCOPES, AuthorizationServer, ServiceApp

if TYPE_CHECKING:
    from .service import OktaMock

_OKTA_API_SCOPE = re.compile(r"^okta\.[A-Za-z]+\.(read|manage)\Z")


@dataclass
class Grant:
    """What the authorization server decided to put in the token."""

    scopes: list[str]
    lifetime: int
    audience: str
    extra_claims: dict[str, Any] = field(default_factory=dict)


async def read_form(request: Request) -> dict[str, str]:
    """The form body as a dict; Okta refuses a parameter given twice, and a body that is not UTF-8."""
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return {}
    try:
        pairs = await form_pairs(request)
    except Rejected:
        raise E.malformed_request() from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise E.duplicate_parameters()
        form[name] = value
    return form


def check_grant_type(app: ServiceApp, form: dict[str, str]) -> str:
    grant_type = form.get("grant_type")
    if not grant_type:
        raise E.missing_grant_type(app.grant_types)
    if grant_type not in KNOWN_GRANT_TYPES:
        raise E.unsupported_grant_type(app.grant_types)
    if grant_type not in app.grant_types:
        raise E.unauthorized_client(app.grant_types)
    return grant_type


def requested_scopes(form: dict[str, str]) -> list[str]:
    return list(dict.fromkeys(form.get("scope", "").split()))


def custom_server_grant(server: AuthorizationServer, app: ServiceApp, grant_type: str, requested: list[str]) -> Grant:
    if not requested:
        requested = [s.name for s in server.scopes.values() if s.default]
        if not requested:
            raise E.no_default_scopes()
    if any(s in OIDC_SCOPES for s in requested):
        raise E.openid_with_client_credentials()
    if any(s not in server.scopes for s in requested):
        raise E.scope_not_configured()
    needs_consent = [s for s in requested if server.scopes[s].consent == "REQUIRED"]
    if needs_consent:
        raise E.consent_required(needs_consent)
    for policy in server.policies:
        if not policy.applies_to(app.client_id):
            continue
        for rule in policy.rules:
            if rule.matches(grant_type, requested):
                claims = {}
                for claim in server.claims.values():
                    if claim.scopes is None or set(claim.scopes) & set(requested):
                        value = claim.evaluate(app)
                        if value is not None:
                            claims[claim.name] = value
                return Grant(requested, rule.access_token_lifetime_minutes * 60, server.audience, claims)
    raise E.no_matching_policy()


def org_server_grant(org_url: str, auth: Authenticated, requested: list[str]) -> Grant:
    """The org authorization server issues client_credentials tokens only for Okta API scopes."""
    if auth.method != "private_key_jwt":
        raise E.org_server_needs_private_key_jwt()
    if not requested:
        raise E.no_default_scopes()
    if any(s in OIDC_SCOPES for s in requested):
        raise E.openid_with_client_credentials()
    if any(not _OKTA_API_SCOPE.match(s) for s in requested):
        raise E.scope_not_configured()
    if not set(requested) <= auth.app.okta_api_scopes:
        raise E.no_org_scopes_granted()
    return Grant(requested, 3600, org_url)


def mint(
    *, issuer: str, key: Any, kid: str, app: ServiceApp, grant: Grant, now: int, jkt: str | None
) -> tuple[str, dict[str, Any]]:
    """Sign an access token with Okta's claim order and header (``kid`` + ``alg``, no ``typ``)."""
    claims: dict[str, Any] = {
        "ver": 1,
        "jti": "AT." + secrets.token_urlsafe(32),
        "iss": issuer,
        "aud": grant.audience,
        "iat": now,
        "exp": now + grant.lifetime,
        "cid": app.client_id,
        "scp": grant.scopes,
        "sub": app.client_id,
    }
    if jkt:
        claims["cnf"] = {"jkt": jkt}
    claims.update(grant.extra_claims)
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": None}, sort_headers=False)
    return token, claims


async def token_endpoint(org: OktaMock, server: AuthorizationServer | None, request: Request) -> Response:
    """The whole client_credentials exchange for a custom server, or the org server when None."""
    token_url = server.token_endpoint if server else org.org_server.token_endpoint
    now = org.ctx.clock()
    try:
        form = await read_form(request)
        auth = authenticate(
            org.apps, request.headers, form, request.query_params,
            token_endpoint=token_url, now=now, ledger=org.assertion_ledger,
        )
        grant_type = check_grant_type(auth.app, form)
        jkt = None
        if auth.app.require_dpop:
            jkt = org.dpop.verify(request.headers.getlist("dpop"), htu=token_url)
        requested = requested_scopes(form)
        if server is not None:
            grant = custom_server_grant(server, auth.app, grant_type, requested)
            key, kid, issuer = server.signing_key, server.kid, server.issuer
        else:
            grant = org_server_grant(org.org_url, auth, requested)
            key, kid, issuer = org.org_server.signing_key, org.org_server.kid, org.org_url
    except E.OAuthError as err:
        org.record(request, token_url, err.status, err.error)
        return err.response()
    token, _claims = mint(issuer=issuer, key=key, kid=kid, app=auth.app, grant=grant, now=int(now), jkt=jkt)
    org.record(request, token_url, 200, None, client_id=auth.app.client_id)
    return JSONResponse(
        {
            "token_type": "DPoP" if jkt else "Bearer",
            "expires_in": grant.lifetime,
            "access_token": token,
            "scope": " ".join(grant.scopes),
        },
        headers=E.NO_STORE,
    )
