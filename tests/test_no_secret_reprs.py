"""No object a user can print shows a raw secret: tokens, assertions, keys, the admin token."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import lab_of
from wif_lab.mock.stack import MockStack
from wif_lab.runbook import Runbook


def _shown(obj: Any) -> str:
    return repr(obj) + str(obj) + f"{obj!r}{obj!s}"


def test_lab_and_connection(lab: MockStack) -> None:
    the_lab = lab_of(lab)
    admin_token = the_lab.connection.anthropic["admin_token"]
    for obj in (the_lab, the_lab.connection):
        assert admin_token not in _shown(obj)
    github = the_lab.section("github_actions")
    request_tokens = [github["env"]["ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
                      *(job["env"]["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] for job in github["jobs"].values()
                        if "ACTIONS_ID_TOKEN_REQUEST_TOKEN" in job["env"])]
    assert len(request_tokens) == 8
    for token in request_tokens:
        assert token.reveal() not in _shown(github) and token.reveal() not in _shown(the_lab.connection)


def test_runbook_and_settings(lab: MockStack) -> None:
    the_lab = lab_of(lab)
    rb = Runbook("mock", the_lab, base_url=the_lab.base_url, organization_id=the_lab.organization_id,
                 verify=the_lab.ca_bundle, admin_token="sk-ant-oat01-" + "S" * 40, ids={})
    settings = rb.settings("okta", client_id="", private_key="", key_id="", issuer="")
    assert "S" * 40 not in _shown(rb) and "BEGIN" not in _shown(settings)


@pytest.mark.parametrize("provider", ["okta", "imds", "app_service", "aks"])
def test_provider_tokens_and_clients(lab: MockStack, provider: str) -> None:
    the_lab = lab_of(lab)
    if provider == "okta":
        from wif_lab.providers.okta import OktaClient

        client: Any = OktaClient.from_connection(the_lab.section("okta"), the_lab.ca_bundle)
        token: Any = client.fetch_token()
        raw = token.access_token
    elif provider == "imds":
        from wif_lab.providers.azure_imds import from_connection

        client = from_connection(the_lab.section("azure"))
        token = client.get_token()
        raw = token.access_token
    elif provider == "app_service":
        from wif_lab.providers import app_service_identity

        section = the_lab.section("app_service")
        client = app_service_identity.from_connection(section, identity="claude-inference")
        token = client.get_token()
        raw = token.access_token
        assert section["identity_header"] not in _shown(client)
    else:
        from wif_lab.providers.aks import WorkloadIdentityClient

        client = WorkloadIdentityClient.from_connection(the_lab.section("aks"), verify=the_lab.ca_bundle)
        token = client.get_token()
        raw = token.access_token
    signature = raw.split(".")[2]
    for obj in (client, token):
        assert signature not in _shown(obj), type(obj).__name__
