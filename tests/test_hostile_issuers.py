"""Hostile input against the two plain issuers, in-process: the generic OIDC issuer's lab-only mint
route and the Kubernetes issuer's documents."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests._hostile import examples, hostile_json
from wif_lab.mock.base import LabContext, seeded_guid
from wif_lab.mock.keys import KeyStore
from wif_lab.mock.kubernetes import KubernetesMock
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
