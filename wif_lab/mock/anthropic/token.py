"""``POST /v1/oauth/token``: the RFC 7523 jwt-bearer exchange, as the current wif-reference documents it.

What the caller sees is deliberately opaque, like the real endpoint:

- a request that is malformed on its face (missing or wrongly typed field, a ``federation_rule_id``
  that is not ``fdrl_…``, a ``workspace_id`` that is neither ``wrkspc_…`` nor ``default``) is a 400
  ``invalid_request_error`` whose message names the problem, and leaves no authentication event;
- every refused assertion — wrong ``iss``, unknown ``kid``, expired, claims failing the rule, unknown,
  archived or unauthorized rule, reused ``jti``, ``workspace_id_required`` — is the same 401
  ``authentication_error`` with the message ``Authentication failed``.

The precise reason goes only to the authentication history (the Console's Workload identity →
history page), which the lab can list. A rule id nobody recognises leaves no event at all, which is
how the real history tells "unknown rule" apart from "known rule, token refused".

The earlier revision of the guides answered refusals with ``400 invalid_grant``; notebooks explain
that wording where they quote it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ...jose import MAX_NUMERIC_DATE, Compact, MalformedJWT, numeric_date, parse_compact, verified_claims
from ...oauth import ASYMMETRIC_ALGORITHMS, JWT_BEARER_GRANT
from ...rules import WorkspaceContext, evaluate, runs_condition
from ..issuer_keys import KeySource, KeysUnavailable
from ..jwk_keys import key_from_jwk
from .http import api_error, json_body, ok, request_id
from .store import AuthEvent, Grant

if TYPE_CHECKING:
    from .service import AnthropicMock

CLOCK_SKEW = 30
MAX_ASSERTION_BYTES = 16 * 1024
AUTHENTICATION_FAILED = "Authentication failed"

# Matched with fullmatch: "$" would also accept a trailing newline.
_RULE_ID = re.compile(r"fdrl_[A-Za-z0-9]{1,64}")
_SA_ID = re.compile(r"svac_[A-Za-z0-9]{1,64}")
_WS_ID = re.compile(r"wrkspc_[A-Za-z0-9]{1,64}")
_FIELDS = ("grant_type", "assertion", "federation_rule_id", "organization_id", "service_account_id", "workspace_id")
_REQUIRED = ("grant_type", "assertion", "federation_rule_id", "organization_id", "service_account_id")


class Refusal(Exception):
    """A denied assertion: always 401 ``Authentication failed``; the reason goes to the history.

    ``recorded=False`` for denials the organization's history cannot see (a rule id nobody knows,
    another organization's id): the real service has no rule to file them under.
    """

    def __init__(self, reason: str, detail: str, *, recorded: bool = True) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.recorded = recorded


class BadRequest(Exception):
    """A malformed request: 400 ``invalid_request_error`` naming the problem; never recorded."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise BadRequest(f"{unknown[0]}: Extra inputs are not permitted")
    for name in _REQUIRED:
        if body.get(name) in (None, ""):
            raise BadRequest(f"{name}: Field required")
    for name in _FIELDS:
        if name in body and body[name] is not None and not isinstance(body[name], str):
            raise BadRequest(f"{name}: Input should be a valid string")
    if body["grant_type"] != JWT_BEARER_GRANT:
        raise BadRequest(f"grant_type: Input should be '{JWT_BEARER_GRANT}'")
    if not _RULE_ID.fullmatch(body["federation_rule_id"]):
        raise BadRequest("federation_rule_id: Invalid federation rule ID (expected fdrl_...)")
    if not _uuid_ok(body["organization_id"]):
        raise BadRequest("organization_id: Input should be a valid UUID")
    if not _SA_ID.fullmatch(body["service_account_id"]):
        raise BadRequest("service_account_id: Invalid service account ID (expected svac_...)")
    ws = body.get("workspace_id")
    if ws is not None and ws != "default" and not _WS_ID.fullmatch(ws):  # "" is neither: malformed, not absent
        raise BadRequest("workspace_id: Invalid workspace ID (expected wrkspc_... or 'default')")
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
            raise Refusal("organization_mismatch", "organization_id does not name this organization",
                          recorded=False)
        rule, issuer = self._rule_and_issuer(body["federation_rule_id"])
        parsed = self._header(body["assertion"])
        unverified = parsed.claims
        self.attempt.claims = unverified  # shown in the event as "claims presented", verified or not
        if unverified.get("iss") != issuer["issuer_url"]:
            raise Refusal("issuer_mismatch",
                          f"token iss {unverified.get('iss')!r} != issuer_url {issuer['issuer_url']!r}")
        claims = await self._verify(parsed, issuer)
        self.attempt.claims = claims
        self._check_times(claims, issuer)
        sa = self._service_account(rule, body.get("service_account_id"))
        judge = functools.partial(
            evaluate, issuer, rule, claims,
            default_audience=self.mock.default_audience,
            requested_workspace=body.get("workspace_id"),
            workspaces=WorkspaceContext(
                default_workspace_id=self.store.default_workspace_id,
                known_workspace_ids=frozenset(self.store.workspaces),
                member_workspace_ids=frozenset(self.store.sa_workspaces.get(sa["id"], {})),
            ),
        )
        # A CEL condition runs in a worker process with a deadline: wait for it off the event loop. Without
        # one, evaluation takes microseconds, less than handing it to a thread would.
        evaluation = await asyncio.to_thread(judge) if runs_condition(rule) else judge()
        self.attempt.verdicts = [
            {"matcher": v.matcher, "passed": v.passed, "code": v.code, "reason": v.reason}
            for v in evaluation.verdicts
        ]
        self.attempt.workspace_id = evaluation.workspace_id
        failure = evaluation.first_failure()
        if failure is not None:
            raise Refusal(failure.code, failure.reason)
        scope = rule["oauth_scope"]
        if "org:admin" in scope.split() and sa.get("organization_role") != "admin":
            raise Refusal("scope_not_allowed", "org:admin rule targets a service account without the admin role")
        jti = claims.get("jti")
        replay_checked = issuer.get("check_jti", True) and isinstance(jti, str)
        if replay_checked and not self.store.use_jti(issuer["id"], str(jti), float(claims["exp"]) + CLOCK_SKEW):
            raise Refusal("jti_reused", f"jti {jti!r} was already presented")
        now = self.store.now()
        remaining = max(0, int(claims["exp"] - now))
        lifetime = max(60, min(int(rule.get("token_lifetime_seconds", 3600)), 2 * remaining))
        token = self.store.mint_grant(
            Grant(sa["id"], evaluation.workspace_id, scope, expires_at=now + lifetime, rule_id=rule["id"])
        )
        return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": scope}

    def _header(self, assertion: str) -> Compact:
        if len(assertion.encode()) > MAX_ASSERTION_BYTES:
            raise Refusal("assertion_too_large", f"the assertion is {len(assertion.encode())} bytes; at most "
                                                 f"{MAX_ASSERTION_BYTES} are accepted")
        try:
            parsed = parse_compact(assertion)
        except MalformedJWT as exc:
            raise Refusal("malformed_assertion", f"assertion is not a decodable JWT: {exc.reason}") from exc
        header = parsed.header
        alg = header.get("alg")
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise Refusal("unsupported_algorithm", f"alg {alg!r} is not an accepted asymmetric algorithm")
        if not isinstance(header.get("kid"), str) or not header["kid"]:
            raise Refusal("missing_kid", "the JWT header has no kid")
        return parsed

    def _rule_and_issuer(self, rule_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        rule = self.store.rules.get(rule_id)
        self.attempt.rule_id = rule_id
        if rule is None:
            raise Refusal("rule_not_found", f"no federation rule {rule_id}", recorded=False)
        if rule.get("archived_at"):
            raise Refusal("rule_archived", f"federation rule {rule_id} is archived")
        issuer = self.store.issuers.get(rule["issuer_id"])
        self.attempt.issuer_id = rule["issuer_id"]
        if issuer is None or issuer.get("archived_at"):
            raise Refusal("issuer_archived", f"federation issuer {rule['issuer_id']} is archived")
        return rule, issuer

    async def _verify(self, parsed: Compact, issuer: dict[str, Any]) -> dict[str, Any]:
        kid, alg = parsed.header["kid"], parsed.header["alg"]
        source = key_source(issuer)
        try:
            if source is None:  # inline keys: stored on the issuer, never fetched
                jwk = next((k for k in (issuer["jwks"].get("keys") or []) if k.get("kid") == kid), None)
                key = None if jwk is None else key_from_jwk(jwk, alg)
            else:
                key = await self.mock.jwks.key_object(source, kid, alg)
        except KeysUnavailable as exc:
            raise Refusal("jwks_fetch_failed", exc.detail) from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Refusal("signature_invalid", f"cannot verify with the published key: {exc}") from exc
        if key is None:
            raise Refusal("key_not_found", f"kid {kid!r} is not in the issuer's JWKS")
        try:
            return verified_claims(parsed, key, alg)  # times are checked below, with the service's skew
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


def key_source(issuer: dict[str, Any]) -> KeySource | None:
    """Where an issuer record's keys come from (the wif-reference "JWKS modes"); None for ``inline``.

    ``discovery`` reads ``<discovery_base or issuer_url>/.well-known/openid-configuration`` and then its
    ``jwks_uri``; ``explicit_url`` fetches ``jwks.url``. The cache entry is named by the record's id, URL
    and key settings, so an edited issuer never reads keys fetched for its old settings.
    """
    jwks = issuer.get("jwks") or {"type": "discovery"}
    if jwks.get("type") == "inline":
        return None
    values = (issuer.get("id"), issuer.get("issuer_url"), *jwks.values())
    if all(type(k) is str for k in jwks) and all(v is None or type(v) is str for v in values):
        # Text settings, as the Admin API stores them: the same settings give the same source, from a cache
        # (looked up by the record as it is now, so an edited issuer gets a new one).
        return _key_source((issuer.get("id"), issuer.get("issuer_url"), *jwks.items()))
    return _build_key_source(issuer, jwks)


@functools.lru_cache(maxsize=256)
def _key_source(settings: tuple[Any, ...]) -> KeySource:
    issuer_id, issuer_url, *jwks = settings
    return _build_key_source({"id": issuer_id, "issuer_url": issuer_url}, dict(jwks))


def _build_key_source(issuer: dict[str, Any], jwks: dict[str, Any]) -> KeySource:
    blob = json.dumps([issuer.get("id"), issuer.get("issuer_url"), jwks], sort_keys=True)
    name = hashlib.sha256(blob.encode()).hexdigest()
    ca = jwks.get("ca_cert_pem")
    if jwks.get("type") == "explicit_url":
        return KeySource.explicit(jwks.get("url") or "", cache_key=name, extra_ca_pem=ca)
    return KeySource.discovery(jwks.get("discovery_base") or issuer.get("issuer_url") or "", cache_key=name,
                               extra_ca_pem=ca)


async def oauth_token(request: Request) -> JSONResponse:
    mock: AnthropicMock = request.app.state.mock
    store = mock.store
    rid = request_id(request)
    attempt = Attempt()
    try:
        body, problem = await json_body(request)
        if body is None:
            raise BadRequest(problem or "request body must be a JSON object")
        body = _parse_request(body)
        attempt.service_account_id = body["service_account_id"]
        result = await Exchange(mock, body, attempt).run()
    except BadRequest as bad:
        return api_error(request, 400, "invalid_request_error", bad.message)
    except Refusal as refusal:
        if refusal.recorded:
            _record(store, rid, attempt, outcome="denied", reason=refusal.reason, detail=refusal.detail,
                    http_status=401)
        return api_error(request, 401, "authentication_error", AUTHENTICATION_FAILED)
    _record(store, rid, attempt, outcome="success", reason=None, detail=None, http_status=200)
    response = ok(request, result)
    response.headers["cache-control"] = "no-store"
    return response


def _record(store: Any, rid: str, attempt: Attempt, *, outcome: str, reason: str | None, detail: str | None,
            http_status: int) -> None:
    store.record(AuthEvent(
        id=store.ids.request_id().replace("req_", "activity_"), created_at=store.now(), request_id=rid,
        outcome=outcome, reason=reason, detail=detail, http_status=http_status,
        issuer_id=attempt.issuer_id, federation_rule_id=attempt.rule_id,
        requested_service_account_id=attempt.service_account_id, workspace_id=attempt.workspace_id,
        claims=attempt.claims, jti=(attempt.claims or {}).get("jti"), verdicts=attempt.verdicts,
    ))


def token_routes(mock: AnthropicMock) -> list[Route]:
    return [Route("/v1/oauth/token", oauth_token, methods=["POST"])]
