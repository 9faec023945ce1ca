"""The exchange's negative corpus: every bad request and assertion, with its exact status and error.

The current contract: a malformed request is 400 ``invalid_request_error`` naming the problem and
leaves no authentication event; every refused assertion is the same 401 ``authentication_error``
"Authentication failed", and the reason is only in the authentication history (none at all for a
rule id nobody knows). Each case checks both the answer and the history.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helpers import Federation, federate, lab_of
from wif_lab.exchange import GRANT_TYPE
from wif_lab.lab import Lab
from wif_lab.mock.oidc import OidcIssuer
from wif_lab.mock.stack import MockStack
from wif_lab.tokens import ssl_context

SUB = "corpus-workload"


@dataclass
class Env:
    lab: Lab
    oidc: OidcIssuer
    fed: Federation          # rule: subject + audience + claims + condition
    multi: Federation        # rule enabled for two non-default workspaces
    archived: Federation     # archived rule
    client: httpx.Client

    def body(self, assertion: Any = None, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "grant_type": GRANT_TYPE,
            "assertion": assertion if assertion is not None else self.token(),
            "federation_rule_id": self.fed.rule.id,
            "organization_id": self.lab.organization_id,
            "service_account_id": self.fed.service_account.id,
        }
        body.update(overrides)
        return {k: v for k, v in body.items() if v is not _DROP}

    def token(self, claims: dict[str, Any] | None = None, **kw: Any) -> str:
        base = {"sub": SUB, "team": "payments", "env": "prod"}
        return self.oidc.mint({**base, **(claims or {})}, **kw)

    def post(self, body: Any = None, *, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        url = self.lab.base_url + "/v1/oauth/token"
        if raw is not None:
            return self.client.post(url, content=raw, headers={"content-type": "application/json", **(headers or {})})
        return self.client.post(url, json=body, headers=headers)


_DROP = object()


@pytest.fixture(scope="module")
def env(lab: MockStack) -> Env:
    the_lab = lab_of(lab)
    oidc = lab.mocks["oidc"]
    store = lab.mocks["anthropic"].store
    fed = federate(
        the_lab, issuer_url=oidc.issuer,
        match={"subject_prefix": SUB, "audience": "https://api.anthropic.com", "claims": {"team": "payments"},
               "condition": 'claims.env == "prod"'},
    )
    multi = federate(the_lab, issuer_url=oidc.issuer, match={"subject_prefix": SUB})
    admin = the_lab.admin()
    ws_a, ws_b = store.create_workspace("corpus-a")["id"], store.create_workspace("corpus-b")["id"]
    # A rule may only name a workspace its account belongs to; ws_b (enabled below) stays without it.
    admin.organization.service_accounts.workspaces.add(multi.service_account.id, workspace_id=ws_a,
                                                       workspace_role="workspace_developer")
    admin.organization.federation.rules.update(multi.rule.id, workspace_id=ws_a)
    admin.organization.federation.rules.workspaces.add(multi.rule.id, workspace_id=ws_b)
    multi.rule = admin.organization.federation.rules.retrieve(multi.rule.id)
    assert sorted(multi.rule.workspace_ids) == sorted([ws_a, ws_b])
    archived = federate(the_lab, issuer_url=oidc.issuer, match={"subject_prefix": SUB})
    admin.organization.federation.rules.archive(archived.rule.id)
    client = httpx.Client(verify=ssl_context(the_lab.ca_bundle), timeout=10)
    return Env(the_lab, oidc, fed, multi, archived, client)


def _other_key_token(e: Env) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"iss": e.oidc.issuer, "sub": SUB, "aud": "https://api.anthropic.com", "iat": now, "exp": now + 300,
              "team": "payments", "env": "prod"}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": e.oidc.kid})


def _tampered(e: Env) -> str:
    h, _, s = e.token().split(".")
    other = e.token({"sub": "someone-else"}).split(".")[1]
    return f"{h}.{other}.{s}"


def _hs256(e: Env) -> str:
    now = int(time.time())
    return jwt.encode({"iss": e.oidc.issuer, "sub": SUB, "iat": now, "exp": now + 60}, "x" * 32,
                      algorithm="HS256", headers={"kid": e.oidc.kid})


def _no_kid(e: Env) -> str:
    now = int(time.time())
    claims = {"iss": e.oidc.issuer, "sub": SUB, "aud": "https://api.anthropic.com", "iat": now, "exp": now + 300}
    key = e.lab.stack.context.keys.private_key(e.oidc.kid)
    return jwt.encode(claims, key, algorithm="RS256")


def _alg_none(e: Env) -> str:
    now = int(time.time())
    return jwt.encode({"iss": e.oidc.issuer, "sub": SUB, "iat": now, "exp": now + 60}, None,
                      algorithm="none", headers={"kid": e.oidc.kid})


def _now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Env], Any]         # returns a body dict, or bytes for a raw body
    status: int
    error: str                         # error.type of the API error body
    reason: str | None = None          # the authentication event's reason; None: no event may be recorded


BAD, DENIED = "invalid_request_error", "authentication_error"

CASES = [
    # --- malformed requests: 400 invalid_request_error, nothing in the history ---------------
    Case("body-not-json", lambda e: b"grant_type=jwt", 400, BAD),
    Case("body-json-array", lambda e: b"[1, 2]", 400, BAD),
    Case("grant-type-missing", lambda e: e.body(grant_type=_DROP), 400, BAD),
    Case("grant-type-wrong", lambda e: e.body(grant_type="client_credentials"), 400, BAD),
    Case("assertion-missing", lambda e: e.body(assertion=_DROP), 400, BAD),
    Case("assertion-not-string", lambda e: e.body(assertion=12345), 400, BAD),
    Case("rule-id-missing", lambda e: e.body(federation_rule_id=_DROP), 400, BAD),
    Case("rule-id-malformed", lambda e: e.body(federation_rule_id="rule-1"), 400, BAD),
    Case("org-id-missing", lambda e: e.body(organization_id=_DROP), 400, BAD),
    Case("org-id-malformed", lambda e: e.body(organization_id="acme"), 400, BAD),
    Case("service-account-missing", lambda e: e.body(service_account_id=_DROP), 400, BAD),
    Case("service-account-malformed", lambda e: e.body(service_account_id="sa-1"), 400, BAD),
    Case("workspace-malformed", lambda e: e.body(workspace_id="ws 1"), 400, BAD),
    # neither wrkspc_… nor 'default': malformed, not "no workspace given"
    Case("workspace-empty", lambda e: e.body(workspace_id=""), 400, BAD),
    # a well-formed id followed by a newline is not a well-formed id
    Case("rule-id-trailing-newline", lambda e: e.body(federation_rule_id=e.fed.rule.id + "\n"), 400, BAD),
    Case("service-account-trailing-newline",
         lambda e: e.body(service_account_id=e.fed.service_account.id + "\n"), 400, BAD),
    Case("workspace-trailing-newline", lambda e: e.body(workspace_id=e.lab.stack.mocks["anthropic"].store
                                                        .default_workspace_id + "\n"), 400, BAD),
    Case("unknown-field", lambda e: e.body(scope="workspace:developer"), 400, BAD),
    # --- refused assertions: 401 authentication_error, all with the same opaque body ---------
    Case("assertion-over-16kib", lambda e: e.body(assertion="e" * (16 * 1024 + 1)), 401, DENIED,
         "assertion_too_large"),
    Case("workspace-required", lambda e: e.body(federation_rule_id=e.multi.rule.id,
                                                service_account_id=e.multi.service_account.id), 401, DENIED,
         "workspace_id_required"),
    Case("not-a-jwt", lambda e: e.body("not-a-jwt"), 401, DENIED, "malformed_assertion"),
    Case("alg-none", lambda e: e.body(_alg_none(e)), 401, DENIED, "unsupported_algorithm"),
    Case("alg-hs256", lambda e: e.body(_hs256(e)), 401, DENIED, "unsupported_algorithm"),
    Case("kid-missing", lambda e: e.body(_no_kid(e)), 401, DENIED, "missing_kid"),
    Case("kid-unknown", lambda e: e.body(e.token(kid="no-such-key")), 401, DENIED, "key_not_found"),
    Case("signature-tampered", lambda e: e.body(_tampered(e)), 401, DENIED, "signature_invalid"),
    Case("signed-by-other-key", lambda e: e.body(_other_key_token(e)), 401, DENIED, "signature_invalid"),
    Case("iss-trailing-slash", lambda e: e.body(e.token({"iss": e.oidc.issuer + "/"})), 401, DENIED,
         "issuer_mismatch"),
    Case("iss-other", lambda e: e.body(e.token({"iss": "https://evil.example"})), 401, DENIED,
         "issuer_mismatch"),
    Case("aud-wrong", lambda e: e.body(e.token({"aud": "api://other"})), 401, DENIED, "audience_mismatch"),
    Case("aud-list-without-ours", lambda e: e.body(e.token({"aud": ["a", "b"]})), 401, DENIED,
         "audience_mismatch"),
    Case("aud-missing", lambda e: e.body(e.token(omit=("aud",))), 401, DENIED, "audience_mismatch"),
    Case("expired", lambda e: e.body(e.token({"iat": _now() - 400, "exp": _now() - 60})), 401, DENIED,
         "token_expired"),
    Case("nbf-future", lambda e: e.body(e.token({"nbf": _now() + 120})), 401, DENIED, "token_not_yet_valid"),
    Case("iat-future", lambda e: e.body(e.token({"iat": _now() + 120, "exp": _now() + 300})), 401, DENIED,
         "iat_in_future"),
    Case("iat-missing", lambda e: e.body(e.token(omit=("iat",))), 401, DENIED, "iat_missing"),
    Case("exp-missing", lambda e: e.body(e.token(omit=("exp",))), 401, DENIED, "exp_missing"),
    Case("lifetime-over-max", lambda e: e.body(e.token(lifetime=3700)), 401, DENIED, "lifetime_exceeded"),
    Case("sub-wrong", lambda e: e.body(e.token({"sub": "corpus-workload-2"})), 401, DENIED,
         "subject_mismatch"),
    Case("sub-case", lambda e: e.body(e.token({"sub": SUB.upper()})), 401, DENIED, "subject_mismatch"),
    Case("sub-missing", lambda e: e.body(e.token(omit=("sub",))), 401, DENIED, "sub_missing"),
    Case("claim-wrong", lambda e: e.body(e.token({"team": "ops"})), 401, DENIED, "claim_mismatch"),
    Case("condition-false", lambda e: e.body(e.token({"env": "dev"})), 401, DENIED, "condition_false"),
    Case("rule-unknown", lambda e: e.body(federation_rule_id="fdrl_01NoSuchRule0000000000000"), 401, DENIED),
    Case("rule-archived", lambda e: e.body(federation_rule_id=e.archived.rule.id), 401, DENIED,
         "rule_archived"),
    Case("org-other", lambda e: e.body(organization_id=str(uuid.uuid4())), 401, DENIED),
    Case("service-account-not-target", lambda e: e.body(service_account_id=e.multi.service_account.id), 401,
         DENIED, "service_account_mismatch"),
    Case("workspace-not-enabled", lambda e: e.body(workspace_id=e.multi.rule.workspace_ids[0]), 401,
         DENIED, "workspace_not_enabled"),
]


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refused(env: Env, case: Case) -> None:
    made = case.make(env)
    r = env.post(raw=made) if isinstance(made, bytes) else env.post(made)
    assert r.status_code == case.status, r.text
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == case.error
    rid = r.headers["request-id"]
    assert rid.startswith("req_") and body["request_id"] == rid
    if case.error == DENIED:
        assert body["error"]["message"] == "Authentication failed"
    else:
        assert body["error"]["message"] and body["error"]["message"] != "Authentication failed"
    events = [e for e in env.lab.events(limit=50) if e["request_id"] == rid]
    if case.reason is None:
        assert events == []  # malformed requests and unknown rules leave no history entry
    else:
        assert [(e["status"]["outcome"], e["status"]["reason"], e["http_status"]) for e in events] == [
            ("denied", case.reason, 401)]


def test_bad_request_messages_name_the_field(env: Env) -> None:
    for field_name in ("service_account_id", "federation_rule_id", "workspace_id"):
        made = env.body(**{field_name: "nope"})
        assert env.post(made).json()["error"]["message"].startswith(f"{field_name}: ")
    assert env.post(env.body(service_account_id=_DROP)).json()["error"]["message"] == (
        "service_account_id: Field required")


def test_refused_assertions_all_look_the_same(env: Env) -> None:
    """Unknown, archived and unauthorized all answer identically: nothing to probe or enumerate."""
    bodies = set()
    for case in CASES:
        if case.error == DENIED:
            r = env.post(case.make(env))
            body = r.json()
            assert body.pop("request_id") == r.headers["request-id"]
            bodies.add((r.status_code, json.dumps(body, sort_keys=True)))
    assert len(bodies) == 1


def test_replayed_jti_is_refused_like_any_denial(env: Env) -> None:
    token = env.token()
    assert env.post(env.body(token)).status_code == 200
    r = env.post(env.body(token))
    assert r.status_code == 401
    assert r.json()["error"] == {"type": "authentication_error", "message": "Authentication failed"}
    assert env.lab.last_event()["status"]["reason"] == "jti_reused"


def test_expiry_within_the_30_second_skew_is_accepted(env: Env) -> None:
    r = env.post(env.body(env.token({"iat": _now() - 200, "exp": _now() - 10})))
    assert r.status_code == 200, r.text
    assert r.json()["expires_in"] == 60  # floor of max(60, min(600, 2 × remaining))


@pytest.mark.parametrize(("lifetime", "expected"), [(3600, 600), (200, 400), (40, 80)])
def test_minted_lifetime_follows_the_documented_cap(env: Env, lifetime: int, expected: int) -> None:
    r = env.post(env.body(env.token(lifetime=lifetime)))
    got = r.json()["expires_in"]
    assert expected - 4 <= got <= expected  # a second or two may pass while minting


def test_success_shape(env: Env) -> None:
    r = env.post(env.body())
    assert r.status_code == 200
    data = r.json()
    assert set(data) == {"access_token", "token_type", "expires_in", "scope"}
    assert data["access_token"].startswith("sk-ant-oat01-") and data["token_type"] == "Bearer"
    assert data["scope"] == "workspace:developer"
    assert r.headers["cache-control"] == "no-store"


def test_no_jti_token_can_be_reused(env: Env) -> None:
    token = env.token(omit=("jti",))
    assert env.post(env.body(token)).status_code == 200
    assert env.post(env.body(token)).status_code == 200


def test_check_jti_false_allows_replay(env: Env) -> None:
    fed = federate(env.lab, issuer_url=env.oidc.issuer, match={"subject_prefix": SUB}, check_jti=False)
    token = env.token()
    for _ in range(2):
        body = env.body(token, federation_rule_id=fed.rule.id, service_account_id=fed.service_account.id)
        assert env.post(body).status_code == 200


def test_named_workspace_and_default_literal(env: Env) -> None:
    ws = env.multi.rule.workspace_ids
    sa = env.multi.service_account.id
    store = env.lab.stack.mocks["anthropic"].store
    # the service account must be a member of a non-default workspace
    body = env.body(federation_rule_id=env.multi.rule.id, service_account_id=sa, workspace_id=ws[1])
    r = env.post(body)
    assert r.status_code == 401 and env.lab.last_event()["status"]["reason"] == "not_workspace_member"
    env.lab.admin().organization.service_accounts.workspaces.add(sa, workspace_id=ws[1],
                                                                workspace_role="workspace_developer")
    r = env.post(body)
    assert r.status_code == 200, r.text
    grant = store.grant_for(r.json()["access_token"])
    assert grant.workspace_id == ws[1] and grant.service_account_id == sa
    # 'default' names the default workspace, which this rule does not cover
    r = env.post(env.body(workspace_id="default"))
    assert r.status_code == 200  # env.fed is enabled in the default workspace
    assert store.grant_for(r.json()["access_token"]).workspace_id == env.lab.default_workspace_id


def test_unknown_kid_refetches_once_after_rotation(fresh_stack: MockStack) -> None:
    lab = lab_of(fresh_stack)
    oidc = fresh_stack.mocks["oidc"]
    jwks = fresh_stack.mocks["anthropic"].jwks
    fed = federate(lab, issuer_url=oidc.issuer, match={"subject_prefix": "w"})
    client = httpx.Client(verify=ssl_context(lab.ca_bundle))

    def exchange(token: str) -> int:
        body = {"grant_type": GRANT_TYPE, "assertion": token, "federation_rule_id": fed.rule.id,
                "organization_id": lab.organization_id, "service_account_id": fed.service_account.id}
        return client.post(lab.base_url + "/v1/oauth/token", json=body).status_code

    assert exchange(oidc.mint({"sub": "w"})) == 200
    fetched = jwks.fetches
    oidc.rotate()
    assert exchange(oidc.mint({"sub": "w"})) == 200  # unknown kid → one early re-fetch finds it
    assert jwks.fetches == fetched + 1
    assert exchange(oidc.mint({"sub": "w"}, kid="never-published")) == 401
    assert jwks.fetches == fetched + 1  # rate-limited: no second re-fetch straight away


def test_removing_a_membership_stops_exchanges_in_that_workspace(env: Env) -> None:
    """The rule still names the workspace; the Admin API does not refuse the removal, but from then on the
    exchange binds to a workspace the account no longer belongs to and is denied."""
    admin = env.lab.admin()
    fed = federate(env.lab, issuer_url=env.oidc.issuer, match={"subject_prefix": SUB})
    ws = env.lab.stack.mocks["anthropic"].store.create_workspace("corpus-leaving")["id"]
    admin.organization.service_accounts.workspaces.add(fed.service_account.id, workspace_id=ws,
                                                       workspace_role="workspace_developer")
    rule = admin.organization.federation.rules.update(fed.rule.id, workspace_id=ws)
    assert rule.workspace_ids == [ws]
    body = env.body(federation_rule_id=fed.rule.id, service_account_id=fed.service_account.id)
    r = env.post(body)
    assert r.status_code == 200, r.text

    removed = admin.organization.service_accounts.workspaces.remove(ws, service_account_id=fed.service_account.id)
    assert removed.type == "service_account_workspace_member_deleted"
    assert admin.organization.federation.rules.retrieve(fed.rule.id).workspace_ids == [ws]  # the rule is untouched
    r = env.post(env.body(federation_rule_id=fed.rule.id, service_account_id=fed.service_account.id))
    assert r.status_code == 401, r.text
    event = env.lab.last_event()
    assert event is not None and event["event_data"]["federation_rule_id"] == fed.rule.id
    assert event["status"]["reason"] == "not_workspace_member"
