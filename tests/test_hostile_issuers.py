"""Hostile input against the plain issuers, in-process: the generic OIDC issuer's lab-only mint route, the
AKS cluster issuer's documents, and the self-managed cluster's API server (TokenRequest, bearer tokens, lab routes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests._hostile import examples, hostile_claims, hostile_json, json_values, raw_header_token, sign_raw
from wif_lab.mock.base import LabContext, seeded_guid
from wif_lab.mock.keys import KeyStore
from wif_lab.mock.kubernetes import KubernetesMock
from wif_lab.mock.kubernetes.self_managed import ISSUER, SIGNING_KEY, SelfManagedCluster
from wif_lab.mock.oidc import MINT_ALGORITHMS, OidcIssuer
from wif_lab.mock.tls import ensure_lab_tls
from wif_lab.tokens import decode

BASE = "https://127.0.0.1:2"


@pytest.fixture(scope="module")
def context(state_dir: Path) -> LabContext:
    d = state_dir / "shared"
    return LabContext(d, KeyStore(d), ensure_lab_tls(d), {"oidc": BASE, "kubernetes": BASE},
                      run_dir=state_dir / "hostile-issuers")


@pytest.fixture(scope="module")
def oidc(context: LabContext) -> TestClient:
    return TestClient(OidcIssuer(context).asgi(), base_url=BASE)


@pytest.fixture(scope="module")
def cluster(context: LabContext) -> KubernetesMock:
    return KubernetesMock(context, tenant_id=seeded_guid(context.seed, "tenant"))  # a plain cluster, no Entra


@examples(30)
@given(body=hostile_json(top="object"))
def test_mint_refuses_hostile_bodies(oidc: TestClient, body: str) -> None:
    r = oidc.post("/lab/mint", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    assert r.json()["error_description"].startswith("request body ")


@pytest.mark.parametrize(
    "body",
    [{"lifetime": 10**12}, {"lifetime": 1.5}, {"lifetime": True}, {"lifetime": "300"}, {"lifetime": [1]},
     {"lifetime": 604_801}, {"alg": "none"}, {"alg": "HS256"}, {"alg": ["RS256"]}, {"claims": ["x"]}, {"claims": "x"}],
)
def test_mint_refuses_what_it_cannot_sign(oidc: TestClient, body: dict[str, object]) -> None:
    r = oidc.post("/lab/mint", json=body)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request" and "lifetime from" in r.json()["error_description"]


@pytest.mark.parametrize("alg", MINT_ALGORITHMS)
def test_mint_signs_with_every_algorithm_it_offers(oidc: TestClient, alg: str) -> None:
    r = oidc.post("/lab/mint", json={"claims": {"sub": "w"}, "lifetime": -60, "alg": alg})
    assert r.status_code == 200, r.text
    token = decode(r.json()["token"])
    assert token.header["alg"] == alg and token.subject == "w" and token.lifetime_seconds == -60


@examples(30)
@given(segment=st.sampled_from(["%ff", "%ED%A0%80", "%00", "..", quote("é"), "a" * 3000, "%"]),
       where=st.sampled_from(["tenant", "cluster", "tail"]))
def test_odd_document_paths_are_the_api_servers_404(cluster: KubernetesMock, segment: str, where: str) -> None:
    http = TestClient(cluster.asgi(), base_url=BASE)
    tenant, cluster_id, tail = cluster.tenant_id, cluster.cluster_id, ".well-known/openid-configuration"
    if where == "tenant":
        tenant = segment
    elif where == "cluster":
        cluster_id += segment
    else:
        tail += segment
    r = http.get(f"/{tenant}/{cluster_id}/{tail}")
    assert r.status_code == 404
    assert r.text in ("The specified resource does not exist.", "Not Found")


# --- the self-managed cluster's API server: TokenRequest bodies, bearer tokens, paths, lab routes ----------


@pytest.fixture(scope="module")
def api_server(context: LabContext) -> SelfManagedCluster:
    context.base_urls.setdefault("kubernetes_cluster", BASE)
    return SelfManagedCluster(context)


def _status(r: Any, code: int, reason: str) -> None:
    assert r.status_code == code, r.text
    body = r.json()
    assert (body["kind"], body["status"], body["reason"], body["code"]) == ("Status", "Failure", reason, code)


TOKEN_PATH = "/api/v1/namespaces/inference/serviceaccounts/inference-worker/token"


@examples(40)
@given(body=hostile_json(top="object"))
def test_token_request_refuses_hostile_bodies(api_server: SelfManagedCluster, body: str) -> None:
    http = TestClient(api_server.asgi(), base_url=BASE)
    r = http.post(TOKEN_PATH, content=body, headers={"authorization": f"Bearer {api_server.admin_token}",
                                                      "content-type": "application/json"})
    _status(r, 400, "BadRequest")


@examples(40)
@given(spec=st.dictionaries(st.sampled_from(["audiences", "expirationSeconds", "boundObjectRef"]), json_values,
                            max_size=3))
def test_token_request_answers_any_spec_without_a_server_error(api_server: SelfManagedCluster,
                                                               spec: dict[str, Any]) -> None:
    http = TestClient(api_server.asgi(), base_url=BASE)
    r = http.post(TOKEN_PATH, json={"spec": spec}, headers={"authorization": f"Bearer {api_server.admin_token}"})
    assert r.status_code in (201, 400, 404, 422), r.text
    if r.status_code != 201:
        assert r.json()["kind"] == "Status" and r.json()["code"] == r.status_code


@examples(40)
@given(payload=hostile_claims({"sub": "system:serviceaccount:inference:inference-worker", "iss": ISSUER,
                               "aud": [ISSUER], "exp": 4_000_000_000, "iat": 1_700_000_000}),
       header=st.sampled_from([{}, {"kid": ["x"]}, {"kid": None}]))
def test_a_hostile_bearer_token_is_unauthorized(api_server: SelfManagedCluster, payload: bytes,
                                                header: dict[str, Any]) -> None:
    if header:  # a header pyjwt will not even sign: sent unsigned, the strict parse must refuse it first
        token = raw_header_token(json.dumps({"alg": "RS256", **header}).encode(), payload)
    else:
        token = sign_raw(payload, api_server.ctx.keys.private_key(SIGNING_KEY), headers={"kid": api_server.kid})
    http = TestClient(api_server.asgi(), base_url=BASE)
    r = http.post(TOKEN_PATH, json={}, headers={"authorization": f"Bearer {token}"})
    _status(r, 401, "Unauthorized")


@examples(30)
@given(segment=st.sampled_from(["%ff", "%ED%A0%80", "%00", "..", quote("é"), "a" * 3000, "%", "UPPER", "-x"]),
       where=st.sampled_from(["namespace", "name"]))
def test_odd_namespaces_and_names_are_not_found(api_server: SelfManagedCluster, segment: str, where: str) -> None:
    namespace, name = ("inference" + segment, "inference-worker") if where == "namespace" else (
        "inference", "inference-worker" + segment)
    http = TestClient(api_server.asgi(), base_url=BASE)
    r = http.post(f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", json={},
                  headers={"authorization": f"Bearer {api_server.admin_token}"})
    assert r.status_code == 404, r.text


@examples(30)
@given(body=hostile_json(top="object"))
def test_rotate_signing_key_refuses_hostile_bodies(api_server: SelfManagedCluster, body: str) -> None:
    http = TestClient(api_server.asgi(), base_url=BASE)
    r = http.post("/lab/rotate-signing-key", content=body, headers={"content-type": "application/json"})
    _status(r, 400, "BadRequest")
