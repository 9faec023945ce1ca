"""azure-identity, unchanged, against the hosting services' identity endpoint over a real socket, selected by
the two variables App Service / Functions / Container Apps set; tokens verified the way a relying party
does (Entra discovery → JWKS over TLS with the lab CA), then exchanged through the official ``anthropic``
SDK at the mock Anthropic.

The endpoint is plain http on the host's loopback, as the real one is (``IDENTITY_ENDPOINT`` is
``http://localhost:<port>/msi/token`` on App Service): only the Entra and Anthropic hops use TLS."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anthropic
import pytest
from azure.identity import CredentialUnavailableError, DefaultAzureCredential, ManagedIdentityCredential
from azure.identity.aio import ManagedIdentityCredential as AsyncManagedIdentityCredential

from tests._azure_lab import verify_via_discovery
from tests.helpers import federate, lab_of, typed_mock
from wif_lab.lab import Lab
from wif_lab.mock.app_service_identity import AppServiceIdentityMock
from wif_lab.mock.azure_imds import ImdsMock
from wif_lab.mock.stack import MockStack
from wif_lab.sdk import federated_client

# Variables that would steer ManagedIdentityCredential to another path, or add a network hop (azure.md §1.1).
STEERING = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT",
            "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "AZURE_CLIENT_ID", "AZURE_TENANT_ID",
            "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "AZURE_PASSWORD",
            "AZURE_REGIONAL_AUTHORITY_NAME", "MSAL_FORCE_REGION")


@pytest.fixture
def the_lab(lab: MockStack, monkeypatch: pytest.MonkeyPatch) -> Lab:
    """The platform's environment: IDENTITY_ENDPOINT and IDENTITY_HEADER. The IMDS address is set too, to
    show the identity endpoint wins (on App Service IMDS is simply unreachable)."""
    for name in STEERING:
        monkeypatch.delenv(name, raising=False)
    connected = lab_of(lab)
    for name, value in connected.section("app_service")["env"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", connected.section("azure")["imds_url"])
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return connected


@pytest.fixture
def app(lab: MockStack) -> AppServiceIdentityMock:
    return typed_mock(lab, "app_service", AppServiceIdentityMock)


@pytest.fixture
def imds(lab: MockStack) -> ImdsMock:
    return typed_mock(lab, "imds", ImdsMock)


def identity(lab: Lab, name: str) -> dict[str, Any]:
    return next(i for i in lab.section("entra")["identities"] if i["name"] == name)


def audience_app(lab: Lab) -> str:
    return next(a["app_id"] for a in lab.section("entra")["apps"] if a["name"] == "claude-api-federation")


def scope(lab: Lab) -> str:
    return f"api://{audience_app(lab)}/.default"


def test_the_platform_variables_select_the_identity_endpoint(the_lab: Lab, app: AppServiceIdentityMock,
                                                             imds: ImdsMock) -> None:
    chosen = identity(the_lab, "claude-inference")
    before = (app.requests, imds.requests)
    token = ManagedIdentityCredential(client_id=chosen["client_id"]).get_token(scope(the_lab))
    assert (app.requests, imds.requests) == (before[0] + 1, before[1])  # IMDS was never asked
    entra = the_lab.section("entra")
    claims = verify_via_discovery(token.token, entra["issuer_v2"], audience_app(the_lab), the_lab.ca_bundle)
    assert claims["sub"] == claims["oid"] == chosen["object_id"] and claims["azp"] == chosen["client_id"]
    assert claims["tid"] == entra["tenant_id"] and claims["ver"] == "2.0"
    assert abs(token.expires_on - claims["exp"]) <= 2  # MSAL derives expires_in from expires_on
    assert token.expires_on - time.time() > 23 * 3600


@pytest.mark.parametrize("kind", ["object_id", "resource_id"])
def test_identity_config_selects_by_object_and_resource_id(the_lab: Lab, kind: str) -> None:
    chosen = identity(the_lab, "batch-reporting")
    value = chosen[kind]  # resource_id travels as mi_res_id on this endpoint
    token = ManagedIdentityCredential(identity_config={kind: value}).get_token(scope(the_lab))
    assert token.token == ManagedIdentityCredential(client_id=chosen["client_id"]).get_token(scope(the_lab)).token


def test_credential_cache_then_endpoint_cache(the_lab: Lab, app: AppServiceIdentityMock) -> None:
    client_id = identity(the_lab, "claude-inference")["client_id"]
    credential = ManagedIdentityCredential(client_id=client_id)
    before = app.requests
    first, second = credential.get_token(scope(the_lab)), credential.get_token(scope(the_lab))
    assert first.token == second.token and app.requests == before + 1
    fresh = ManagedIdentityCredential(client_id=client_id).get_token(scope(the_lab))
    assert fresh.token == first.token and app.requests == before + 2  # the endpoint served its cached token


def test_async_credential(the_lab: Lab) -> None:
    client_id = identity(the_lab, "claude-inference")["client_id"]

    async def fetch() -> str:
        async with AsyncManagedIdentityCredential(client_id=client_id) as credential:
            return (await credential.get_token(scope(the_lab))).token

    assert asyncio.run(fetch()) == ManagedIdentityCredential(client_id=client_id).get_token(scope(the_lab)).token


def test_default_azure_credential_reaches_the_identity_endpoint(the_lab: Lab, app: AppServiceIdentityMock) -> None:
    client_id = identity(the_lab, "claude-inference")["client_id"]
    credential = DefaultAzureCredential(managed_identity_client_id=client_id, exclude_cli_credential=True,
                                        exclude_powershell_credential=True, exclude_developer_cli_credential=True,
                                        exclude_visual_studio_code_credential=True,
                                        exclude_shared_token_cache_credential=True)
    before = app.requests
    token = credential.get_token(scope(the_lab))
    assert app.requests > before
    assert token.token == ManagedIdentityCredential(client_id=client_id).get_token(scope(the_lab)).token


def test_no_client_id_and_no_system_identity_is_refused(the_lab: Lab, app: AppServiceIdentityMock) -> None:
    before = app.requests
    with pytest.raises(CredentialUnavailableError, match="Unable to load the proper Managed Identity"):
        ManagedIdentityCredential().get_token(scope(the_lab))
    assert app.requests == before + 1, "a 400 is not retried"


def test_a_stale_identity_header_is_refused_once(the_lab: Lab, app: AppServiceIdentityMock,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "a-value-copied-from-another-app")
    before = app.requests
    with pytest.raises(CredentialUnavailableError, match="401"):
        ManagedIdentityCredential(client_id=identity(the_lab, "claude-inference")["client_id"]).get_token(
            scope(the_lab))
    assert app.requests == before + 1, "a 401 is not retried"


def test_an_unregistered_resource_is_the_vague_500(the_lab: Lab, app: AppServiceIdentityMock) -> None:
    client_id = identity(the_lab, "claude-inference")["client_id"]
    before, started = app.requests, time.perf_counter()
    with pytest.raises(CredentialUnavailableError, match="An unexpected error occured while fetching the AAD Token"):
        ManagedIdentityCredential(client_id=client_id).get_token("api://not-registered/.default")
    attempts = app.requests - before
    print(f"unregistered resource: {attempts} attempts in {time.perf_counter() - started:.1f} s")
    assert attempts == 4, "azure-core retries a 500 three times"


def test_the_token_exchanges_through_the_anthropic_sdk(the_lab: Lab) -> None:
    chosen = identity(the_lab, "claude-inference")
    entra = the_lab.section("entra")
    fed = federate(the_lab, issuer_url=entra["issuer_v2"], max_jwt_lifetime_seconds=90000,
                   match={"audience": audience_app(the_lab),
                          "claims": {"oid": chosen["object_id"], "tid": entra["tenant_id"]}})
    credential = ManagedIdentityCredential(client_id=chosen["client_id"])
    client = federated_client(identity_token_provider=lambda: credential.get_token(scope(the_lab)).token,
                              base_url=the_lab.base_url, federation_rule_id=fed.rule.id,
                              organization_id=the_lab.organization_id, service_account_id=fed.service_account.id,
                              verify=the_lab.ca_bundle)
    assert isinstance(client, anthropic.Anthropic)
    reply = client.messages.create(model="claude-haiku-4-5", max_tokens=64,
                                   messages=[{"role": "user", "content": "Which identity am I?"}])
    assert fed.service_account.id in reply.content[0].text
    event = the_lab.last_event(fed.rule.id)
    assert event is not None and event["status"]["outcome"] == "success"
    assert event["event_data"]["oidc_token"]["claims"]["oid"] == chosen["object_id"]


def test_one_rule_serves_the_same_identity_on_a_vm_and_on_app_service(the_lab: Lab, app: AppServiceIdentityMock,
                                                                      imds: ImdsMock,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The same code and the same user-assigned identity: the endpoint underneath differs, the token does not."""
    chosen = identity(the_lab, "claude-inference")
    on_app_service = ManagedIdentityCredential(client_id=chosen["client_id"]).get_token(scope(the_lab)).token
    monkeypatch.delenv("IDENTITY_ENDPOINT")
    monkeypatch.delenv("IDENTITY_HEADER")
    before = imds.requests
    on_vm = ManagedIdentityCredential(client_id=chosen["client_id"]).get_token(scope(the_lab)).token
    assert imds.requests == before + 1
    entra = the_lab.section("entra")
    claims = [verify_via_discovery(t, entra["issuer_v2"], audience_app(the_lab), the_lab.ca_bundle)
              for t in (on_app_service, on_vm)]
    same = ("iss", "aud", "sub", "oid", "azp", "tid", "ver")
    assert {k: claims[0][k] for k in same} == {k: claims[1][k] for k in same}
