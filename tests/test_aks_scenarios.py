"""The AKS notebook's helpers that need no cluster: where the pod settings come from in live mode, lab
paths shown without the machine's state directory, and Entra refusals laid out as readable rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from wif_lab.errors import ConfigurationError, ProviderError
from wif_lab.runbook import Runbook
from wif_lab.scenarios.aks import WRAP, EntraOutcome, pod_settings, shown_path, try_entra

WEBHOOK = {
    "AZURE_TENANT_ID": "11111111-2222-4333-8444-555555555555",
    "AZURE_CLIENT_ID": "66666666-7777-4888-9999-000000000000",
    "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
    "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/",
}


def live() -> Runbook:
    return Runbook("live", None, base_url="https://api.anthropic.com", organization_id="org", verify=True,
                   admin_token=None, ids={})


def test_live_settings_fall_back_to_the_webhook_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in WEBHOOK.items():
        monkeypatch.setenv(name, value)
    pod = pod_settings(live(), client_id="abcdef01-2345-4678-9abc-def012345678", scope="api://app/.default")
    assert pod.tenant_id == WEBHOOK["AZURE_TENANT_ID"] and pod.token_file == WEBHOOK["AZURE_FEDERATED_TOKEN_FILE"]
    assert pod.client_id == "abcdef01-2345-4678-9abc-def012345678"  # a parameter wins over the environment
    rows = {row[0]: row for row in pod.table().rows}
    assert rows["AZURE_TENANT_ID"][2] == "environment" and rows["AZURE_CLIENT_ID"][2] == "parameter"


def test_live_settings_name_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in WEBHOOK:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_TENANT_ID", WEBHOOK["AZURE_TENANT_ID"])
    with pytest.raises(ConfigurationError, match="client_id, token_file, scope") as info:
        pod_settings(live())
    assert "azure.workload.identity/use" in info.value.hint


def test_authority_defaults_to_public_entra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in WEBHOOK.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AZURE_AUTHORITY_HOST")
    assert pod_settings(live(), scope="api://app/.default").authority_host == "https://login.microsoftonline.com/"


def test_lab_paths_hide_the_state_directory() -> None:
    lab = "/home/me/.cache/wif-lab/kubernetes/inference/claude-inference/azure/tokens/azure-identity-token"
    assert shown_path(lab) == "<lab state dir>/kubernetes/inference/claude-inference/azure/tokens/azure-identity-token"
    assert shown_path(WEBHOOK["AZURE_FEDERATED_TOKEN_FILE"]) == WEBHOOK["AZURE_FEDERATED_TOKEN_FILE"]


def test_refusal_rows_split_entra_description() -> None:
    description = ("AADSTS700213: No matching federated identity record found for presented assertion subject "
                   "'system:serviceaccount:inference:claude-batch'. Check your federated identity credential "
                   "Subject, Audience and Issuer against the presented assertion. "
                   "https://learn.microsoft.com/entra/workload-id/workload-identity-federation "
                   "Trace ID: 0f2d8c2a-1b7d-4c3e-9a8f-0123456789ab Correlation ID: "
                   "5f0c2a9e-1b7d-4c3e-9a8f-0123456789ab Timestamp: 2026-11-23 20:21:29Z")
    error = ProviderError("Entra refused", status=401, error="invalid_client", description=description,
                          hint="compare the subject")
    rows = dict((k, v) for k, v in EntraOutcome("t", "refused", error=error).table().rows if k)
    assert rows["AADSTS code"] == "700213" and rows["HTTP status"] == "401"
    assert rows["Trace ID"] == "0f2d8c2a-1b7d-4c3e-9a8f-0123456789ab"
    assert rows["Timestamp"] == "2026-11-23 20:21:29Z" and "Trace ID" not in rows["error_description"]
    assert all(len(v) <= WRAP for _, v in EntraOutcome("t", "refused", error=error).table().rows)


def test_skipped_step_is_an_outcome() -> None:
    outcome = try_entra(None, "lab-only")
    assert outcome.status == "skipped" and not outcome.accepted


# --- the direct path's settings and its one-exchange-per-jti guard (section 14) ---------------------


def test_live_direct_path_needs_its_rule_and_service_account_together(monkeypatch: pytest.MonkeyPatch) -> None:
    from wif_lab.scenarios.aks import direct_settings

    monkeypatch.delenv("ANTHROPIC_IDENTITY_TOKEN_FILE", raising=False)
    with pytest.raises(ConfigurationError) as info:
        direct_settings(live(), direct_federation_rule_id="fdrl_01Direct")
    assert info.value.message == "live mode needs these parameters: direct_service_account_id"
    assert "Workload identity → Service accounts" in info.value.hint
    none_given = direct_settings(live())  # no direct path set up: a note naming both parameters, no error
    assert "direct_federation_rule_id and direct_service_account_id" in repr(none_given) and none_given.read() is None
    both = direct_settings(live(), direct_federation_rule_id="fdrl_01Direct", direct_service_account_id="svac_01D")
    assert both["anthropic_token_file"] == "/var/run/secrets/anthropic.com/token"  # the guide's mount path
    monkeypatch.setenv("ANTHROPIC_IDENTITY_TOKEN_FILE", "/mnt/token")
    assert direct_settings(live(), direct_federation_rule_id="fdrl_01Direct",
                           direct_service_account_id="svac_01D")["anthropic_token_file"] == "/mnt/token"


def test_the_direct_path_presents_a_file_token_once_when_the_issuer_checks_jti(tmp_path: Path) -> None:
    """A live pod's file changes only when the kubelet rotates it: a second exchange of the same jti is shown as
    skipped with the reason, not sent; with check_jti off (or a new token in the file) it is sent."""
    from types import SimpleNamespace

    import jwt

    from wif_lab.runbook import Note
    from wif_lab.scenarios.aks import direct_exchange, direct_settings

    key = "a display-only key, thirty-two bytes"  # decode() never verifies it
    token_file = tmp_path / "token"
    token_file.write_text(jwt.encode({"sub": "system:serviceaccount:inference:claude-inference", "jti": "j-1"}, key))
    direct = direct_settings(live(), anthropic_token_file=str(token_file), direct_federation_rule_id="fdrl_01D",
                             direct_service_account_id="svac_01D")
    token = direct.read()
    assert token is not None and direct.used_again(token, None) == ""
    direct.mark(token)
    checked, unchecked = SimpleNamespace(check_jti=True), SimpleNamespace(check_jti=False)
    assert "jti j-1" in direct.used_again(token, checked) and "skipped" in direct.used_again(token, None)
    assert direct.used_again(token, unchecked) == ""
    shown = direct_exchange(live(), direct, token, issuer=checked, rule=None, title="again")
    assert isinstance(shown, Note) and "replay" in shown.text  # never sent: no rule lookup, no network
    token_file.write_text(jwt.encode({"sub": "system:serviceaccount:inference:claude-inference", "jti": "j-2"}, key))
    fresh = direct.read()
    assert fresh is not None and direct.used_again(fresh, checked) == ""  # the kubelet's next token goes through


def test_live_direct_path_reads_its_rule_back_up_front() -> None:
    """With an org:admin token the rule is read in the connect cell: its issuer fills in, and a wrong rule or a
    service account that is not the rule's target stops the run there, named as the notebook names them."""
    from types import SimpleNamespace

    from wif_lab.scenarios.aks import direct_settings

    def retrieve(rule_id: str) -> SimpleNamespace:
        if rule_id != "fdrl_01D":
            raise LookupError("404 not_found_error")
        return SimpleNamespace(issuer_id="fdis_01D", target=SimpleNamespace(service_account_id="svac_01D"))

    rb = Runbook("live", None, base_url="https://api.anthropic.com", organization_id="org", verify=True,
                 admin_token="sk-ant-admin-test", ids={})
    rb._admin = SimpleNamespace(organization=SimpleNamespace(federation=SimpleNamespace(
        rules=SimpleNamespace(retrieve=retrieve))))
    ok = direct_settings(rb, direct_federation_rule_id="fdrl_01D", direct_service_account_id="svac_01D")
    assert ok["direct_federation_issuer_id"] == "fdis_01D"
    with pytest.raises(ConfigurationError, match="direct_federation_rule_id fdrl_01X could not be read back"):
        direct_settings(rb, direct_federation_rule_id="fdrl_01X", direct_service_account_id="svac_01D")
    with pytest.raises(ConfigurationError, match="direct_service_account_id svac_01X is not the target") as info:
        direct_settings(rb, direct_federation_rule_id="fdrl_01D", direct_service_account_id="svac_01X")
    assert "Service accounts" in info.value.hint
