"""Property: nothing a caller sends to the token endpoint makes it answer 5xx."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from wif_lab.mock.base import LabContext
from wif_lab.mock.keys import KeyStore
from wif_lab.mock.tls import ensure_lab_tls

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
b64ish = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=60)
jwt_like = st.builds(lambda a, b, c: f"eyJ{a}.eyJ{b}.{c}", b64ish, b64ish, b64ish)


@pytest.fixture(scope="module")
def client(state_dir: Path) -> TestClient:
    from wif_lab.mock.anthropic.service import AnthropicMock

    d = state_dir / "fuzz"
    ctx = LabContext(d, KeyStore(d), ensure_lab_tls(d), {"anthropic": "https://127.0.0.1:1"})
    mock = AnthropicMock(ctx)
    return TestClient(mock.asgi(), base_url="https://127.0.0.1:1")


def _body(fields: dict) -> dict:
    base = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x",
            "federation_rule_id": "fdrl_01abc", "organization_id": "00000000-0000-4000-8000-000000000001"}
    base.update(fields)
    return base


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes(client: TestClient, raw: bytes) -> None:
    r = client.post("/v1/oauth/token", content=raw, headers={"content-type": "application/json"})
    assert r.status_code < 500 and r.headers["request-id"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(
    st.sampled_from(["grant_type", "assertion", "federation_rule_id", "organization_id", "service_account_id",
                     "workspace_id", "extra"]), json_values, max_size=6))
def test_arbitrary_field_values(client: TestClient, fields: dict) -> None:
    r = client.post("/v1/oauth/token", content=json.dumps(_body(fields)))
    assert r.status_code < 500, r.text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(assertion=jwt_like | st.text(max_size=200))
def test_arbitrary_assertions(client: TestClient, assertion: str) -> None:
    r = client.post("/v1/oauth/token", json=_body({"assertion": assertion}))
    assert r.status_code in (400, 401), r.text
    expected = "invalid_request_error" if r.status_code == 400 else "authentication_error"
    assert r.json()["error"]["type"] == expected


@pytest.fixture(scope="module")
def signed_setup(client: TestClient, state_dir: Path) -> tuple[str, object]:
    """A real issuer (inline JWKS) and rule, so fuzzed claims reach signature, time and rule checks."""
    from wif_lab.mock.keys import public_jwk

    mock = client.app.state.mock
    key = mock.ctx.keys.private_key("fuzz-issuer")
    headers = {"authorization": f"Bearer {mock.admin_token}", "anthropic-beta": "oauth-2025-04-20"}
    issuer = client.post("/v1/organizations/federation_issuers", headers=headers, json={
        "name": "fuzz", "issuer_url": "https://fuzz.example", "jwks": {"type": "inline", "keys": [
            public_jwk(key, "fuzz-1")]}}).json()
    sa = client.post("/v1/organizations/service_accounts", headers=headers, json={"name": "fuzz-sa"}).json()
    rule = client.post("/v1/organizations/federation_rules", headers=headers, json={
        "name": "fuzz-rule", "issuer_id": issuer["id"], "match": {"subject_prefix": "w*",
                                                                  "condition": 'claims.sub.startsWith("w")'},
        "target": {"type": "service_account", "service_account_id": sa["id"]}, "oauth_scope": "workspace:developer",
        "workspace_id": mock.store.default_workspace_id}).json()
    return rule["id"], key


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(claims=st.dictionaries(
    st.sampled_from(["iss", "sub", "aud", "iat", "exp", "nbf", "jti", "extra"]), json_values, max_size=8))
def test_signed_tokens_with_arbitrary_claims(client: TestClient, signed_setup: tuple[str, object],
                                             claims: dict) -> None:
    import jwt

    rule_id, key = signed_setup
    body = {"iss": "https://fuzz.example", **claims}
    # PyJWS signs any payload bytes; pyjwt's encode() would refuse the odd claim types we want to send.
    token = jwt.PyJWS().encode(json.dumps(body).encode(), key, algorithm="RS256",  # type: ignore[arg-type]
                               headers={"kid": "fuzz-1"})
    r = client.post("/v1/oauth/token", json={**_body({"assertion": token}), "federation_rule_id": rule_id,
                                            "organization_id": client.app.state.mock.store.organization_id})
    assert r.status_code in (200, 400, 401), r.text
