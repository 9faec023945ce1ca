"""Live-mode settings name the notebook's own parameters and where each value is found; secrets come from
the environment only."""

from __future__ import annotations

import pytest

from wif_lab.errors import ConfigurationError
from wif_lab.redact import Secret
from wif_lab.runbook import Runbook, open_runbook


def live() -> Runbook:
    return Runbook("live", None, base_url="https://api.anthropic.com", organization_id="org", verify=True,
                   admin_token=None, ids={})


def okta(rb: Runbook, **given: str) -> object:
    values = {"issuer": "", "client_id": "", "private_key": "", "key_id": "", "scope": "anthropic.access",
              "dpop_key": "", "auth_method": ""}
    values.update(given)
    return rb.settings("okta", required=("issuer", "client_id", "scope"), **values)


def test_missing_okta_settings_are_named_as_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OKTA_CLIENT_SECRET", raising=False)
    with pytest.raises(ConfigurationError) as info:
        okta(live())
    assert info.value.message == "live mode needs these parameters: okta_issuer, okta_client_id"
    assert "okta_issuer: Okta Admin Console → Security → API → Authorization Servers" in info.value.hint
    assert "okta_client_id: Okta Admin Console → Applications" in info.value.hint
    assert "issuer, client_id" not in info.value.message  # never the internal names


def test_okta_needs_a_key_or_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OKTA_CLIENT_SECRET", raising=False)
    given = {"issuer": "https://acme.okta.com/oauth2/default", "client_id": "0oa1"}
    with pytest.raises(ConfigurationError, match="okta_private_key"):
        okta(live(), **given)
    with pytest.raises(ConfigurationError, match="OKTA_CLIENT_SECRET") as info:
        okta(live(), auth_method="client_secret_post", **given)
    assert "never a parameter" in info.value.hint
    monkeypatch.setenv("OKTA_CLIENT_SECRET", "s" * 40)
    settings = okta(live(), auth_method="client_secret_post", **given)
    assert isinstance(settings["client_secret"], Secret) and "s" * 40 not in repr(settings)


def test_azure_and_anthropic_ids_by_their_parameter_names() -> None:
    with pytest.raises(ConfigurationError) as info:
        live().settings("azure", tenant_id="t", resource="", client_id="", imds_url="", required=("tenant_id",
                                                                                                   "resource"))
    assert info.value.message == "live mode needs these parameters: resource" and "Expose an API" in info.value.hint
    with pytest.raises(ConfigurationError) as info:
        open_runbook("live", organization_id="00000000-0000-4000-8000-000000000001")
    assert info.value.message == "live mode needs these parameters: federation_rule_id, service_account_id"
    assert "Workload identity → Rules" in info.value.hint
