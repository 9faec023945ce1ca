"""Real clients, unchanged, over real sockets and TLS: ``azure-identity``'s WorkloadIdentityCredential
against the mock Entra with the mock cluster's token file, then the official ``anthropic`` SDK exchanging
the Entra token (two hops) or the projected token itself (the direct path) at the mock Anthropic."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ManagedIdentityCredential, WorkloadIdentityCredential
from azure.identity.aio import WorkloadIdentityCredential as AsyncWorkloadIdentityCredential

from tests._azure_lab import verify_via_discovery
from tests.helpers import Federation, federate, lab_of, typed_mock
from wif_lab.errors import ExchangeRefused
from wif_lab.exchange import exchange
from wif_lab.lab import Lab
from wif_lab.mock.entra import EntraMock
from wif_lab.mock.kubernetes import KubernetesMock
from wif_lab.mock.registry import default_specs
from wif_lab.mock.stack import MockStack
from wif_lab.providers.aks import WorkloadIdentityClient, entra_token_provider, projected_token_provider
from wif_lab.sdk import federated_client

# Variables that would steer azure-identity elsewhere, or replace the trust store under test.
STEERING = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT",
            "MSI_SECRET", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
            "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_REGIONAL_AUTHORITY_NAME", "MSAL_FORCE_REGION",
            "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


@pytest.fixture(scope="module")
def stack(state_dir: Path) -> Iterator[MockStack]:
    specs = [spec for spec in default_specs() if spec.name in ("anthropic", "kubernetes", "entra")]
    with MockStack(state_dir / "aks-real", specs=specs) as running:
        yield running


@pytest.fixture(scope="module")
def the_lab(stack: MockStack) -> Lab:
    return lab_of(stack)


@pytest.fixture
def entra(stack: MockStack) -> EntraMock:
    return typed_mock(stack, "entra", EntraMock)


@pytest.fixture
def k8s(stack: MockStack) -> KubernetesMock:
    return typed_mock(stack, "kubernetes", KubernetesMock)


@pytest.fixture
def pod_env(the_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The pod's environment as the webhook leaves it; the lab CA is trusted per client, not globally."""
    for name in STEERING:
        monkeypatch.delenv(name, raising=False)
    env = the_lab.section("aks")["env"]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return env


def scope(the_lab: Lab) -> str:
    return the_lab.section("aks")["scope"]


def app_id(the_lab: Lab) -> str:
    return next(a["app_id"] for a in the_lab.section("entra")["apps"] if a["name"] == "claude-api-federation")


def identity(the_lab: Lab, name: str) -> dict[str, Any]:
    return next(i for i in the_lab.section("entra")["identities"] if i["name"] == name)


def federate_entra(the_lab: Lab, **issuer: Any) -> Federation:
    """Anthropic trusts the tenant's v2.0 issuer (discovery) for the pod's identity: oid + tid + audience."""
    entra = the_lab.section("entra")
    match = {"audience": app_id(the_lab),
             "claims": {"oid": identity(the_lab, "claude-inference")["object_id"], "tid": entra["tenant_id"]}}
    return federate(the_lab, issuer_url=entra["issuer_v2"], match=match, **issuer)


def claude(the_lab: Lab, fed: Federation, provider: Callable[[], str]) -> anthropic.Anthropic:
    return federated_client(identity_token_provider=provider, base_url=the_lab.base_url,
                            federation_rule_id=fed.rule.id, organization_id=the_lab.organization_id,
                            service_account_id=fed.service_account.id, verify=the_lab.ca_bundle)


def ask(client: anthropic.Anthropic) -> str:
    reply = client.messages.create(model="claude-haiku-4-5", max_tokens=64,
                                   messages=[{"role": "user", "content": "Which identity am I?"}])
    return reply.content[0].text


# --- azure-identity against the mock Entra ----------------------------------------------------


