"""Hostile input against the mock Entra token endpoint and the mock IMDS, in-process: each gets the
service's own refusal (AADSTS layout, IMDS's invalid_request), never a 5xx."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests._azure_lab import ENTRA_BASE, START, FakeClock, azure_context
from tests._hostile import BAD_ESCAPES, bad_form, examples, hostile_claims, hostile_json, sign_raw
from wif_lab.jose import MAX_NUMERIC_DATE
from wif_lab.mock.aks import aks_cluster
from wif_lab.mock.azure_imds import TOKEN_PATH, ImdsMock
from wif_lab.mock.entra import CLIENT_ASSERTION_TYPE, ERROR_DESCRIPTION_TAIL, EntraMock
from wif_lab.mock.kubernetes import SIGNING_KEY, TOKEN_EXCHANGE_AUDIENCE

SUBJECT = "system:serviceaccount:inference:claude-inference"


class Tenant:
    def __init__(self, state_dir: Path) -> None:
        ctx = azure_context(state_dir / "hostile-azure", FakeClock())
        ctx.base_urls["kubernetes"] = "https://oic.aks.test"
        self.entra = EntraMock(ctx, outbound=lambda: httpx.AsyncClient(transport=httpx.ASGITransport(app=cluster)))
        ctx.mocks["entra"] = self.entra
        self.k8s = aks_cluster(ctx, self.entra)
        ctx.mocks["kubernetes"] = self.k8s
        cluster = self.k8s.asgi()
        self.imds = ImdsMock(ctx, self.entra)
        self.http = TestClient(self.entra.asgi(), base_url=ENTRA_BASE)
        self.imds_http = TestClient(self.imds.asgi(), base_url="http://imds.test")
        self.key = ctx.keys.private_key(SIGNING_KEY)
        self.path = f"/{self.entra.tenant_id}/oauth2/v2.0/token"

    def claims(self, **extra: Any) -> dict[str, Any]:
        now = int(START)
        return {"aud": [TOKEN_EXCHANGE_AUDIENCE], "exp": now + 3600, "iat": now, "iss": self.k8s.issuer,
                "jti": str(uuid.uuid4()), "nbf": now, "sub": SUBJECT, **extra}

    def sign(self, payload: bytes) -> str:
        return sign_raw(payload, self.key, headers={"kid": self.k8s.kid})

    def form(self, assertion: str) -> dict[str, str]:
        return {"client_assertion": assertion, "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_id": self.entra.identity("claude-inference").client_id, "grant_type": "client_credentials",
                "scope": f"api://{self.entra.app('claude-api-federation').app_id}/.default"}


@pytest.fixture(scope="module")
def tenant(state_dir: Path) -> Tenant:
    return Tenant(state_dir)


def assert_aadsts(r: httpx.Response, status: int, error: str, code: int, text: str) -> re.Match[str]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error and body["error_codes"] == [code], body
    assert body["error_description"].startswith(f"AADSTS{code}: {text}"), body["error_description"]
    tail = ERROR_DESCRIPTION_TAIL.search(body["error_description"])
    assert tail and tail["correlation_id"] == body["correlation_id"], body
    return tail


@examples(40)
@given(data=st.data())
def test_a_hostile_client_assertion_is_malformed(tenant: Tenant, data: st.DataObject) -> None:
    r = tenant.http.post(tenant.path, data=tenant.form(tenant.sign(data.draw(hostile_claims(tenant.claims())))))
    assert_aadsts(r, 400, "invalid_request", 50027, "JWT token is invalid or malformed.")
    assert tenant.entra.federated_requests[-1].claims is None  # nothing hostile was recorded


@pytest.mark.parametrize("name", ["iat", "exp", "nbf"])
@pytest.mark.parametrize("value", [1e300, -1, 2**62, MAX_NUMERIC_DATE + 1, "1800000000"])
def test_a_time_claim_outside_the_calendar_is_malformed(tenant: Tenant, name: str, value: object) -> None:
    assertion = tenant.sign(json.dumps(tenant.claims(**{name: value})).encode())
    r = tenant.http.post(tenant.path, data=tenant.form(assertion))
    assert_aadsts(r, 400, "invalid_request", 50027, "JWT token is invalid or malformed.")


@examples(30)
@given(data=st.data())
def test_a_form_that_is_not_utf8_is_aadsts90100(tenant: Tenant, data: st.DataObject) -> None:
    body = data.draw(bad_form(tenant.form(tenant.sign(json.dumps(tenant.claims()).encode()))))
    r = tenant.http.post(tenant.path, content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert_aadsts(r, 400, "invalid_request", 90100, "Request body is not valid: the request body is not valid UTF-8.")


@examples(30)
@given(header=st.one_of(
    st.binary(min_size=1, max_size=40).filter(lambda b: b.strip() and b"\r" not in b and b"\n" not in b
                                             and b"\x00" not in b),
    st.sampled_from([b"not a guid", b"7e1d9a3c 0000 4000 8000 00000000abcd", b"\xff\xfe", b"a b c"]),
))
def test_a_client_request_id_that_is_not_a_guid_is_not_echoed(tenant: Tenant, header: bytes) -> None:
    try:
        uuid.UUID(header.decode("latin-1").strip())
        return  # a GUID after all: echoed, as MSAL's are
    except ValueError:
        pass
    r = tenant.http.post(tenant.path, data={"grant_type": "client_credentials"},
                         headers={"client-request-id": header})
    tail = assert_aadsts(r, 400, "invalid_request", 900144, "The request body must contain the following parameter")
    uuid.UUID(tail["correlation_id"])  # a fresh one, as when none was sent


def test_a_guid_client_request_id_is_echoed(tenant: Tenant) -> None:
    sent = "7E1D9A3C-0000-4000-8000-00000000ABCD"
    r = tenant.http.post(tenant.path, data={"grant_type": "client_credentials"}, headers={"client-request-id": sent})
    assert assert_aadsts(r, 400, "invalid_request", 900144, "")["correlation_id"] == sent


# ── IMDS ──────────────────────────────────────────────────────────────────────────────────────────


@examples(30)
@given(escape=BAD_ESCAPES, where=st.sampled_from(["resource", "client_id", "api-version", "name"]))
def test_an_imds_query_that_is_not_utf8_is_invalid_request(tenant: Tenant, escape: str, where: str) -> None:
    params = {"api-version": "2018-02-01", "resource": "https://api.anthropic.com"}
    query = "&".join(f"{k}={v}" for k, v in params.items())
    query = query.replace(f"{where}=", f"{where}={escape}") if where in params else f"{query}&{where}{escape}=1"
    r = tenant.imds_http.get(f"{TOKEN_PATH}?{query}", headers={"metadata": "true"})
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_request", "error_description": "the query string is not valid UTF-8"}
    assert r.headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("metadata", [b"\xff", b"tru\xe9", b"true true", b"", b"TRUE\x7f"])
def test_a_malformed_metadata_header_is_the_missing_header_answer(tenant: Tenant, metadata: bytes) -> None:
    r = tenant.imds_http.get(TOKEN_PATH, params={"api-version": "2018-02-01", "resource": "https://x"},
                             headers={"metadata": metadata})
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_request", "error_description": "Required metadata header not specified"}


def test_a_well_formed_request_still_gets_its_token(tenant: Tenant) -> None:
    ok = tenant.imds_http.get(TOKEN_PATH, params={"api-version": "2018-02-01", "resource": "https://api.anthropic.com"},
                              headers={"metadata": "true"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["resource"] == "https://api.anthropic.com"


# ── the lab-only routes both mocks add (federated credentials, pods, tokens) ─────────────────────────


@examples(30)
@given(body=hostile_json(top="object"))
def test_entra_lab_credentials_refuse_hostile_bodies(tenant: Tenant, body: str) -> None:
    r = tenant.http.put("/lab/identities/claude-inference/federated_credentials/hostile", content=body.encode(),
                        headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BadRequest" and r.json()["error"]["message"].startswith("request body ")
    assert all(f.name != "hostile" for f in tenant.entra.federated_credentials("claude-inference"))


@examples(30)
@given(route=st.sampled_from(["PUT /lab/pods/hostile/claude-inference", "POST /lab/tokens",
                              "PUT /lab/attendees/hostile"]),
       body=hostile_json(top="object"))
def test_aks_lab_routes_refuse_hostile_bodies(tenant: Tenant, route: str, body: str) -> None:
    method, path = route.split(" ")
    http = TestClient(tenant.k8s.asgi(), base_url="https://oic.aks.test")
    r = http.request(method, path, content=body.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert (r.json()["kind"], r.json()["status"], r.json()["code"]) == ("Status", "Failure", 400)
    assert r.json()["message"].startswith("request body ")
    assert http.get("/lab/pods/hostile/claude-inference").status_code == 404  # nothing was deployed
