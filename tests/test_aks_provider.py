"""The workload side of AKS: the two-hop provider against the mock cluster + Entra over real TLS, the direct
path's file provider, and one clear error with a hint for each refusal a learner can cause."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.helpers import typed_mock
from wif_lab.errors import ConfigurationError, ProviderError, ProviderUnreachable
from wif_lab.mock.entra import EntraMock
from wif_lab.mock.kubernetes import AZURE_VOLUME, KubernetesMock
from wif_lab.mock.registry import default_specs
from wif_lab.mock.stack import MockStack
from wif_lab.providers.aks import (
    WorkloadIdentityClient,
    entra_token_provider,
    normalize_authority,
    projected_token_provider,
)

SUBJECT = "system:serviceaccount:inference:claude-inference"


@pytest.fixture(scope="module")
def stack(state_dir: Path) -> Iterator[MockStack]:
    specs = [spec for spec in default_specs() if spec.name in ("kubernetes", "entra")]
    with MockStack(state_dir / "aks-provider", specs=specs) as running:
        yield running


@pytest.fixture
def k8s(stack: MockStack) -> KubernetesMock:
    return typed_mock(stack, "kubernetes", KubernetesMock)


@pytest.fixture
def entra(stack: MockStack) -> EntraMock:
    return typed_mock(stack, "entra", EntraMock)


@pytest.fixture
def section(stack: MockStack) -> dict[str, Any]:
    return stack.connection()["aks"]


@pytest.fixture
def ca(stack: MockStack) -> Path:
    assert stack.context is not None
    return stack.context.tls.ca_bundle


@pytest.fixture
def client(section: dict[str, Any], ca: Path) -> WorkloadIdentityClient:
    return WorkloadIdentityClient.from_connection(section, verify=ca)


def test_from_env_reads_the_webhook_variables(section: dict[str, Any], ca: Path, entra: EntraMock,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in section["env"].items():
        monkeypatch.setenv(name, value)
    client = WorkloadIdentityClient.from_env(scope=section["scope"], verify=ca)
    assert client.token_url == f"{entra.base_url}/{entra.tenant_id}/oauth2/v2.0/token"  # the slash is not doubled
    token = client.get_token()
    claims = token.claims()
    mi = entra.identity("claude-inference")
    assert claims["oid"] == claims["sub"] == mi.object_id and claims["azp"] == mi.client_id
    assert claims["aud"] == entra.app("claude-api-federation").app_id and claims["iss"] == entra.issuer(2)
    assert 3600 <= token.expires_in <= 5400
    assert token.access_token.rsplit(".", 1)[1] not in repr(token)


def test_provider_reads_the_file_fresh_on_each_call(client: WorkloadIdentityClient, k8s: KubernetesMock,
                                                    entra: EntraMock) -> None:
    provide = entra_token_provider(client)
    assert jwt.decode(provide(), options={"verify_signature": False})["ver"] == "2.0"
    first = entra.federated_requests[-1].claims
    volume = k8s.default_pod.volumes[AZURE_VOLUME]
    assert first is not None and first["jti"] == volume.claims["jti"]
    k8s.rotate(now=first["iat"] + 60)  # the kubelet's refresh, one minute later
    provide()
    seen = entra.federated_requests[-1].claims
    assert seen is not None
    assert seen["jti"] == volume.claims["jti"] != first["jti"]
    assert seen["iat"] == first["iat"] + 60


def test_direct_path_provider_rereads_the_file(section: dict[str, Any], k8s: KubernetesMock) -> None:
    provide = projected_token_provider(section["anthropic_token_file"])
    before = jwt.decode(provide(), options={"verify_signature": False})
    assert before["aud"] == ["https://api.anthropic.com"] and before["sub"] == SUBJECT
    k8s.rotate()
    after = jwt.decode(provide(), options={"verify_signature": False})
    assert after["jti"] != before["jti"]


def test_missing_webhook_variables(section: dict[str, Any]) -> None:
    env = {k: v for k, v in section["env"].items() if k != "AZURE_CLIENT_ID"}
    with pytest.raises(ConfigurationError, match="AZURE_CLIENT_ID") as info:
        WorkloadIdentityClient.from_env(scope=section["scope"], environ=env)
    assert "azure.workload.identity/use" in info.value.hint


def test_token_file_problems(section: dict[str, Any], ca: Path, tmp_path: Path) -> None:
    env = dict(section["env"], AZURE_FEDERATED_TOKEN_FILE=str(tmp_path / "absent"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        WorkloadIdentityClient.from_env(scope=section["scope"], environ=env, verify=ca).get_token()
    (tmp_path / "empty").write_text("\n")
    env["AZURE_FEDERATED_TOKEN_FILE"] = str(tmp_path / "empty")
    with pytest.raises(ConfigurationError, match="empty"):
        WorkloadIdentityClient.from_env(scope=section["scope"], environ=env, verify=ca).get_token()


def test_authority_normalised_like_azure_identity() -> None:
    assert normalize_authority("https://login.microsoftonline.com/") == "https://login.microsoftonline.com"
    assert normalize_authority("127.0.0.1:8443") == "https://127.0.0.1:8443"
    with pytest.raises(ConfigurationError, match="https"):
        normalize_authority("http://127.0.0.1:8443")


def test_untrusted_tls_is_unreachable(section: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    client = WorkloadIdentityClient.from_connection(section)  # system CAs: the lab CA is not among them
    with pytest.raises(ProviderUnreachable, match="no answer from Entra") as info:
        client.get_token()
    assert "CA bundle" in info.value.hint


def _with_token_file(section: dict[str, Any], ca: Path, path: Path, **overrides: str) -> WorkloadIdentityClient:
    env = dict(section["env"], AZURE_FEDERATED_TOKEN_FILE=str(path), **overrides)
    return WorkloadIdentityClient.from_env(scope=section["scope"], environ=env, verify=ca)


def test_refusals_carry_a_hint(section: dict[str, Any], ca: Path, k8s: KubernetesMock, entra: EntraMock,
                               tmp_path: Path) -> None:
    def refused(client: WorkloadIdentityClient) -> ProviderError:
        with pytest.raises(ProviderError) as info:
            client.get_token()
        return info.value

    default_file = Path(section["token_file"])

    # another namespace's service account: the FIC's subject does not match
    sa = k8s.add_service_account("batch", f"reporter-{time.monotonic_ns()}")
    other = refused(_with_token_file(section, ca, k8s.deploy(sa).volumes[AZURE_VOLUME].path))
    assert (other.status, other.error) == (401, "invalid_client") and "AADSTS700213" in (other.description or "")
    assert "namespace" in other.hint and "AADSTS700213" in str(other) and "Trace ID" not in other.message

    # the direct-path file sent to Entra: wrong audience
    aud = refused(_with_token_file(section, ca, Path(section["anthropic_token_file"])))
    assert "AADSTS700212" in (aud.description or "") and "api://AzureADTokenExchange" in aud.hint

    # a token the kubelet never refreshed
    stale = tmp_path / "stale-token"
    stale.write_text(k8s.mint(k8s.default_pod.service_account, "api://AzureADTokenExchange",
                              now=time.time() - 7200))
    expired = refused(_with_token_file(section, ca, stale))
    assert (expired.status, "AADSTS700024" in (expired.description or "")) == (401, True)
    assert "kubelet" in expired.hint

    # unregistered resource, unknown client, unknown tenant
    scope = refused(WorkloadIdentityClient.from_connection(section, scope="api://not-registered/.default",
                                                           verify=ca))
    assert scope.status == 400 and scope.error == "invalid_resource" and "register" in scope.hint
    client = refused(_with_token_file(section, ca, default_file, AZURE_CLIENT_ID=str(entra.tenant_id)))
    assert client.error == "unauthorized_client" and "AZURE_CLIENT_ID" in client.hint
    tenant = refused(_with_token_file(section, ca, default_file,
                                      AZURE_TENANT_ID="00000000-1111-2222-3333-444444444444"))
    assert tenant.error == "invalid_tenant" and "AZURE_TENANT_ID" in tenant.hint


def test_issuer_slash_mismatch_hint(client: WorkloadIdentityClient, k8s: KubernetesMock, entra: EntraMock) -> None:
    entra.remove_federated_credential("claude-inference", "aks-claude-inference")
    entra.add_federated_credential("claude-inference", name="aks-claude-inference", issuer=k8s.issuer.rstrip("/"),
                                   subject=SUBJECT)
    try:
        with pytest.raises(ProviderError) as info:
            client.get_token()
        assert "AADSTS700211" in str(info.value) and "ends with '/'" in info.value.hint
        entra.remove_federated_credential("claude-inference", "aks-claude-inference")
        with pytest.raises(ProviderError) as none:
            client.get_token()
        assert "AADSTS70021:" in str(none.value) and "federated-credential" not in none.value.message
        assert "--subject system:serviceaccount:" in none.value.hint
    finally:
        for fic in entra.federated_credentials("claude-inference"):
            entra.remove_federated_credential("claude-inference", fic.name)
        entra.add_federated_credential("claude-inference", name="aks-claude-inference", issuer=k8s.issuer,
                                       subject=SUBJECT)
    assert client.get_token().expires_in >= 3600


def test_repr_names_the_config_not_secrets(client: WorkloadIdentityClient) -> None:
    text = repr(client)
    assert "oauth2/v2.0/token" in text and client.client_id in text and "eyJ" not in text
