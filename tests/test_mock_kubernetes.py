"""Mock AKS cluster in-process: issuer discovery and JWKS, projected tokens, token files, kubelet refresh."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from starlette.testclient import TestClient

from tests._azure_lab import START, FakeClock, azure_context
from wif_lab.mock.aks import aks_cluster
from wif_lab.mock.base import LabContext
from wif_lab.mock.entra import EntraMock, default_tenant
from wif_lab.mock.kubernetes import (
    ANTHROPIC_AUDIENCE,
    ANTHROPIC_VOLUME,
    AZURE_VOLUME,
    CLIENT_ID_ANNOTATION,
    TOKEN_EXCHANGE_AUDIENCE,
    KubernetesMock,
)

K8S_BASE = "https://oic.aks.test"


def cluster_context(state_dir: Path, clock: FakeClock, seed: int = 20260617) -> LabContext:
    ctx = azure_context(state_dir / "aks", clock, seed=seed)
    ctx.base_urls["kubernetes"] = K8S_BASE
    ctx.state_dir = state_dir / "aks" / f"run-{uuid.uuid4().hex[:8]}"  # token files per test
    return ctx


def aks(ctx: LabContext, **options: object) -> KubernetesMock:
    """The cluster as the lab builds it: after Entra, wired to Entra's tenant."""
    entra = EntraMock(ctx)
    ctx.mocks["entra"] = entra
    return aks_cluster(ctx, entra, **options)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def k8s(state_dir: Path, clock: FakeClock) -> KubernetesMock:
    return aks(cluster_context(state_dir, clock))


@pytest.fixture
def http(k8s: KubernetesMock) -> TestClient:
    return TestClient(k8s.asgi(), base_url=K8S_BASE)


def claims_of(token: str, k8s: KubernetesMock, audience: str = TOKEN_EXCHANGE_AUDIENCE) -> dict:
    """Verify as a relying party would, with the key the cluster publishes for the token's kid."""
    (jwk,) = [k for k in k8s.jwks()["keys"] if k["kid"] == jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=audience, issuer=k8s.issuer,
                      options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})


def test_issuer_is_aks_shaped_with_trailing_slash(k8s: KubernetesMock) -> None:
    tenant_id = default_tenant(k8s.ctx.seed).tenant_id
    assert k8s.issuer == f"{K8S_BASE}/{tenant_id}/{k8s.cluster_id}/"
    uuid.UUID(k8s.cluster_id)


