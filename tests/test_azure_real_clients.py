"""azure-identity, unchanged, against the mock IMDS over a real socket; tokens verified the way a
relying party does (Entra discovery → JWKS over TLS with the lab CA)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import CredentialUnavailableError, DefaultAzureCredential, ManagedIdentityCredential
from azure.identity.aio import ManagedIdentityCredential as AsyncManagedIdentityCredential

from tests._azure_lab import azure_specs, verify_via_discovery
from tests.helpers import typed_mock
from wif_lab.mock.azure_imds import ImdsMock
from wif_lab.mock.entra import EntraMock
from wif_lab.mock.stack import MockStack

# Variables that would steer ManagedIdentityCredential away from IMDS (azure.md §1.1) or add a network hop.
STEERING = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT",
            "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "AZURE_CLIENT_ID", "AZURE_TENANT_ID",
            "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "AZURE_PASSWORD",
            "AZURE_REGIONAL_AUTHORITY_NAME", "MSAL_FORCE_REGION")


@pytest.fixture(scope="module")
def stack(state_dir: Path) -> Iterator[MockStack]:
    with MockStack(state_dir / "azure-real", specs=azure_specs()) as running:
        yield running


@pytest.fixture
def entra(stack: MockStack) -> EntraMock:
    return typed_mock(stack, "entra", EntraMock)


@pytest.fixture
def imds(stack: MockStack) -> ImdsMock:
    return typed_mock(stack, "imds", ImdsMock)


@pytest.fixture
def ca(stack: MockStack) -> Path:
    assert stack.context is not None
    return stack.context.tls.ca_bundle


@pytest.fixture(autouse=True)
def imds_env(stack: MockStack, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in STEERING:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", stack.connection()["azure"]["imds_url"])
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def v2_scope(entra: EntraMock) -> tuple[str, str]:
    app = entra.app("claude-api-federation")
    return f"api://{app.app_id}/.default", app.app_id


def test_system_assigned(entra: EntraMock, ca: Path) -> None:
    scope, app_id = v2_scope(entra)
    token = ManagedIdentityCredential().get_token(scope)
    claims = verify_via_discovery(token.token, entra.issuer(2), app_id, ca)
    mi = entra.identity("wif-lab-vm")
    assert claims["sub"] == claims["oid"] == mi.object_id
    assert claims["azp"] == mi.client_id and claims["tid"] == entra.tenant_id and claims["ver"] == "2.0"
    assert claims["exp"] - claims["iat"] == 86700  # 24 h + 5 min, as real managed-identity tokens
    assert abs(token.expires_on - claims["exp"]) <= 2  # MSAL recomputes it from expires_in


def test_user_assigned_by_client_id(entra: EntraMock, ca: Path) -> None:
    scope, app_id = v2_scope(entra)
    mi = entra.identity("claude-inference")
    token = ManagedIdentityCredential(client_id=mi.client_id).get_token(scope)
    claims = verify_via_discovery(token.token, entra.issuer(2), app_id, ca)
    assert claims["oid"] == mi.object_id and claims["azp"] == mi.client_id


@pytest.mark.parametrize("kind", ["object_id", "resource_id"])
def test_user_assigned_by_identity_config(entra: EntraMock, kind: str) -> None:
    scope, _ = v2_scope(entra)
    mi = entra.identity("batch-reporting")
    value = mi.object_id if kind == "object_id" else mi.resource_id
    token = ManagedIdentityCredential(identity_config={kind: value}).get_token(scope)
    assert ManagedIdentityCredential(client_id=mi.client_id).get_token(scope).token == token.token


def test_v1_resource_gives_v1_claims(entra: EntraMock, ca: Path) -> None:
    token = ManagedIdentityCredential().get_token("https://api.anthropic.com/.default")
    claims = verify_via_discovery(token.token, entra.issuer(1), "https://api.anthropic.com", ca)
    assert claims["iss"].endswith(f"/{entra.tenant_id}/")
    assert claims["ver"] == "1.0" and "appid" in claims and "azp" not in claims


def test_credential_and_imds_caching(entra: EntraMock, imds: ImdsMock) -> None:
    scope, _ = v2_scope(entra)
    credential = ManagedIdentityCredential(client_id=entra.identity("claude-inference").client_id)
    before = imds.requests
    first, second = credential.get_token(scope), credential.get_token(scope)
    assert first.token == second.token
    assert imds.requests == before + 1  # a long-lived token: the credential's own cache answers the 2nd call
    fresh = ManagedIdentityCredential(client_id=entra.identity("claude-inference").client_id).get_token(scope)
    assert fresh.token == first.token  # a new credential asks IMDS, which serves its cached token
    assert imds.requests == before + 2
    assert first.expires_on - time.time() > 23 * 3600


def test_async_credential(entra: EntraMock) -> None:
    # The aio path needs `resource` in the body (azure.md §1.4).
    scope, _ = v2_scope(entra)

    async def fetch() -> str:
        async with AsyncManagedIdentityCredential() as credential:
            return (await credential.get_token(scope)).token

    assert asyncio.run(fetch()) == ManagedIdentityCredential().get_token(scope).token


def test_default_azure_credential_reaches_imds(entra: EntraMock) -> None:
    scope, _ = v2_scope(entra)
    credential = DefaultAzureCredential(exclude_cli_credential=True, exclude_powershell_credential=True,
                                        exclude_developer_cli_credential=True,
                                        exclude_visual_studio_code_credential=True,
                                        exclude_shared_token_cache_credential=True)
    assert credential.get_token(scope).token == ManagedIdentityCredential().get_token(scope).token


def test_unknown_client_id_is_unavailable(entra: EntraMock, imds: ImdsMock) -> None:
    scope, _ = v2_scope(entra)
    before = imds.requests
    with pytest.raises(CredentialUnavailableError, match="Identity not found"):
        ManagedIdentityCredential(client_id="11112222-3333-4444-5555-666677778888").get_token(scope)
    assert imds.requests == before + 1, "a 400 without Retry-After is not retried"


def test_unregistered_resource_surfaces_aadsts500011() -> None:
    with pytest.raises(CredentialUnavailableError, match="AADSTS500011"):
        ManagedIdentityCredential().get_token("api://not-registered/.default")


def test_ambiguous_identity(entra: EntraMock, imds: ImdsMock) -> None:
    scope, _ = v2_scope(entra)
    imds.unassign("wif-lab-vm")
    try:
        with pytest.raises(CredentialUnavailableError, match="Multiple user assigned identities"):
            ManagedIdentityCredential().get_token(scope)
    finally:
        imds.assign("wif-lab-vm")


def test_availability_probe_sees_imds(entra: EntraMock) -> None:
    # The probe azure-identity runs inside a credential chain: same URL, no Metadata header, one try.
    from azure.identity._credentials.imds import PIPELINE_SETTINGS, _get_request
    from azure.identity._internal.managed_identity_client import ManagedIdentityClient

    scope, _ = v2_scope(entra)
    client = ManagedIdentityClient(_get_request, **PIPELINE_SETTINGS)
    with pytest.raises(HttpResponseError) as info:  # any HTTP error response means "IMDS is there"
        client.request_token(scope, connection_timeout=1, retry_total=0)
    assert info.value.status_code == 400
    assert "metadata header" in str(info.value)


def test_a_relayed_request_is_refused(entra: EntraMock, imds: ImdsMock) -> None:
    """IMDS refuses requests carrying X-Forwarded-For (what a relaying proxy adds); azure-identity never sends
    it, so the plain credential keeps working while one told to add the header gets IMDS's 400, once."""
    scope, _ = v2_scope(entra)
    client_id = entra.identity("claude-inference").client_id
    imds.flush_cache()
    before = imds.requests
    with pytest.raises(CredentialUnavailableError, match="X-Forwarded-For"):
        ManagedIdentityCredential(client_id=client_id, headers={"X-Forwarded-For": "203.0.113.7"}).get_token(scope)
    assert imds.requests == before + 1, "a 400 without Retry-After is not retried"
    assert ManagedIdentityCredential(client_id=client_id).get_token(scope).token