def test_workload_identity_credential_gets_an_entra_token(the_lab: Lab, pod_env: dict[str, str],
                                                          entra: EntraMock) -> None:
    before = len(entra.federated_requests)
    token = WorkloadIdentityCredential(connection_verify=str(the_lab.ca_bundle)).get_token(scope(the_lab))
    claims = verify_via_discovery(token.token, entra.issuer(2), app_id(the_lab), the_lab.ca_bundle)
    mi = identity(the_lab, "claude-inference")
    assert claims["oid"] == claims["sub"] == mi["object_id"] and claims["azp"] == mi["client_id"]
    assert 3600 <= claims["exp"] - claims["iat"] <= 5400
    assert len(entra.federated_requests) == before + 1  # exactly one POST, no discovery
    seen = entra.federated_requests[-1].claims
    assert seen is not None and seen["sub"] == "system:serviceaccount:inference:claude-inference"


def test_async_credential(the_lab: Lab, pod_env: dict[str, str]) -> None:
    # aiohttp builds its default SSL context when it is imported, so SSL_CERT_FILE only counts if it is set
    # before the process starts; connection_verify works at any time.
    async def fetch() -> str:
        async with AsyncWorkloadIdentityCredential(connection_verify=str(the_lab.ca_bundle)) as credential:
            return (await credential.get_token(scope(the_lab))).token

    assert jwt.decode(asyncio.run(fetch()), options={"verify_signature": False})["ver"] == "2.0"


def test_managed_identity_credential_delegates_on_aks(the_lab: Lab, pod_env: dict[str, str],
                                                      entra: EntraMock) -> None:
    # With the four webhook variables set, ManagedIdentityCredential never reaches IMDS (azure.md §1.1).
    before = len(entra.federated_requests)
    credential = ManagedIdentityCredential(client_id=pod_env["AZURE_CLIENT_ID"],
                                           connection_verify=str(the_lab.ca_bundle))
    token = credential.get_token(scope(the_lab))
    assert jwt.decode(token.token, options={"verify_signature": False})["azp"] == pod_env["AZURE_CLIENT_ID"]
    assert len(entra.federated_requests) == before + 1


REFUSALS = [
    ("unregistered resource", {"scope": "api://not-registered/.default"}, 400, "AADSTS500011"),
    ("unknown client", {"client_id": "11112222-3333-4444-5555-666677778888"}, 400, "AADSTS700016"),
    ("direct-path token file", {"token_file_path": "anthropic"}, 401, "AADSTS700212"),
]