def test_discovery_document(http: TestClient, k8s: KubernetesMock) -> None:
    path = k8s.discovery_url.removeprefix(K8S_BASE)
    assert path.endswith("/.well-known/openid-configuration") and "//" not in path
    response = http.get(path)
    assert response.status_code == 200
    doc = response.json()
    assert doc == {
        "issuer": k8s.issuer,
        "jwks_uri": f"{k8s.issuer}openid/v1/jwks",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    # A relying party that strips the slash before appending the well-known path lands on the same document.
    assert http.get(k8s.issuer.rstrip("/").removeprefix(K8S_BASE) + "/.well-known/openid-configuration").json() == doc


def test_jwks_key_id_is_kubernetes_style(http: TestClient, k8s: KubernetesMock) -> None:
    before = k8s.jwks_fetches
    (key,) = http.get(k8s.jwks_uri.removeprefix(K8S_BASE)).json()["keys"]
    assert k8s.jwks_fetches == before + 1
    assert {key["kty"], key["alg"], key["use"], key["e"]} == {"RSA", "RS256", "sig", "AQAB"}
    public = jwt.PyJWK(key).key
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key["kid"] == base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert key["kid"] == k8s.kid


@pytest.mark.parametrize("path", ["/{tid}/00000000-0000-0000-0000-000000000000/.well-known/openid-configuration",
                                  "/00000000-0000-0000-0000-000000000000/{cluster}/openid/v1/jwks",
                                  "/.well-known/openid-configuration"])
def test_other_paths_are_not_found(http: TestClient, k8s: KubernetesMock, path: str) -> None:
    assert http.get(path.format(tid=k8s.tenant_id, cluster=k8s.cluster_id)).status_code == 404


def test_projected_token_claims_and_file(k8s: KubernetesMock) -> None:
    pod = k8s.default_pod
    volume = pod.volumes[AZURE_VOLUME]
    raw = volume.path.read_bytes()
    assert not raw.endswith(b"\n")  # the kubelet writes the bare token
    token = raw.decode()
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": k8s.kid}  # no typ
    claims = claims_of(token, k8s)
    assert list(claims) == ["aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"]
    assert claims["aud"] == [TOKEN_EXCHANGE_AUDIENCE]  # an array, as kubelet requests it
    assert claims["sub"] == "system:serviceaccount:inference:claude-inference"
    assert claims["iat"] == claims["nbf"] == int(START) and claims["exp"] - claims["iat"] == 3600
    uuid.UUID(claims["jti"])
    block = claims["kubernetes.io"]
    assert block["namespace"] == "inference"
    assert block["serviceaccount"] == {"name": "claude-inference", "uid": pod.service_account.uid}
    assert block["pod"] == {"name": pod.name, "uid": pod.uid}
    assert block["node"]["name"].startswith("aks-nodepool1-") and block["node"]["uid"] == pod.node_uid
    assert volume.path.parts[-3:] == ("azure", "tokens", "azure-identity-token")
    assert volume.pod_path == "/var/run/secrets/azure/tokens/azure-identity-token"


def test_direct_path_volume_has_the_anthropic_audience(k8s: KubernetesMock) -> None:
    volume = k8s.default_pod.volumes[ANTHROPIC_VOLUME]
    claims = claims_of(volume.path.read_text(), k8s, audience=ANTHROPIC_AUDIENCE)
    assert claims["aud"] == [ANTHROPIC_AUDIENCE]
    assert claims["jti"] != k8s.default_pod.volumes[AZURE_VOLUME].claims["jti"]
    assert volume.pod_path == "/var/run/secrets/anthropic.com/token"


def test_default_scenario_is_deterministic(state_dir: Path) -> None:
    a = aks(cluster_context(state_dir, FakeClock()))
    b = aks(cluster_context(state_dir, FakeClock()))
    other = aks(cluster_context(state_dir, FakeClock(), seed=7))

    def facts(m: KubernetesMock) -> tuple:
        pod = m.default_pod
        return m.issuer, m.kid, pod.name, pod.uid, pod.service_account.uid, pod.node_name

    assert facts(a) == facts(b)
    assert facts(a)[0] != facts(other)[0] and facts(a)[2] != facts(other)[2]


def test_webhook_env_and_connection(k8s: KubernetesMock) -> None:
    tenant = default_tenant(k8s.ctx.seed)
    client_id = tenant.identity("claude-inference").client_id
    sa = k8s.default_pod.service_account
    assert sa.annotations == {CLIENT_ID_ANNOTATION: client_id}
    conn = k8s.connection()
    assert conn["env"] == {
        "AZURE_AUTHORITY_HOST": "https://entra.test/",  # trailing slash, like AKS's public value
        "AZURE_CLIENT_ID": client_id,
        "AZURE_FEDERATED_TOKEN_FILE": str(k8s.default_pod.volumes[AZURE_VOLUME].path),
        "AZURE_TENANT_ID": tenant.tenant_id,
    }
    assert conn["service_account"] == "inference/claude-inference"
    assert conn["subject"] == sa.subject and conn["issuer"] == k8s.issuer and conn["jwks_uri"] == k8s.jwks_uri
    assert conn["token_file"] == conn["env"]["AZURE_FEDERATED_TOKEN_FILE"]
    assert Path(conn["anthropic_token_file"]).read_text() == k8s.default_pod.volumes[ANTHROPIC_VOLUME].token
    app_id = tenant.apps["claude-api-federation"].app_id
    assert conn["scope"] == f"api://{app_id}/.default"
    assert str(k8s.ctx.state_dir) in conn["token_file"]


def test_rotate_rewrites_every_file(k8s: KubernetesMock, clock: FakeClock) -> None:
    volumes = k8s.default_pod.volumes
    before = {name: (v.path.read_text(), v.claims["jti"]) for name, v in volumes.items()}
    clock.advance(120)
    rotated = k8s.rotate()
    assert {v.name for v in rotated} == {AZURE_VOLUME, ANTHROPIC_VOLUME}
    for name, volume in volumes.items():
        text = volume.path.read_text()
        assert text != before[name][0] and text == volume.token
        claims = claims_of(text, k8s, audience=volume.audience)
        assert claims["jti"] != before[name][1] and claims["iat"] == int(START) + 120
        assert volume.rotations == 1


def test_kubelet_refreshes_at_80_percent(k8s: KubernetesMock, clock: FakeClock) -> None:
    clock.advance(0.8 * 3600 - 1)
    assert k8s.refresh_due() == []
    clock.advance(1)
    assert len(k8s.refresh_due()) == 2
    assert k8s.refresh_due() == []  # the fresh tokens are not due
    assert k8s.default_pod.volumes[AZURE_VOLUME].claims["iat"] == int(START + 0.8 * 3600)


def test_refresh_fraction_is_configurable(state_dir: Path, clock: FakeClock) -> None:
    k8s = aks(cluster_context(state_dir, clock), refresh_fraction=0.5)
    clock.advance(1800)
    assert len(k8s.refresh_due()) == 2
    with pytest.raises(ValueError):
        aks(cluster_context(state_dir, clock), refresh_fraction=0)


def test_background_kubelet_rotates_due_tokens(k8s: KubernetesMock, clock: FakeClock) -> None:
    volume = k8s.default_pod.volumes[AZURE_VOLUME]
    first = volume.path.read_text()
    k8s.start_kubelet(poll_seconds=0.01)
    try:
        clock.advance(3000)
        deadline = time.monotonic() + 10
        while volume.path.read_text() == first and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        k8s.stop_kubelet()
    assert claims_of(volume.path.read_text(), k8s)["iat"] == int(START) + 3000


def test_readers_never_see_half_a_token(k8s: KubernetesMock) -> None:
    path = k8s.default_pod.volumes[AZURE_VOLUME].path
    stop = threading.Event()
    bad: list[str] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        while not stop.is_set():
            text = path.read_text()
            reads += 1
            try:
                claims_of(text, k8s)
            except jwt.PyJWTError:
                bad.append(text)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(40):
            k8s.rotate()
    finally:
        stop.set()
        thread.join()
    assert reads > 0 and bad == []


def test_lab_rotate_route(http: TestClient, k8s: KubernetesMock) -> None:
    old = k8s.default_pod.volumes[AZURE_VOLUME].claims["jti"]
    body = http.post("/lab/rotate").json()
    entry = next(e for e in body["rotated"] if e["audience"] == TOKEN_EXCHANGE_AUDIENCE)
    assert entry["jti"] != old and entry["jti"] == k8s.default_pod.volumes[AZURE_VOLUME].claims["jti"]
    assert "eyJ" not in str(body)  # facts about the new tokens, never the tokens themselves


def test_other_workloads_and_validation(k8s: KubernetesMock) -> None:
    sa = k8s.add_service_account("batch", "reporter")
    assert sa.client_id is None
    pod = k8s.deploy(sa, expiration_seconds=7200, anthropic_token=False)
    assert set(pod.volumes) == {AZURE_VOLUME}
    claims = claims_of(pod.volumes[AZURE_VOLUME].token, k8s)
    assert claims["sub"] == "system:serviceaccount:batch:reporter" and claims["exp"] - claims["iat"] == 7200
    assert pod.volumes[AZURE_VOLUME].path != k8s.default_pod.volumes[AZURE_VOLUME].path
    with pytest.raises(ValueError, match="already exists"):
        k8s.add_service_account("batch", "reporter")
    with pytest.raises(ValueError, match="already running"):
        k8s.deploy(sa)
    other = k8s.add_service_account("batch", "short")
    for bad in (600, 90000):
        with pytest.raises(ValueError, match=r"3600\.\.86400"):
            k8s.deploy(other, expiration_seconds=bad)


def test_mint_with_a_foreign_key_is_not_in_the_jwks(k8s: KubernetesMock) -> None:
    token = k8s.mint(k8s.default_pod.service_account, TOKEN_EXCHANGE_AUDIENCE, signing_key="aks-foreign-signer")
    kid = jwt.get_unverified_header(token)["kid"]
    assert kid != k8s.kid and kid not in [k["kid"] for k in k8s.jwks()["keys"]]


def test_stopping_the_stack_stops_the_kubelet(fresh_stack) -> None:
    cluster = fresh_stack.mocks["kubernetes"]
    cluster.start_kubelet(poll_seconds=60)
    kubelet = cluster._kubelet
    assert kubelet is not None and kubelet.is_alive()
    fresh_stack.stop()
    assert not kubelet.is_alive()
