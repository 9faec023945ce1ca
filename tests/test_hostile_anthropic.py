"""Hostile input against the mock Anthropic, in-process: the exchange, the Admin API, Messages.

Every hostile value gets the service's own refusal — never a 5xx, never stored. Exchange denials are
the one opaque 401, so the tests also pin the reason recorded in the authentication history.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import event as hypothesis_event
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests._hostile import (
    BAD_UTF8,
    assert_exchange_denied,
    assert_exchange_malformed,
    examples,
    hostile_claims,
    hostile_json,
    raw_header_token,
    sign_raw,
)
from wif_lab import rules
from wif_lab.cel_sandbox import sandbox
from wif_lab.jose import MAX_NUMERIC_DATE
from wif_lab.mock.anthropic.service import AnthropicMock
from wif_lab.mock.anthropic.store import Grant
from wif_lab.mock.base import LabContext
from wif_lab.mock.keys import KeyStore, public_jwk
from wif_lab.mock.tls import ensure_lab_tls
from wif_lab.oauth import JWT_BEARER_GRANT as GRANT_TYPE

BASE = "https://127.0.0.1:1"
ISSUER_URL = "https://hostile.example"
ORG = "/v1/organizations"
COSTLY = "claims.l.map(a, claims.l.map(b, a + b)).size() > 0"
class Lab:
    """One mock org with an inline-JWKS issuer, a service account and two rules (plain and costly)."""

    def __init__(self, state_dir: Path) -> None:
        d = state_dir / "hostile-anthropic"
        ctx = LabContext(d, KeyStore(d), ensure_lab_tls(d), {"anthropic": BASE})
        self.mock = AnthropicMock(ctx)
        self.http = TestClient(self.mock.asgi(), base_url=BASE)
        self.admin = {"authorization": f"Bearer {self.mock.admin_token}", "anthropic-beta": "oauth-2025-04-20"}
        self.key = ctx.keys.private_key("hostile-issuer")
        issuer = self.post(f"{ORG}/federation_issuers", {
            "name": "hostile", "issuer_url": ISSUER_URL,
            "jwks": {"type": "inline", "keys": [public_jwk(self.key, "hostile-1")]}})
        sa = self.post(f"{ORG}/service_accounts", {"name": "hostile-sa"})
        self.sa_id = sa["id"]

        def rule(name: str, match: dict[str, Any]) -> str:
            return self.post(f"{ORG}/federation_rules", {
                "name": name, "issuer_id": issuer["id"], "match": match, "oauth_scope": "workspace:developer",
                "target": {"type": "service_account", "service_account_id": sa["id"]},
                "workspace_id": self.mock.store.default_workspace_id})["id"]

        self.rule_id = rule("hostile-rule", {"subject_prefix": "w*"})
        self.costly_rule_id = rule("costly-rule", {"subject_prefix": "w*", "condition": COSTLY})

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(path, headers=self.admin, json=body)
        assert r.status_code == 200, r.text
        return r.json()

    def claims(self, **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": ISSUER_URL, "sub": "w1", "aud": "https://api.anthropic.com", "iat": now, "exp": now + 300,
                "jti": str(uuid.uuid4()), **extra}

    def sign(self, payload: bytes) -> str:
        return sign_raw(payload, self.key, headers={"kid": "hostile-1"})

    def exchange_body(self, assertion: str, rule_id: str | None = None) -> dict[str, Any]:
        return {"grant_type": GRANT_TYPE, "assertion": assertion, "federation_rule_id": rule_id or self.rule_id,
                "organization_id": self.mock.store.organization_id, "service_account_id": self.sa_id}

    def exchange(self, assertion: str, rule_id: str | None = None) -> httpx.Response:
        return self.http.post("/v1/oauth/token", json=self.exchange_body(assertion, rule_id))

    def event_for(self, response: httpx.Response) -> Any:
        rid = response.headers["request-id"]
        return next(e for e in reversed(self.mock.store.events) if e.request_id == rid)


@pytest.fixture(scope="module")
def lab(state_dir: Path) -> Lab:
    return Lab(state_dir)


def assert_api_error(r: httpx.Response, status: int, kind: str, words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == kind and words in body["error"]["message"], body
    assert body["request_id"] == r.headers["request-id"]


# ── the exchange ──────────────────────────────────────────────────────────────────────────────────


@examples(50)
@given(data=st.data())
def test_a_hostile_claim_makes_the_assertion_malformed(lab: Lab, data: st.DataObject) -> None:
    payload = data.draw(hostile_claims(lab.claims()))
    r = lab.exchange(lab.sign(payload))
    assert_exchange_denied(r)
    event = lab.event_for(r)
    assert event.reason == "malformed_assertion"
    assert event.detail.startswith("assertion is not a decodable JWT: the payload")
    assert event.claims is None  # nothing from the hostile payload was kept
    listing = lab.http.get("/lab/events", headers=lab.admin, params={"limit": 3})
    assert listing.status_code == 200 and listing.json()["data"][0]["request_id"] == r.headers["request-id"]


@examples(15)
@given(header=hostile_json(top="object", deep_max=3000))
def test_a_hostile_jose_header_makes_the_assertion_malformed(lab: Lab, header: str) -> None:
    r = lab.exchange(raw_header_token(header.encode(), json.dumps(lab.claims()).encode()))
    assert_exchange_denied(r)
    assert lab.event_for(r).reason == "malformed_assertion"


@examples(30)
@given(body=hostile_json(top="object") | BAD_UTF8.map(lambda b: b'{"grant_type": "' + b + b'"}'))
def test_a_hostile_request_body_is_a_malformed_request(lab: Lab, body: str | bytes) -> None:
    r = lab.http.post("/v1/oauth/token", content=body, headers={"content-type": "application/json"})
    assert_exchange_malformed(r, "request body")


@examples(20)
@given(name=st.sampled_from(["exp", "iat", "nbf"]),
       value=st.sampled_from([1e300, -1, -1e300, 2**62, MAX_NUMERIC_DATE + 1, 1.7976931348623157e308]))
def test_a_finite_time_claim_outside_the_calendar_is_invalid_not_unlimited(lab: Lab, name: str, value: float) -> None:
    r = lab.exchange(lab.sign(json.dumps(lab.claims(**{name: value})).encode()))
    assert_exchange_denied(r)
    assert lab.event_for(r).reason == f"{name}_invalid"


def test_a_body_past_the_size_cap_is_refused_unread(lab: Lab) -> None:
    r = lab.http.post("/v1/oauth/token", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                      headers={"content-type": "application/json"})
    assert_exchange_malformed(r, "larger than")


# ── Admin API and Messages ────────────────────────────────────────────────────────────────────────

ADMIN_WRITES = [f"{ORG}/federation_issuers", f"{ORG}/service_accounts", f"{ORG}/federation_rules", "/lab/workspaces"]


@examples(40)
@given(path=st.sampled_from([*ADMIN_WRITES, "sa-update"]), body=hostile_json(top="object"))
def test_admin_writes_refuse_hostile_bodies_and_store_nothing(lab: Lab, path: str, body: str) -> None:
    store = lab.mock.store
    before = (len(store.issuers), len(store.service_accounts), len(store.rules), len(store.workspaces))
    if path == "sa-update":
        path = f"{ORG}/service_accounts/{lab.sa_id}"
    r = lab.http.post(path, content=body, headers={**lab.admin, "content-type": "application/json"})
    assert_api_error(r, 400, "invalid_request_error", "request body")
    assert (len(store.issuers), len(store.service_accounts), len(store.rules), len(store.workspaces)) == before
    listing = lab.http.get(f"{ORG}/service_accounts", headers=lab.admin, params={"limit": 100})
    assert listing.status_code == 200


@examples(20)
@given(field=st.sampled_from(["name", "description"]), bad=st.sampled_from(["\ud800", "x\udfff", "\udbffA"]))
def test_strings_that_cannot_be_encoded_never_reach_the_store(lab: Lab, field: str, bad: str) -> None:
    body = {"name": "fine-name", field: bad}
    raw = json.dumps(body)  # ensure_ascii: the lone surrogate travels as a \\u escape, as an attacker sends it
    r = lab.http.post(f"{ORG}/service_accounts", content=raw, headers={**lab.admin, "content-type": "application/json"})
    assert_api_error(r, 400, "invalid_request_error", "lone surrogate")
    assert lab.http.get(f"{ORG}/service_accounts", headers=lab.admin).status_code == 200


@examples(20)
@given(cursor=hostile_json(deep_max=3000))
def test_hostile_page_cursors_are_a_400(lab: Lab, cursor: str) -> None:
    page = base64.urlsafe_b64encode(cursor.encode()).decode().rstrip("=")
    r = lab.http.get(f"{ORG}/service_accounts", headers=lab.admin, params={"page": page})
    assert_api_error(r, 400, "invalid_request_error", "page: not a pagination cursor")


@pytest.mark.parametrize("path", [f"{ORG}/service_accounts", "/lab/events"])
@pytest.mark.parametrize("limit", [" 5", "1_0", "\u0661\u0662", "+5", "5.0", "0x10", "9" * 30, ""])
def test_a_limit_that_is_not_plain_digits_is_a_400(lab: Lab, path: str, limit: str) -> None:
    r = lab.http.get(path, headers=lab.admin, params={"limit": limit})
    if limit == "" and path == "/lab/events":
        assert r.status_code == 200  # an empty value means the default there
        return
    assert_api_error(r, 400, "invalid_request_error", "limit: must be an integer")


@examples(20)
@given(body=hostile_json(top="object"))
def test_messages_refuses_hostile_bodies(lab: Lab, body: str) -> None:
    token = lab.mock.store.mint_grant(Grant(lab.sa_id, lab.mock.store.default_workspace_id, "workspace:developer",
                                            expires_at=None))
    headers = {"authorization": f"Bearer {token}", "anthropic-version": "2023-06-01",
               "anthropic-beta": "oauth-2025-04-20", "content-type": "application/json"}
    r = lab.http.post("/v1/messages", content=body, headers=headers)
    assert_api_error(r, 400, "invalid_request_error", "request body")


@pytest.mark.parametrize(
    "authorization",
    [b"Basic", b"Bearer", b"Basic Zm9vOmJhcg==", b"Bearer Bearer sk-ant-oat01-x", b"Bearer \xff\xfe\xfd",
     b"Bearer sk-ant-oat01-\xe9t\xe9", b"\xff\xfe", b"Bearer " + b"A" * 10_000],
)
def test_malformed_authorization_headers_are_a_401(lab: Lab, authorization: bytes) -> None:
    r = lab.http.get(f"{ORG}/me", headers={"authorization": authorization, "anthropic-beta": "oauth-2025-04-20"})
    assert_api_error(r, 401, "authentication_error", "")


# ── CEL ───────────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ('claims.sub == "' + "a" * 5000 + '"', "at most 4096"),
        ("claims.l.all(a, claims.l.all(b, claims.l.all(c, claims.l.exists(d, a + b + c + d == 0))))",
         "nests 4 comprehensions"),
        ("claims.sub" + ' + "x"' * 2000 + ' == "y"', "at most 4096"),
        ("[" + ",".join(["1"] * 60) + "].all(a, [" + ",".join(["1"] * 60) + "].all(b, [" + ",".join(["1"] * 60)
         + "].all(c, a + b + c > 0)))", "is constant"),
    ],
)
def test_costly_conditions_are_refused_at_rule_creation(lab: Lab, condition: str, words: str) -> None:
    r = lab.http.post(f"{ORG}/federation_rules", headers=lab.admin, json={
        "name": f"costly-{uuid.uuid4().hex[:8]}", "issuer_id": lab.mock.store.rules[lab.rule_id]["issuer_id"],
        "match": {"subject_prefix": "w*", "condition": condition}, "oauth_scope": "workspace:developer",
        "target": {"type": "service_account", "service_account_id": lab.sa_id},
        "workspace_id": lab.mock.store.default_workspace_id})
    assert_api_error(r, 400, "invalid_request_error", "match.condition: ")
    assert words in r.json()["error"]["message"]


def test_a_costly_condition_is_cut_off_while_the_server_keeps_answering(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "CONDITION_DEADLINE", 0.5)
    killed = sandbox.killed
    costly = lab.sign(json.dumps(lab.claims(l=list(range(700)))).encode())
    app = lab.mock.asgi()
    finished: list[str] = []

    async def run() -> tuple[httpx.Response, list[httpx.Response]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
            async def exchange() -> httpx.Response:
                r = await client.post("/v1/oauth/token", json=lab.exchange_body(costly, lab.costly_rule_id))
                finished.append("exchange")
                return r

            async def me() -> httpx.Response:
                await asyncio.sleep(0.05)  # let the exchange reach its condition first
                r = await client.get(f"{ORG}/me", headers=lab.admin)
                finished.append("me")
                return r

            slow, *quick = await asyncio.gather(exchange(), me(), me(), me())
            return slow, quick

    slow, quick = asyncio.run(run())
    assert all(r.status_code == 200 for r in quick)
    assert finished[-1] == "exchange"  # the event loop served the others while the condition ran
    assert_exchange_denied(slow)
    event = lab.event_for(slow)
    assert event.reason == "condition_timeout" and "did not finish within 0.5 s" in event.detail
    assert sandbox.killed == killed + 1  # its worker process was stopped, not left running
    # The worker was replaced: the same rule still admits a token whose list is short.
    ok = lab.exchange(lab.sign(json.dumps(lab.claims(l=[1, 2])).encode()), lab.costly_rule_id)
    assert ok.status_code == 200, ok.text


# ── costly conditions as a property: nesting, macros and list sizes drawn at will ───────────────────

@st.composite
def nested_condition(draw: st.DrawFn) -> tuple[str, int]:
    """A condition nesting ``depth`` comprehensions over ``claims.l``; the work grows as len(l) ** depth."""
    depth = draw(st.integers(min_value=1, max_value=5))
    names = [f"v{i}" for i in range(depth)]
    expression = " + ".join(names) + " >= 0"
    for name in reversed(names):
        expression = f"claims.l.{draw(st.sampled_from(['all', 'exists', 'exists_one']))}({name}, {expression})"
    return expression, depth


COSTLIEST = ("claims.l.all(v0, claims.l.all(v1, claims.l.all(v2, v0 + v1 + v2 >= 0)))", 3)


@examples(20)
@given(condition=nested_condition(), length=st.integers(min_value=0, max_value=800))
@example(condition=COSTLIEST, length=800)  # 512 million steps: always cut off at the deadline
def test_any_comprehension_is_refused_or_bounded(lab: Lab, monkeypatch: pytest.MonkeyPatch,
                                                 condition: tuple[str, int], length: int) -> None:
    """Too deep: refused at creation as too costly. Otherwise the exchange answers within the condition's
    deadline, admitted or denied with a reason the history names — never a 5xx, never an unbounded wait."""
    monkeypatch.setattr(rules, "CONDITION_DEADLINE", 0.5)
    expression, depth = condition
    created = lab.http.post(f"{ORG}/federation_rules", headers=lab.admin, json={
        "name": f"nested-{uuid.uuid4().hex[:8]}", "issuer_id": lab.mock.store.rules[lab.rule_id]["issuer_id"],
        "match": {"subject_prefix": "w*", "condition": expression}, "oauth_scope": "workspace:developer",
        "target": {"type": "service_account", "service_account_id": lab.sa_id},
        "workspace_id": lab.mock.store.default_workspace_id})
    if depth > rules.MAX_COMPREHENSION_NESTING:
        assert_api_error(created, 400, "invalid_request_error", f"nests {depth} comprehensions")
        hypothesis_event("refused at creation")
        return
    assert created.status_code == 200, created.text
    started = time.monotonic()
    r = lab.exchange(lab.sign(json.dumps(lab.claims(l=list(range(length)))).encode()), created.json()["id"])
    elapsed = time.monotonic() - started
    assert elapsed < 0.5 + 10, f"{elapsed:.1f} s for a 0.5 s condition deadline"  # 10 s: a new worker's start-up
    if r.status_code == 200:
        hypothesis_event("admitted")
        return
    assert_exchange_denied(r)
    event = lab.event_for(r)
    hypothesis_event(event.reason)
    assert event.reason in ("condition_false", "condition_timeout"), (event.reason, event.detail)
    if event.reason == "condition_timeout":
        assert "did not finish within 0.5 s" in event.detail
    if (expression, length) == (COSTLIEST[0], 800):
        assert event.reason == "condition_timeout"
