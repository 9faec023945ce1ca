"""Hostile input against the mock Okta token endpoint, in-process: forms, Basic headers, client
assertions and DPoP proofs each get Okta's documented refusal, never a 5xx."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests._hostile import BAD_UTF8, bad_form, examples, hostile_claims, hostile_json, sign_raw
from wif_lab.mock.base import LabContext
from wif_lab.mock.keys import KeyStore
from wif_lab.mock.okta import OktaMock
from wif_lab.mock.okta import errors as E
from wif_lab.mock.okta.service import NEW_APP_KEY, WORKLOAD_KEY
from wif_lab.mock.tls import LabTLS
from wif_lab.providers.okta import public_jwk

ORG = "https://127.0.0.1:8443"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM = {"content-type": "application/x-www-form-urlencoded"}


class Org:
    def __init__(self, state_dir: Path) -> None:
        unused = state_dir / "no-tls-in-process"
        ctx = LabContext(state_dir / "shared", KeyStore(state_dir / "shared"), LabTLS(unused, unused, unused),
                         {"okta": ORG})
        self.okta = OktaMock(ctx)
        self.conn = self.okta.connection()
        self.http = TestClient(self.okta.asgi(), base_url=ORG)
        self.url: str = self.conn["token_endpoint"]
        self.dpop_key = ec.generate_private_key(ec.SECP256R1())

    def claims(self, app: str = "workload", **extra: Any) -> dict[str, Any]:
        client_id = self.conn["client_id"] if app == "workload" else self.conn["new_app"]["client_id"]
        now = int(time.time())
        return {"iss": client_id, "sub": client_id, "aud": self.url, "iat": now, "exp": now + 300,
                "jti": str(uuid.uuid4()), **extra}

    def assertion(self, payload: bytes, app: str = "workload") -> str:
        if app == "workload":
            key, kid = self.okta.ctx.keys.private_key(WORKLOAD_KEY), self.conn["key_id"]
        else:
            key, kid = self.okta.ctx.keys.private_key(NEW_APP_KEY), self.conn["new_app"]["key_id"]
        return sign_raw(payload, key, headers={"kid": kid})

    def form(self, assertion: str) -> dict[str, str]:
        return {"grant_type": "client_credentials", "scope": "anthropic.access",
                "client_assertion_type": JWT_BEARER, "client_assertion": assertion}

    def post(self, content: bytes | dict[str, str], headers: dict[str, Any] | None = None) -> httpx.Response:
        if isinstance(content, dict):
            return self.http.post(self.url, data=content, headers=headers)
        return self.http.post(self.url, content=content, headers={**FORM, **(headers or {})})

    def dpop(self, payload: bytes) -> str:
        return sign_raw(payload, self.dpop_key, alg="ES256",
                        headers={"typ": "dpop+jwt", "jwk": public_jwk(self.dpop_key)})


@pytest.fixture(scope="module")
def org(state_dir: Path) -> Org:
    return Org(state_dir)


def assert_okta(r: httpx.Response, status: int, error: str, description: str) -> None:
    assert r.status_code == status, r.text
    assert r.json() == {"error": error, "error_description": description}
    assert r.headers["cache-control"] == "no-cache, no-store"


@examples(30)
@given(data=st.data())
def test_a_form_that_is_not_utf8_is_invalid_request(org: Org, data: st.DataObject) -> None:
    fields = org.form(org.assertion(json.dumps(org.claims()).encode()))
    r = org.post(data.draw(bad_form(fields)))
    assert_okta(r, 400, "invalid_request", "The request could not be parsed.")


BAD_BASIC = st.one_of(
    BAD_UTF8.map(lambda raw: b"Basic " + raw),  # bytes outside ASCII (read as latin-1 by the server)
    st.sampled_from([b"Basic", b"Basic ", b"Basic !!!!", b"Basic Zm9v", b"Basic ====", b"Bearer abc",
                     b"Bearer Bearer abc", b"Basic Zm9v Zm9v", b"basic", b"Digest x", b"Basic \xc3\xa9t\xc3\xa9"]),
    BAD_UTF8.map(lambda raw: b"Basic " + base64.b64encode(b"client:" + raw)),  # decodes, but not to UTF-8
    st.text(alphabet="!@#$%^&*()[]{}<>?,. ~", min_size=1, max_size=20).map(lambda t: b"Basic " + t.encode()),
)


@examples(30)
@given(authorization=BAD_BASIC)
def test_a_malformed_basic_header_is_invalid_client(org: Org, authorization: bytes) -> None:
    r = org.post({"grant_type": "client_credentials", "scope": "anthropic.access"},
                 headers={"authorization": authorization})
    assert_okta(r, 401, "invalid_client", "Found Authentication header but was not valid client credentials.")


@examples(40)
@given(data=st.data())
def test_a_hostile_client_assertion_cannot_be_parsed(org: Org, data: st.DataObject) -> None:
    payload = data.draw(hostile_claims(org.claims()))
    r = org.post(org.form(org.assertion(payload)))
    assert_okta(r, 401, "invalid_client", E.ASSERTION_PARSE)


@examples(30)
@given(data=st.data())
def test_a_hostile_dpop_proof_cannot_be_parsed(org: Org, data: st.DataObject) -> None:
    payload = data.draw(hostile_claims({"htm": "POST", "htu": org.url, "iat": int(time.time()),
                                        "jti": str(uuid.uuid4())}))
    assertion = org.assertion(json.dumps(org.claims("new")).encode(), "new")
    r = org.http.post(org.url, data=org.form(assertion), headers={"dpop": org.dpop(payload)})
    assert_okta(r, 400, "invalid_dpop_proof", E.DPOP_PARSE)


@pytest.mark.parametrize(
    ("claims", "description"),
    [({"exp": 1e300}, E.ASSERTION_EXP_MISSING), ({"exp": -5}, E.ASSERTION_EXP_MISSING),
     ({"exp": 2**62}, E.ASSERTION_EXP_MISSING), ({"iat": 1e300}, E.ASSERTION_IAT_FUTURE),
     ({"iat": -1}, E.ASSERTION_IAT_FUTURE), ({"iat": "1"}, E.ASSERTION_IAT_FUTURE)],
)
def test_time_claims_outside_the_calendar_are_refused(org: Org, claims: dict[str, Any], description: str) -> None:
    r = org.post(org.form(org.assertion(json.dumps(org.claims(**claims)).encode())))
    assert_okta(r, 401, "invalid_client", description)


@pytest.mark.parametrize("iat", [1e300, -1, 2**62, "now"])
def test_a_dpop_iat_outside_the_calendar_is_invalid(org: Org, iat: object) -> None:
    proof = org.dpop(json.dumps({"htm": "POST", "htu": org.url, "iat": iat, "jti": str(uuid.uuid4())}).encode())
    assertion = org.assertion(json.dumps(org.claims("new")).encode(), "new")
    r = org.http.post(org.url, data=org.form(assertion), headers={"dpop": proof})
    assert_okta(r, 400, "invalid_dpop_proof", E.DPOP_IAT)


@pytest.mark.parametrize(
    "jwk",
    [{"kty": "EC", "crv": "P-256", "x": 1, "y": "AA"}, {"kty": "RSA", "n": ["x"], "e": "AQAB"},
     {"kty": {"a": 1}}, {"kty": "EC", "crv": ["P-256"], "x": "AA", "y": "AA"}],
)
def test_a_dpop_jwk_of_the_wrong_types_is_invalid(org: Org, jwk: dict[str, Any]) -> None:
    payload = json.dumps({"htm": "POST", "htu": org.url, "iat": int(time.time()), "jti": str(uuid.uuid4())})
    proof = sign_raw(payload.encode(), org.dpop_key, alg="ES256", headers={"typ": "dpop+jwt", "jwk": jwk})
    assertion = org.assertion(json.dumps(org.claims("new")).encode(), "new")
    r = org.http.post(org.url, data=org.form(assertion), headers={"dpop": proof})
    assert_okta(r, 400, "invalid_dpop_proof", E.DPOP_INVALID)


def test_a_form_past_the_size_cap_is_invalid_request(org: Org) -> None:
    r = org.post(b"grant_type=client_credentials&pad=" + b"a" * (2 * 1024 * 1024))
    assert_okta(r, 400, "invalid_request", "The request could not be parsed.")


# ── the Management API (what `wif-lab setup okta` drives) ─────────────────────────────────────────────

MANAGEMENT_LISTS = ("/api/v1/apps", "/api/v1/authorizationServers")


def _ssws(org: Org) -> dict[str, str]:
    return {"authorization": f"SSWS {org.conn['api_token']}", "content-type": "application/json",
            "accept": "application/json"}


def assert_malformed_body(r: httpx.Response) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert (body["errorCode"], body["errorSummary"]) == ("E0000003", "The request body was not well-formed.")


@examples(30)
@given(path=st.sampled_from(MANAGEMENT_LISTS), body=hostile_json(top="object"))
def test_management_api_refuses_hostile_bodies_and_stores_nothing(org: Org, path: str, body: str) -> None:
    assert_malformed_body(org.http.post(path, content=body.encode(), headers=_ssws(org)))
    for listed in MANAGEMENT_LISTS:  # nothing half-stored: every list still serialises
        assert org.http.get(listed, headers=_ssws(org)).status_code == 200


def test_a_lone_surrogate_never_reaches_the_management_store(org: Org) -> None:
    server = b'{"name": "s\\ud800", "description": "d", "audiences": ["https://api.anthropic.com"]}'
    assert_malformed_body(org.http.post("/api/v1/authorizationServers", content=server, headers=_ssws(org)))
    listed = org.http.get("/api/v1/authorizationServers", headers=_ssws(org))
    assert listed.status_code == 200 and all("\ud800" not in s["name"] for s in listed.json())
