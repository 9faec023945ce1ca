"""``POST /v1/oauth/token``: the RFC 7523 jwt-bearer exchange, as the wif-reference documents it.

What the caller sees is deliberately opaque, like the real endpoint: a malformed request is a 400
``invalid_request``; every refused assertion is the same 400 ``invalid_grant`` (unknown, archived
and unauthorized rules merged so nobody can enumerate rules); a replayed ``jti`` is the 401
``authentication_error`` seen in practice. The precise reason goes only to the authentication
events log (the Console's Workload identity → history page), which the lab can list.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ...jose import MAX_NUMERIC_DATE, MalformedJWT, numeric_date, parse_compact
from ...rules import WorkspaceContext, evaluate
from .http import api_error, json_body, oauth_error, ok, request_id
from .jwks import JwksUnavailable
from .store import AuthEvent, Grant

if TYPE_CHECKING:
    from .service import AnthropicMock

GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
CLOCK_SKEW = 30
MAX_ASSERTION_BYTES = 16 * 1024
OPAQUE_GRANT = "The assertion was rejected. See the authentication events for this organization."

_RULE_ID = re.compile(r"^fdrl_[A-Za-z0-9]{1,64}$")
_SA_ID = re.compile(r"^svac_[A-Za-z0-9]{1,64}$")
_WS_ID = re.compile(r"^wrkspc_[A-Za-z0-9]{1,64}$")


class Refusal(Exception):
    """Why an exchange failed: the event reason and detail, and what the caller is told."""

    def __init__(self, reason: str, detail: str, *, status: int = 400, error: str = "invalid_grant",
                 description: str = OPAQUE_GRANT) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.status = status
        self.error = error
        self.description = description


@dataclass
class Attempt:
    """What is known about an exchange so far; becomes the authentication event."""

    issuer_id: str | None = None
    rule_id: str | None = None
    service_account_id: str | None = None
    workspace_id: str | None = None
    claims: dict[str, Any] | None = None
    verdicts: list[dict[str, Any]] = field(default_factory=list)


def _uuid_ok(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _parse_request(body: dict[str, Any]) -> dict[str, Any]:
    grant_type = body.get("grant_type")
    if grant_type is None:
        raise Refusal("invalid_request", "grant_type missing", error="invalid_request",
                      description="grant_type: field required")
    if grant_type != GRANT_JWT_BEARER:
        raise Refusal("unsupported_grant_type", f"grant_type {grant_type!r}", error="unsupported_grant_type",
                      description=f"grant_type must be {GRANT_JWT_BEARER}")
    for name in ("assertion", "federation_rule_id", "organization_id"):
        if name not in body or body[name] in (None, ""):
            raise Refusal("invalid_request", f"{name} missing", error="invalid_request",
                          description=f"{name}: field required")
        if not isinstance(body[name], str):
            raise Refusal("invalid_request", f"{name} not a string", error="invalid_request",
                          description=f"{name}: must be a string")
    for name in ("service_account_id", "workspace_id"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise Refusal("invalid_request", f"{name} not a string", error="invalid_request",
                          description=f"{name}: must be a string")
    if not _RULE_ID.match(body["federation_rule_id"]):
        raise Refusal("invalid_request", "malformed federation_rule_id", error="invalid_request",
                      description="federation_rule_id: must be a federation rule ID (fdrl_...)")
    if not _uuid_ok(body["organization_id"]):
        raise Refusal("invalid_request", "malformed organization_id", error="invalid_request",
                      description="organization_id: must be a UUID")
    sa = body.get("service_account_id")
    if sa and not _SA_ID.match(sa):
        raise Refusal("invalid_request", "malformed service_account_id", error="invalid_request",
                      description="service_account_id: must be a service account ID (svac_...)")
    ws = body.get("workspace_id")
    if ws and ws != "default" and not _WS_ID.match(ws):
        raise Refusal("invalid_request", "malformed workspace_id", error="invalid_request",
                      description="workspace_id: must be a workspace ID (wrkspc_...) or 'default'")
    if len(body["assertion"].encode()) > MAX_ASSERTION_BYTES:
        raise Refusal("invalid_request", "assertion larger than 16 KiB", error="invalid_request",
                      description="assertion: must be at most 16384 bytes")
    unknown = set(body) - {"grant_type", "assertion", "federation_rule_id", "organization_id",
                           "service_account_id", "workspace_id"}
    if unknown:
        raise Refusal("invalid_request", f"unknown fields {sorted(unknown)}", error="invalid_request",
                      description=f"{sorted(unknown)[0]}: extra inputs are not permitted")
    return body


class Exchange:
    """One exchange: each step either fills in the attempt or raises a Refusal."""

    def __init__(self, mock: AnthropicMock, body: dict[str, Any], attempt: Attempt) -> None:
        self.mock = mock
        self.store = mock.store
        self.body = body
        self.attempt = attempt

    async def run(self) -> dict[str, Any]:
        body = self.body
        if body["organization_id"] != self.store.organization_id:
            raise Refusal("organization_mismatch", "organization_id does not name this organization")
        header, unverified = self._header(body["assertion"])
        rule, issuer = self._rule_and_issuer(body["federation_rule_id"])
        self.attempt.claims = unverified  # shown in the event as "claims presented", verified or not
        if unverified.get("iss") != issuer["issuer_url"]:
            raise Refusal("issuer_mismatch",
                          f"token iss {unverified.get('iss')!r} != issuer_url {issuer['issuer_url']!r}")
        claims = await self._verify(body["assertion"], header, issuer)
        self.attempt.claims = claims
        self._check_times(claims, issuer)
        sa = self._service_account(rule, body.get("service_account_id"))
        # A CEL condition runs in a worker process with a deadline; wait for it off the event loop.
        evaluation = await asyncio.to_thread(
            evaluate, issuer, rule, claims,
            default_audience=self.mock.default_audience,
            requested_workspace=body.get("workspace_id"),
            workspaces=WorkspaceContext(
                default_workspace_id=self.store.default_workspace_id,
                known_workspace_ids=frozenset(self.store.workspaces),
                member_workspace_ids=frozenset(self.store.sa_workspaces.get(sa["id"], {})),
            ),
        )
        self.attempt.verdicts = [
            {"matcher": v.matcher, "passed": v.passed, "code": v.code, "reason": v.reason}
            for v in evaluation.verdicts
        ]
        self.attempt.workspace_id = evaluation.workspace_id
        failure = evaluation.first_failure()
        if failure is not None:
            if failure.code == "workspace_required":
                raise Refusal("workspace_required", failure.reason, error="invalid_request",
                              description="workspace_id_required: the federation rule is enabled for more "
                                          "than one workspace; pass workspace_id")
            raise Refusal(failure.code, failure.reason)
        scope = rule["oauth_scope"]
        if "org:admin" in scope.split() and sa.get("organization_role") != "admin":
            raise Refusal("scope_not_allowed", "org:admin rule targets a service account without the admin role")
        jti = claims.get("jti")
        replay_checked = issuer.get("check_jti", True) and isinstance(jti, str)
        if replay_checked and not self.store.use_jti(issuer["id"], str(jti), float(claims["exp"]) + CLOCK_SKEW):
            raise Refusal("jti_reused", f"jti {jti!r} was already presented", status=401,
                              error="authentication_error", description="Authentication failed")
        now = self.store.now()
        remaining = max(0, int(claims["exp"] - now))
        lifetime = max(60, min(int(rule.get("token_lifetime_seconds", 3600)), 2 * remaining))
        token = self.store.mint_grant(
            Grant(sa["id"], evaluation.workspace_id, scope, expires_at=now + lifetime, rule_id=rule["id"])
        )
        return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": scope}

    def _header(self, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            parsed = parse_compact(assertion)
        except MalformedJWT as exc:
            raise Refusal("malformed_assertion", f"assertion is not a decodable JWT: {exc.reason}") from exc
        header = parsed.header
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise Refusal("unsupported_algorithm", f"alg {alg!r} is not an accepted asymmetric algorithm")
        if not isinstance(header.get("kid"), str) or not header["kid"]:
            raise Refusal("missing_kid", "the JWT header has no kid")
        return header, parsed.claims

    def _rule_and_issuer(self, rule_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        rule = self.store.rules.get(rule_id)
        self.attempt.rule_id = rule_id
        if rule is None:
            raise Refusal("rule_not_found", f"no federation rule {rule_id}")
        if rule.get("archived_at"):
            raise Refusal("rule_archived", f"federation rule {rule_id} is archived")
        issuer = self.store.issuers.get(rule["issuer_id"])
        self.attempt.issuer_id = rule["issuer_id"]
        if issuer is None or issuer.get("archived_at"):
            raise Refusal("issuer_archived", f"federation issuer {rule['issuer_id']} is archived")
        return rule, issuer

    async def _verify(self, assertion: str, header: dict[str, Any], issuer: dict[str, Any]) -> dict[str, Any]:
        try:
            jwk = await self.mock.jwks.key_for(issuer, header["kid"])
        except JwksUnavailable as exc:
            raise Refusal("jwks_fetch_failed", exc.detail) from exc
        if jwk is None:
            raise Refusal("key_not_found", f"kid {header['kid']!r} is not in the issuer's JWKS")
        try:
            key = jwt.PyJWK(jwk, algorithm=header["alg"]).key
            return jwt.decode(
                assertion, key, algorithms=[header["alg"]],
                options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                         "verify_iss": False},
            )
        except jwt.InvalidSignatureError as exc:
            raise Refusal("signature_invalid", "signature does not verify with the issuer's key") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Refusal("signature_invalid", f"cannot verify with the published key: {exc}") from exc

    def _check_times(self, claims: dict[str, Any], issuer: dict[str, Any]) -> None:
        now = self.store.now()
        for name in ("exp", "iat"):
            if name not in claims:
                raise Refusal(f"{name}_missing", f"the assertion has no {name} claim")
            if numeric_date(claims[name]) is None:
                raise Refusal(f"{name}_invalid", f"{name} is not a NumericDate (seconds from 0 to {MAX_NUMERIC_DATE})")
        if claims["exp"] < now - CLOCK_SKEW:
            raise Refusal("token_expired", f"exp is {int(now - claims['exp'])} s in the past")
        if claims["iat"] > now + CLOCK_SKEW:
            raise Refusal("iat_in_future", f"iat is {int(claims['iat'] - now)} s in the future")
        nbf = claims.get("nbf")
        if nbf is not None:
            if numeric_date(nbf) is None:
                raise Refusal("nbf_invalid", f"nbf is not a NumericDate (seconds from 0 to {MAX_NUMERIC_DATE})")
            if nbf > now + CLOCK_SKEW:
                raise Refusal("token_not_yet_valid", f"nbf is {int(nbf - now)} s in the future")
        limit = int(issuer.get("max_jwt_lifetime_seconds", 3600))
        if claims["exp"] - claims["iat"] > limit:
            raise Refusal("lifetime_exceeded",
                          f"exp - iat = {int(claims['exp'] - claims['iat'])} s exceeds the issuer's "
                          f"max_jwt_lifetime_seconds {limit}")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Refusal("sub_missing", "the assertion has no sub claim")

    def _service_account(self, rule: dict[str, Any], requested: str | None) -> dict[str, Any]:
        target = (rule.get("target") or {}).get("service_account_id")
        self.attempt.service_account_id = requested or target
        if requested and requested != target:
            raise Refusal("service_account_mismatch",
                          f"service_account_id {requested} is not the rule's target {target}")
        sa = self.store.service_accounts.get(target or "")
        if sa is None or sa.get("archived_at"):
            raise Refusal("service_account_archived", f"target service account {target} is archived or missing")
        return sa


async def oauth_token(request: Request) -> JSONResponse:
    mock: AnthropicMock = request.app.state.mock
    store = mock.store
    rid = request_id(request)
    attempt = Attempt()
    try:
        body, problem = await json_body(request)
        if body is None:
            raise Refusal("invalid_request", problem or "bad body", error="invalid_request",
                          description=problem or "request body must be a JSON object")
        body = _parse_request(body)
        attempt.service_account_id = body.get("service_account_id")
        result = await Exchange(mock, body, attempt).run()
    except Refusal as refusal:
        store.record(AuthEvent(
            id=store.ids.request_id().replace("req_", "activity_"), created_at=store.now(), request_id=rid,
            outcome="denied", reason=refusal.reason, detail=refusal.detail, http_status=refusal.status,
            issuer_id=attempt.issuer_id, federation_rule_id=attempt.rule_id,
            requested_service_account_id=attempt.service_account_id, workspace_id=attempt.workspace_id,
            claims=attempt.claims, jti=(attempt.claims or {}).get("jti"), verdicts=attempt.verdicts,
        ))
        if refusal.status == 401:
            return api_error(request, 401, refusal.error, refusal.description)
        return oauth_error(request, refusal.status, refusal.error, refusal.description)
    store.record(AuthEvent(
        id=store.ids.request_id().replace("req_", "activity_"), created_at=store.now(), request_id=rid,
        outcome="success", reason=None, detail=None,
        http_status=200, issuer_id=attempt.issuer_id, federation_rule_id=attempt.rule_id,
        requested_service_account_id=attempt.service_account_id, workspace_id=attempt.workspace_id,
        claims=attempt.claims, jti=(attempt.claims or {}).get("jti"), verdicts=attempt.verdicts,
    ))
    response = ok(request, result)
    response.headers["cache-control"] = "no-store"
    return response


def token_routes(mock: AnthropicMock) -> list[Route]:
    return [Route("/v1/oauth/token", oauth_token, methods=["POST"])]
