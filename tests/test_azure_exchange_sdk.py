"""Real clients end to end: ``azure-identity``'s ManagedIdentityCredential fetches the Entra token from the
mock IMDS, and the official ``anthropic`` SDK exchanges it at the mock Anthropic and calls Messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import pytest
from anthropic.lib.credentials import WorkloadIdentityError
from azure.identity import ManagedIdentityCredential

from tests.helpers import Federation, federate, lab_of
from wif_lab.lab import Lab
from wif_lab.mock.stack import MockStack
from wif_lab.sdk import federated_client

# Variables that would steer ManagedIdentityCredential away from IMDS (azure.md §1.1).
STEERING = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT",
            "MSI_ENDPOINT", "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST",
            "AZURE_CLIENT_ID", "AZURE_TENANT_ID")


@pytest.fixture
def the_lab(lab: MockStack, monkeypatch: pytest.MonkeyPatch) -> Lab:
    for name in STEERING:
        monkeypatch.delenv(name, raising=False)
    connected = lab_of(lab)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", connected.section("azure")["imds_url"])
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return connected


def identity(lab: Lab, name: str) -> dict[str, Any]:
    return next(i for i in lab.section("entra")["identities"] if i["name"] == name)


def audience_app(lab: Lab) -> str:
    return next(a["app_id"] for a in lab.section("entra")["apps"] if a["name"] == "claude-api-federation")


def federate_identity(lab: Lab, name: str, **issuer: Any) -> Federation:
    """Issuer (the tenant's v2.0 issuer, discovery), service account and a rule pinning one identity."""
    entra = lab.section("entra")
    match = {"audience": audience_app(lab), "claims": {"oid": identity(lab, name)["object_id"],
                                                       "tid": entra["tenant_id"]}}
    issuer.setdefault("max_jwt_lifetime_seconds", 90000)  # managed-identity tokens live 86,700 s
    return federate(lab, issuer_url=entra["issuer_v2"], match=match, **issuer)


def counting(credential: ManagedIdentityCredential, scope: str) -> tuple[Callable[[], str], list[str]]:
    calls: list[str] = []

    def provide() -> str:
        calls.append(scope)
        return credential.get_token(scope).token

    return provide, calls


def claude(lab: Lab, fed: Federation, provider: Callable[[], str]) -> anthropic.Anthropic:
    return federated_client(identity_token_provider=provider, base_url=lab.base_url,
                            federation_rule_id=fed.rule.id, organization_id=lab.organization_id,
                            service_account_id=fed.service_account.id, verify=lab.ca_bundle)


def ask(client: anthropic.Anthropic) -> str:
    reply = client.messages.create(model="claude-haiku-4-5", max_tokens=64,
                                   messages=[{"role": "user", "content": "Which identity am I?"}])
    return reply.content[0].text


def test_system_assigned_identity_calls_claude(the_lab: Lab) -> None:
    fed = federate_identity(the_lab, "wif-lab-vm")
    provider, calls = counting(ManagedIdentityCredential(), f"api://{audience_app(the_lab)}/.default")
    client = claude(the_lab, fed, provider)
    assert fed.service_account.id in ask(client)
    assert fed.service_account.id in ask(client)
    assert len(calls) == 1  # the SDK cached the Claude token; the credential was asked once
    event = the_lab.last_event(fed.rule.id)
    assert event["status"]["outcome"] == "success"
    presented = event["event_data"]["oidc_token"]["claims"]
    assert presented["oid"] == identity(the_lab, "wif-lab-vm")["object_id"] and presented["ver"] == "2.0"


def test_user_assigned_identity_calls_claude(the_lab: Lab) -> None:
    chosen = identity(the_lab, "claude-inference")
    fed = federate_identity(the_lab, "claude-inference")
    credential = ManagedIdentityCredential(client_id=chosen["client_id"])
    provider, _ = counting(credential, f"api://{audience_app(the_lab)}/.default")
    assert fed.service_account.id in ask(claude(the_lab, fed, provider))
    presented = the_lab.last_event(fed.rule.id)["event_data"]["oidc_token"]["claims"]
    assert presented["oid"] == chosen["object_id"] and presented["azp"] == chosen["client_id"]


def test_forgotten_client_id_falls_back_to_the_system_identity_and_is_refused(the_lab: Lab) -> None:
    fed = federate_identity(the_lab, "claude-inference")  # the rule pins the user-assigned identity
    provider, _ = counting(ManagedIdentityCredential(), f"api://{audience_app(the_lab)}/.default")
    with pytest.raises(WorkloadIdentityError) as info:
        ask(claude(the_lab, fed, provider))
    assert info.value.status_code == 401
    assert info.value.body["error"] == {"type": "authentication_error", "message": "Authentication failed"}
    event = the_lab.last_event(fed.rule.id)
    assert event["status"]["reason"] == "claim_mismatch"
    assert event["event_data"]["oidc_token"]["claims"]["oid"] == identity(the_lab, "wif-lab-vm")["object_id"]


def test_issuer_at_the_default_lifetime_refuses_the_day_long_token(the_lab: Lab) -> None:
    fed = federate_identity(the_lab, "wif-lab-vm", max_jwt_lifetime_seconds=3600)
    provider, _ = counting(ManagedIdentityCredential(), f"api://{audience_app(the_lab)}/.default")
    with pytest.raises(WorkloadIdentityError) as info:
        ask(claude(the_lab, fed, provider))
    assert info.value.status_code == 401
    assert the_lab.last_event(fed.rule.id)["status"]["reason"] == "lifetime_exceeded"
