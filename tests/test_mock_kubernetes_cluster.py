"""The self-managed cluster mock, in-process: issuer documents, token shapes, the kubelet's refresh points,
signing-key rotation, and the API server's TokenRequest with one test per documented refusal."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from tests._azure_lab import FakeClock, azure_context
from wif_lab.mock.base import LabContext
from wif_lab.mock.kubernetes import key_id
from wif_lab.mock.kubernetes.errors import Invalid
from wif_lab.mock.kubernetes.self_managed import (
    ANTHROPIC_AUDIENCE,
    EXTENDED_LIFETIME,
    ISSUER,
    PAGE_PROJECTION,
    Projection,
    SelfManagedCluster,
)

BASE = "https://k8s-api.test:6443"
TOKEN_PATH = "/api/v1/namespaces/inference/serviceaccounts/inference-worker/token"


def context(state_dir: Path, clock: FakeClock) -> LabContext:
    ctx = azure_context(state_dir / "k8s", clock)
    ctx.base_urls["kubernetes_cluster"] = BASE
    ctx.run_dir = state_dir / "k8s" / f"run-{uuid.uuid4().hex[:8]}"  # token files per test
    return ctx


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cluster(state_dir: Path, clock: FakeClock) -> SelfManagedCluster:
    return SelfManagedCluster(context(state_dir, clock))


@pytest.fixture
def http(cluster: SelfManagedCluster) -> TestClient:
    return TestClient(cluster.asgi(), base_url=BASE)


def admin(cluster: SelfManagedCluster) -> dict[str, str]:
    return {"authorization": f"Bearer {cluster.admin_token}"}


def verified(token: str, cluster: SelfManagedCluster, audience: str) -> dict[str, Any]:
    """As a relying party with the published keys would verify it."""
    (jwk,) = [k for k in cluster.jwks()["keys"] if k["kid"] == jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=audience, issuer=ISSUER,
                      options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})


def status_of(response: Any, code: int, reason: str) -> dict[str, Any]:
    assert response.status_code == code, response.text
    body = response.json()
    assert (body["kind"], body["apiVersion"], body["status"], body["reason"], body["code"]) == (
        "Status", "v1", "Failure", reason, code)
    return body


# --- issuer documents ----------------------------------------------------------------------------------


def test_discovery_names_the_cluster_internal_issuer_and_the_external_jwks_uri(http: TestClient) -> None:
    doc = http.get("/.well-known/openid-configuration").json()
    assert doc == {"issuer": ISSUER, "jwks_uri": f"{BASE}/openid/v1/jwks", "response_types_supported": ["id_token"],
                   "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]}


def test_jwks_is_the_api_servers_key_set(http: TestClient, cluster: SelfManagedCluster) -> None:
    r = http.get("/openid/v1/jwks")
    assert r.headers["content-type"] == "application/jwk-set+json"
    (key,) = r.json()["keys"]
    assert set(key) == {"use", "kty", "kid", "alg", "n", "e"}
    assert (key["use"], key["kty"], key["alg"], key["kid"]) == ("sig", "RSA", "RS256", cluster.kid)
    assert cluster.jwks_fetches == 1


# --- token shapes -----------------------------------------------------------------------------------------


def test_the_guides_projected_token(cluster: SelfManagedCluster, clock: FakeClock) -> None:
    pod = cluster.page_pod
    (volume,) = pod.projected
    token = Path(volume.path).read_text()
    assert not token.endswith("\n") and token == volume.token
    assert volume.pod_path == "/var/run/secrets/anthropic.com/token"
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": key_id(cluster.ctx.keys.private_key("kubernetes-service-account-signer"))}
    claims = verified(token, cluster, ANTHROPIC_AUDIENCE)
    assert claims["aud"] == [ANTHROPIC_AUDIENCE] and claims["sub"] == "system:serviceaccount:inference:inference-worker"
    assert claims["iat"] == claims["nbf"] == int(clock.now) and claims["exp"] - claims["iat"] == 3600
    uuid.UUID(claims["jti"])
    block = claims["kubernetes.io"]
    assert block["namespace"] == "inference" and block["pod"]["name"] == pod.name
    assert block["serviceaccount"] == {"name": "inference-worker", "uid": pod.service_account.uid}
    assert block["node"]["name"] == cluster.node_name and "warnafter" not in block


def test_the_default_token_lives_a_year_for_the_api_servers_audience(cluster: SelfManagedCluster) -> None:
    volume = cluster.other_pod.default_token
    assert volume.pod_path == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    claims = verified(Path(volume.path).read_text(), cluster, ISSUER)
    assert claims["aud"] == [ISSUER] and claims["sub"] == "system:serviceaccount:reporting:batch-reporting"
    assert claims["exp"] - claims["iat"] == EXTENDED_LIFETIME
    assert claims["kubernetes.io"]["warnafter"] == claims["iat"] + 3607


def test_without_the_extension_the_default_token_lives_3607_seconds(state_dir: Path, clock: FakeClock) -> None:
    cluster = SelfManagedCluster(context(state_dir, clock), extend_token_expiration=False,
                                 api_audiences=["https://kubernetes.default.svc", ISSUER])
    claims = verified(cluster.page_pod.default_token.token, cluster, ISSUER)
    assert claims["exp"] - claims["iat"] == 3607 and "warnafter" not in claims["kubernetes.io"]
    assert claims["aud"] == ["https://kubernetes.default.svc", ISSUER]


def test_the_kubelet_refreshes_at_80_percent_of_the_requested_lifetime(cluster: SelfManagedCluster,
                                                                       clock: FakeClock) -> None:
    projected, default = cluster.page_pod.projected[0], cluster.page_pod.default_token
    first = projected.token
    clock.advance(0.8 * 3600 - 1)
    assert cluster.refresh_due() == []
    clock.advance(1)
    assert cluster.refresh_due() == [projected]  # 2880 s; the default token (3607 s requested) not yet
    assert Path(projected.path).read_text() == projected.token != first
    assert projected.rotations == 1
    clock.advance(2886 - 2880)
    assert default in cluster.refresh_due()  # at 80 % of 3607 s, not of its year-long exp


def test_lab_rotate_rewrites_every_file_with_a_new_jti(http: TestClient, cluster: SelfManagedCluster) -> None:
    before = {v.pod_path + v.pod: v.claims["jti"] for v in cluster.rotate()}
    r = http.post("/lab/rotate")
    assert r.status_code == 200
    rotated = r.json()["rotated"]
    assert len(rotated) == 3 and all(before[e["path"] + e["pod"]] != e["jti"] for e in rotated)


@pytest.mark.parametrize(("seconds", "detail"), [(599, "may not specify a duration less than 10 minutes"),
                                                  (2**32 + 1, "may not specify a duration larger than 2^32 seconds")])
def test_a_pod_with_a_projection_out_of_range_is_not_admitted(cluster: SelfManagedCluster, seconds: int,
                                                              detail: str) -> None:
    cluster.add_service_account("batch", "short")
    with pytest.raises(Invalid) as caught:
        cluster.run_pod("batch", "short", projections=[Projection(ANTHROPIC_AUDIENCE, seconds, "token", "/x")])
    assert caught.value.status == 422
    assert caught.value.body["message"] == (
        f'Pod "" is invalid: spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: '
        f"Invalid value: {seconds}: {detail}")


def test_the_minimum_projection_is_admitted(cluster: SelfManagedCluster) -> None:
    cluster.add_service_account("batch", "minimal")
    pod = cluster.run_pod("batch", "minimal", projections=[Projection(ANTHROPIC_AUDIENCE, 600, "token", "/x")])
    assert pod.projected[0].claims["exp"] - pod.projected[0].claims["iat"] == 600


def test_the_lab_pod_is_the_guides_projection() -> None:
    assert Projection("https://api.anthropic.com", 3600, "token", "/var/run/secrets/anthropic.com") == PAGE_PROJECTION


# --- signing-key rotation ----------------------------------------------------------------------------------


def test_a_new_signing_key_is_published_beside_the_old_until_retired(http: TestClient,
                                                                     cluster: SelfManagedCluster) -> None:
    old = cluster.kid
    r = http.post("/lab/rotate-signing-key")
    assert r.status_code == 200 and r.json()["kid"] == cluster.kid != old
    assert r.json()["jwks_kids"] == [old, cluster.kid]
    (volume,) = cluster.page_pod.projected
    assert jwt.get_unverified_header(volume.token)["kid"] == old  # files keep their token until the kubelet acts
    cluster.rotate()
    assert jwt.get_unverified_header(volume.token)["kid"] == cluster.kid
    middle = cluster.kid
    r = http.post("/lab/rotate-signing-key")
    assert r.json()["jwks_kids"] == [middle, cluster.kid]  # the lab keeps two: the new key and the one before
    r = http.post("/lab/rotate-signing-key", json={"retire_previous": True})
    assert r.json()["jwks_kids"] == [cluster.kid]


@pytest.mark.parametrize("body", ['{"retire_previous": "yes"}', "[1]", '{"retire_previous": NaN}'])
def test_rotate_signing_key_refuses_a_malformed_body(http: TestClient, body: str) -> None:
    r = http.post("/lab/rotate-signing-key", content=body, headers={"content-type": "application/json"})
    status_of(r, 400, "BadRequest")


# --- TokenRequest ---------------------------------------------------------------------------------------


def test_token_request_issues_a_token_for_the_api_servers_audience_by_default(http: TestClient,
                                                                               cluster: SelfManagedCluster,
                                                                               clock: FakeClock) -> None:
    r = http.post(TOKEN_PATH, json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
                  headers=admin(cluster))
    assert r.status_code == 201
    body = r.json()
    assert (body["kind"], body["spec"]["audiences"], body["spec"]["expirationSeconds"]) == ("TokenRequest", [ISSUER],
                                                                                           3600)
    claims = verified(body["status"]["token"], cluster, ISSUER)
    assert claims["exp"] - claims["iat"] == 3600 and "pod" not in claims["kubernetes.io"]
    assert body["status"]["expirationTimestamp"].endswith("Z")


def test_token_request_bound_to_a_pod_names_the_pod(http: TestClient, cluster: SelfManagedCluster) -> None:
    pod = cluster.page_pod
    spec = {"audiences": [ANTHROPIC_AUDIENCE], "expirationSeconds": 600,
            "boundObjectRef": {"kind": "Pod", "name": pod.name}}
    r = http.post(TOKEN_PATH, headers=admin(cluster), json={"spec": spec})
    assert r.status_code == 201
    claims = verified(r.json()["status"]["token"], cluster, ANTHROPIC_AUDIENCE)
    assert claims["kubernetes.io"]["pod"] == {"name": pod.name, "uid": pod.uid}


def test_no_bearer_is_unauthorized(http: TestClient) -> None:
    body = status_of(http.post(TOKEN_PATH, json={}), 401, "Unauthorized")
    assert body["message"] == "Unauthorized"


@pytest.mark.parametrize("which", ["garbage", "projected", "expired", "foreign-key"])
def test_a_bearer_the_api_server_cannot_authenticate_is_unauthorized(http: TestClient, cluster: SelfManagedCluster,
                                                                     clock: FakeClock, which: str) -> None:
    if which == "garbage":
        bearer = "not-a-token"
    elif which == "projected":  # a valid token of this cluster, but minted for Anthropic, not the API server
        bearer = cluster.page_pod.projected[0].token
    elif which == "expired":
        bearer = cluster.mint(cluster.page_pod.service_account, [ISSUER], 600)
        clock.advance(601)
    else:
        bearer = jwt.encode({"sub": "system:serviceaccount:a:b", "iss": ISSUER, "aud": [ISSUER], "exp": clock.now + 60},
                            cluster.ctx.keys.private_key("someone-else"), algorithm="RS256",
                            headers={"kid": cluster.kid})
    status_of(http.post(TOKEN_PATH, json={}, headers={"authorization": f"Bearer {bearer}"}), 401, "Unauthorized")


def test_a_service_account_may_not_create_tokens(http: TestClient, cluster: SelfManagedCluster) -> None:
    bearer = cluster.page_pod.default_token.token
    body = status_of(http.post(TOKEN_PATH, json={}, headers={"authorization": f"Bearer {bearer}"}), 403, "Forbidden")
    assert body["message"] == ('serviceaccounts "inference-worker" is forbidden: User '
                               '"system:serviceaccount:inference:inference-worker" cannot create resource '
                               '"serviceaccounts/token" in API group "" in the namespace "inference"')


def test_an_unknown_service_account_is_not_found(http: TestClient, cluster: SelfManagedCluster) -> None:
    r = http.post("/api/v1/namespaces/inference/serviceaccounts/nobody/token", json={}, headers=admin(cluster))
    body = status_of(r, 404, "NotFound")
    assert body["message"] == 'serviceaccounts "nobody" not found'
    assert body["details"] == {"name": "nobody", "kind": "serviceaccounts"}


@pytest.mark.parametrize(("seconds", "detail"), [(60, "may not specify a duration less than 10 minutes"),
                                                  (-1, "may not specify a duration less than 10 minutes"),
                                                  (2**32 + 1, "may not specify a duration larger than 2^32 seconds")])
def test_an_expiration_out_of_range_is_invalid(http: TestClient, cluster: SelfManagedCluster, seconds: int,
                                               detail: str) -> None:
    r = http.post(TOKEN_PATH, json={"spec": {"expirationSeconds": seconds}}, headers=admin(cluster))
    body = status_of(r, 422, "Invalid")
    assert body["message"] == (f'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
                               f"Invalid value: {seconds}: {detail}")
    assert body["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "spec.expirationSeconds",
                                          "message": f"Invalid value: {seconds}: {detail}"}]


def test_a_pod_of_another_service_account_cannot_be_bound(http: TestClient, cluster: SelfManagedCluster) -> None:
    other = cluster.other_pod.name
    r = http.post("/api/v1/namespaces/reporting/serviceaccounts/batch-reporting/token", headers=admin(cluster),
                  json={"spec": {"boundObjectRef": {"kind": "Pod", "name": "ghost"}}})
    assert status_of(r, 404, "NotFound")["message"] == 'pods "ghost" not found'
    cluster.add_service_account("reporting", "auditor")
    r = http.post("/api/v1/namespaces/reporting/serviceaccounts/auditor/token", headers=admin(cluster),
                  json={"spec": {"boundObjectRef": {"kind": "Pod", "name": other}}})
    assert status_of(r, 422, "Invalid")["details"]["causes"][0]["field"] == "spec.boundObjectRef"


@pytest.mark.parametrize("body", ['{"spec": {"audiences": "x"}}', '{"spec": {"expirationSeconds": "600"}}',
                                  '{"spec": {"expirationSeconds": true}}', '{"spec": []}', "not json",
                                  '{"apiVersion": "v1"}'])
def test_a_body_that_is_not_a_token_request_is_a_bad_request(http: TestClient, cluster: SelfManagedCluster,
                                                             body: str) -> None:
    r = http.post(TOKEN_PATH, content=body, headers={**admin(cluster), "content-type": "application/json"})
    status_of(r, 400, "BadRequest")


def test_an_unknown_media_type_is_refused(http: TestClient, cluster: SelfManagedCluster) -> None:
    r = http.post(TOKEN_PATH, content="spec: {}", headers={**admin(cluster), "content-type": "text/plain"})
    assert "unknown format" in status_of(r, 415, "UnsupportedMediaType")["message"]


def test_the_connection_section_names_the_pods_files(cluster: SelfManagedCluster) -> None:
    section = cluster.connection()
    assert section["base_url"] == section["api_server"] == BASE and section["issuer"] == ISSUER
    assert section["subject"] == "system:serviceaccount:inference:inference-worker"
    assert section["env"] == {"ANTHROPIC_IDENTITY_TOKEN_FILE": section["token_file"]}
    assert Path(section["other_workload"]["default_token_file"]).is_file()
    assert cluster.connection_section == "kubernetes"
