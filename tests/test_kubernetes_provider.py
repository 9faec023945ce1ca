"""The self-managed Kubernetes workload side and scenario helpers, in-process: the token file, the API server
client against the cluster mock (through an httpx transport), refusals with their hints, and the tables."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from starlette.testclient import TestClient

from tests._azure_lab import FakeClock, azure_context
from wif_lab.errors import ConfigurationError
from wif_lab.examples import path_of
from wif_lab.mock.kubernetes.self_managed import ISSUER, PAGE_PROJECTION, PAGE_WORKLOAD, SelfManagedCluster
from wif_lab.providers.kubernetes import HINTS, ApiServer, KubernetesRefused, read_token_file, refusal
from wif_lab.redact import Secret
from wif_lab.runbook import Note
from wif_lab.scenarios import kubernetes as k8s_lab

BASE = "https://k8s-api.test:6443"


@pytest.fixture
def cluster(state_dir: Path) -> SelfManagedCluster:
    ctx = azure_context(state_dir / "k8s-provider", FakeClock())
    ctx.base_urls["kubernetes_cluster"] = BASE
    ctx.run_dir = state_dir / "k8s-provider" / f"run-{uuid.uuid4().hex[:8]}"
    return SelfManagedCluster(ctx)


def transport(cluster: SelfManagedCluster) -> httpx.MockTransport:
    """The cluster's app behind an httpx transport: the client is unchanged, no socket is opened."""
    app = TestClient(cluster.asgi(), base_url=BASE)

    def handle(request: httpx.Request) -> httpx.Response:
        answer = app.request(request.method, request.url.raw_path.decode(), content=request.content,
                             headers=dict(request.headers))
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    return httpx.MockTransport(handle)


def api(cluster: SelfManagedCluster, token: str | None = "admin") -> ApiServer:
    bearer = cluster.admin_token if token == "admin" else token
    return ApiServer(BASE, token=bearer, transport=transport(cluster))


# --- the token file ------------------------------------------------------------------------------------


def test_the_token_file_is_read_fresh_and_stripped(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("eyJ.a.b\n")
    assert isinstance(read_token_file(path), Secret) and read_token_file(path) == "eyJ.a.b"
    path.write_text("eyJ.c.d")
    assert read_token_file(path) == "eyJ.c.d"


@pytest.mark.parametrize(("make", "words"), [
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: p.write_text(" \n"), "is empty"),
])
def test_a_token_file_problem_names_what_to_check(tmp_path: Path, make: object, words: str) -> None:
    path = tmp_path / "token"
    make(path)  # type: ignore[operator]
    with pytest.raises(ConfigurationError, match=words) as caught:
        read_token_file(path)
    assert caught.value.hint


# --- the API server ----------------------------------------------------------------------------------


def test_discovery_and_keys_as_kubectl_get_raw_reads_them(cluster: SelfManagedCluster) -> None:
    server = api(cluster, token=None)  # anonymous, as the discovery role allows
    assert server.discovery()["issuer"] == ISSUER
    keys = k8s_lab.inline_keys(server.jwks())
    assert keys == [{m: k[m] for m in ("kty", "kid", "alg", "use", "n", "e")} for k in cluster.jwks()["keys"]]


def test_create_token_returns_the_token_redacted_in_repr(cluster: SelfManagedCluster) -> None:
    issued = api(cluster).create_token("reporting", "batch-reporting", audiences=["https://api.anthropic.com"],
                                       expiration_seconds=600, bound_pod=cluster.other_pod.name)
    assert issued.audiences == ["https://api.anthropic.com"] and issued.expiration_seconds == 600
    assert issued.token.reveal() not in repr(issued)


@pytest.mark.parametrize(("call", "code", "status"), [
    (lambda s: s.create_token("inference", "inference-worker", expiration_seconds=60), "Invalid", 422),
    (lambda s: s.create_token("inference", "nobody"), "NotFound", 404),
])
def test_api_server_refusals_carry_the_status_reason_and_its_hint(cluster: SelfManagedCluster, call: object,
                                                                  code: str, status: int) -> None:
    with pytest.raises(KubernetesRefused) as caught:
        call(api(cluster))  # type: ignore[operator]
    assert (caught.value.code, caught.value.status, caught.value.hint) == (code, status, HINTS[code])


def test_unauthorized_and_forbidden(cluster: SelfManagedCluster) -> None:
    with pytest.raises(KubernetesRefused) as caught:
        api(cluster, token="wrong").create_token("inference", "inference-worker")
    assert caught.value.code == "Unauthorized" and caught.value.hint == HINTS["Unauthorized"]
    with pytest.raises(KubernetesRefused) as caught:
        api(cluster, token=cluster.page_pod.default_token.token).create_token("inference", "inference-worker")
    assert caught.value.code == "Forbidden" and "serviceaccounts/token" in caught.value.hint