@pytest.mark.parametrize(("change", "status", "code"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_azure_identity_surfaces_aadsts_errors(the_lab: Lab, pod_env: dict[str, str], entra: EntraMock,
                                               change: dict[str, str], status: int, code: str) -> None:
    kwargs: dict[str, Any] = {"connection_verify": str(the_lab.ca_bundle)}
    if "client_id" in change:
        kwargs["client_id"] = change["client_id"]
    if "token_file_path" in change:
        kwargs["token_file_path"] = the_lab.section("aks")["anthropic_token_file"]
    before = len(entra.federated_requests)
    with pytest.raises(ClientAuthenticationError) as info:
        WorkloadIdentityCredential(**kwargs).get_token(change.get("scope", scope(the_lab)))
    assert info.value.status_code == status and code in str(info.value)
    assert len(entra.federated_requests) == before + 1  # a 4xx without Retry-After is not retried


# --- two hops to Claude -----------------------------------------------------------------------


def test_two_hop_provider_calls_claude(the_lab: Lab, pod_env: dict[str, str]) -> None:
    fed = federate_entra(the_lab, max_jwt_lifetime_seconds=7500)
    provider = entra_token_provider(WorkloadIdentityClient.from_env(scope=scope(the_lab), verify=the_lab.ca_bundle))
    client = claude(the_lab, fed, provider)
    assert fed.service_account.id in ask(client)
    event = the_lab.last_event(fed.rule.id)
    assert event is not None and event["status"]["outcome"] == "success"
    presented = event["event_data"]["oidc_token"]["claims"]
    assert presented["oid"] == identity(the_lab, "claude-inference")["object_id"]
    assert presented["azp"] == pod_env["AZURE_CLIENT_ID"] and presented["ver"] == "2.0"


def test_workload_identity_credential_as_the_token_provider(the_lab: Lab, pod_env: dict[str, str]) -> None:
    fed = federate_entra(the_lab, max_jwt_lifetime_seconds=7500)
    credential = WorkloadIdentityCredential(connection_verify=str(the_lab.ca_bundle))
    client = claude(the_lab, fed, lambda: credential.get_token(scope(the_lab)).token)
    assert fed.service_account.id in ask(client)


def test_default_lifetime_refuses_entra_tokens_until_raised(the_lab: Lab, pod_env: dict[str, str]) -> None:
    fed = federate_entra(the_lab)  # max_jwt_lifetime_seconds left at the 3600 default
    provider = WorkloadIdentityClient.from_env(scope=scope(the_lab), verify=the_lab.ca_bundle)
    tokens = [provider.get_token() for _ in range(5)]
    lifetimes = [t.expires_in for t in tokens]
    assert all(3600 <= n <= 5400 for n in lifetimes) and any(n > 3600 for n in lifetimes)

    def exchanged(token: str) -> bool:
        try:
            exchange(token, base_url=the_lab.base_url, federation_rule_id=fed.rule.id,
                     organization_id=the_lab.organization_id, service_account_id=fed.service_account.id,
                     verify=the_lab.ca_bundle)
        except ExchangeRefused as refused:
            assert refused.status == 401 and refused.error == "authentication_error"
            event = the_lab.last_event(fed.rule.id)
            assert event is not None and event["status"]["reason"] == "lifetime_exceeded"
            return False
        return True

    assert [exchanged(t.access_token) for t in tokens] == [n <= 3600 for n in lifetimes]
    the_lab.admin().organization.federation.issuers.update(fed.issuer.id, max_jwt_lifetime_seconds=7500)
    assert all(exchanged(t.access_token) for t in tokens)


# --- the direct path: the projected token straight to Anthropic -------------------------------


def federate_cluster(the_lab: Lab) -> Federation:
    k8s = the_lab.section("aks")
    return federate(the_lab, issuer_url=k8s["issuer"],
                    match={"subject_prefix": k8s["subject"], "audience": k8s["anthropic_audience"]})


def test_direct_path_calls_claude(the_lab: Lab, k8s: KubernetesMock) -> None:
    fed = federate_cluster(the_lab)
    assert fed.issuer.issuer_url.endswith("/")
    provider = projected_token_provider(the_lab.section("aks")["anthropic_token_file"])
    assert fed.service_account.id in ask(claude(the_lab, fed, provider))
    event = the_lab.last_event(fed.rule.id)
    assert event is not None
    presented = event["event_data"]["oidc_token"]["claims"]
    assert presented["sub"] == "system:serviceaccount:inference:claude-inference"
    assert presented["aud"] == ["https://api.anthropic.com"]


def test_direct_path_needs_a_fresh_jti_per_exchange(the_lab: Lab, k8s: KubernetesMock) -> None:
    # Projected tokens carry a jti, and Anthropic accepts each jti once: a second exchange of the same file
    # content is a replay until the kubelet rotates it.
    fed = federate_cluster(the_lab)
    provide = projected_token_provider(the_lab.section("aks")["anthropic_token_file"])
    k8s.rotate()

    def exchange_file() -> None:
        exchange(provide(), base_url=the_lab.base_url, federation_rule_id=fed.rule.id,
                 organization_id=the_lab.organization_id, service_account_id=fed.service_account.id,
                 verify=the_lab.ca_bundle)

    exchange_file()
    with pytest.raises(ExchangeRefused) as replay:
        exchange_file()
    assert replay.value.status == 401
    event = the_lab.last_event(fed.rule.id)
    assert event is not None and event["status"]["reason"] == "jti_reused"
    k8s.rotate()
    exchange_file()


def test_two_hop_token_file_is_refused_on_the_direct_path(the_lab: Lab) -> None:
    fed = federate_cluster(the_lab)
    with pytest.raises(ExchangeRefused):
        exchange(Path(the_lab.section("aks")["token_file"]).read_text(), base_url=the_lab.base_url,
                 federation_rule_id=fed.rule.id, organization_id=the_lab.organization_id,
                 service_account_id=fed.service_account.id, verify=the_lab.ca_bundle)
    event = the_lab.last_event(fed.rule.id)
    assert event is not None and event["status"]["reason"] == "audience_mismatch"