@pytest.mark.parametrize(("response", "hint_words"), [
    (httpx.Response(503, text="upstream connect error"), "retry with backoff"),
    (httpx.Response(418, json=["not", "a", "status"]), "kubectl"),
    (httpx.Response(409, json={"kind": "Status", "reason": "AlreadyExists", "message": "x"}), "kubectl"),
])
def test_refusal_of_an_unexpected_answer_still_says_what_to_check(response: httpx.Response, hint_words: str) -> None:
    refused = refusal(response)
    assert refused.status == response.status_code and hint_words in refused.hint


def test_in_cluster_reads_the_service_host_and_the_pods_own_token(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("eyJ.x.y")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    server = ApiServer.in_cluster({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
                                  service_account_dir=str(tmp_path))
    assert server.server == "https://10.96.0.1:443" and server.verify == str(tmp_path / "ca.crt")
    assert "eyJ" not in repr(server)
    with pytest.raises(ConfigurationError, match="KUBERNETES_SERVICE_HOST"):
        ApiServer.in_cluster({}, service_account_dir=str(tmp_path))
    with pytest.raises(ConfigurationError, match="not an API server URL"):
        ApiServer("http://10.0.0.1:6443")


# --- scenario helpers without a lab (live mode) and the pure tables ----------------------------------------


LIVE = SimpleNamespace(lab=None, verify=True)


def test_lab_changes_are_notes_in_live_mode() -> None:
    assert isinstance(k8s_lab.rotate_tokens(LIVE), Note)  # type: ignore[arg-type]
    assert isinstance(k8s_lab.rotate_signing_key(LIVE), Note)  # type: ignore[arg-type]
    assert k8s_lab.issued_token(LIVE, Note("x"), "a", "b") is None  # type: ignore[arg-type]
    assert isinstance(k8s_lab.try_token_request(LIVE, Note("x"), "t", "a", "b"), Note)  # type: ignore[arg-type]
    assert k8s_lab.lab_token(LIVE, "/nonexistent") is None  # type: ignore[arg-type]


def test_live_pod_settings_come_from_the_token_file_the_variable_names(cluster: SelfManagedCluster,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_IDENTITY_TOKEN_FILE", str(cluster.page_pod.projected[0].path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    pod = k8s_lab.pod_settings(LIVE)  # type: ignore[arg-type]
    assert pod.subject == "system:serviceaccount:inference:inference-worker" and pod.expiration_seconds == 3600
    assert pod.audience == "https://api.anthropic.com" and pod.api_server == ""


def test_keys_table_marks_the_missing_kid(cluster: SelfManagedCluster) -> None:
    registered = SimpleNamespace(jwks=SimpleNamespace(keys=[SimpleNamespace(kid=cluster.kid)]))
    old = cluster.kid
    cluster.rotate_signing_key()
    cluster.rotate()
    table = k8s_lab.keys_table(registered, cluster.jwks(), cluster.page_pod.projected[0].token)
    assert [row[:3] for row in table.rows] == [[old, "✓", "✓"], [cluster.kid, "✗", "✓"]]


def test_the_shipped_manifest_validates_and_is_what_the_lab_pod_runs() -> None:
    values = {"ANTHROPIC_ORGANIZATION_ID": "00000000-0000-4000-8000-000000000001",
              "ANTHROPIC_FEDERATION_RULE_ID": "fdrl_01Example", "ANTHROPIC_SERVICE_ACCOUNT_ID": "svac_01Example",
              "WORKLOAD_IMAGE": "registry.example/claude-worker:1.0"}
    docs = k8s_lab.render_manifest(path_of("kubernetes/pod.yaml"), values)
    table = k8s_lab.validate_manifests(docs)
    assert [row[1] for row in table.rows] == ["valid"] * 4
    assert k8s_lab.projection_of(docs) == {
        "audience": PAGE_PROJECTION.audience, "expirationSeconds": PAGE_PROJECTION.expiration_seconds,
        "file": PAGE_PROJECTION.pod_path, "ANTHROPIC_IDENTITY_TOKEN_FILE": PAGE_PROJECTION.pod_path,
        "subject": "system:serviceaccount:{}:{}".format(*PAGE_WORKLOAD)}
    with pytest.raises(ConfigurationError, match="WORKLOAD_IMAGE"):
        k8s_lab.render_manifest(path_of("kubernetes/pod.yaml"), {k: v for k, v in values.items() if "IMAGE" not in k})


def test_the_validator_refuses_a_misspelt_field() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
           "spec": {"serviceAcountName": "typo", "containers": [{"name": "c", "image": "i"}]}}
    (row,) = k8s_lab.validate_manifests([pod]).rows
    assert row[1].startswith("invalid:")
