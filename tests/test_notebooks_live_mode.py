"""Live mode runs the very same cells, with only parameters changed.

Here a running lab stands in for "your real Okta and Anthropic organization": the notebook gets its
URLs and IDs as papermill parameters (no connection file), the way a platform engineer runs it as a
runbook. Lab-only steps must be skipped with a note, and the main path must succeed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import Federation, federate, lab_of
from wif_lab.lab import Lab
from wif_lab.mock.stack import MockStack
from wif_lab.runner import NOTEBOOK_DIR, execute

OKTA_NOTEBOOK = NOTEBOOK_DIR / "01_okta.ipynb"
AZURE_NOTEBOOK = NOTEBOOK_DIR / "02_azure_managed_identity.ipynb"
AKS_NOTEBOOK = NOTEBOOK_DIR / "03_aks_entra_workload_identity.ipynb"


def _anthropic_parameters(lab: Lab, fed: Federation) -> dict[str, str]:
    """What a platform engineer copies from the Console into the parameters cell."""
    return {"anthropic_base_url": lab.base_url, "organization_id": lab.organization_id,
            "federation_issuer_id": fed.issuer.id, "federation_rule_id": fed.rule.id,
            "service_account_id": fed.service_account.id, "ca_bundle": str(lab.ca_bundle)}


def _entra_federation(lab: Lab, object_id: str, max_jwt_lifetime_seconds: int) -> Federation:
    """The tenant's v2.0 issuer and a rule pinning one identity, as notebooks 02 and 03 set them up."""
    entra = lab.section("entra")
    app = next(a["app_id"] for a in entra["apps"] if a["name"] == "claude-api-federation")
    return federate(lab, issuer_url=entra["issuer_v2"], max_jwt_lifetime_seconds=max_jwt_lifetime_seconds,
                    match={"audience": app, "claims": {"oid": object_id, "tid": entra["tenant_id"]}})


def _outputs(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return json.dumps([c.get("outputs", []) for c in cells if c["cell_type"] == "code"])


@pytest.mark.skipif(not OKTA_NOTEBOOK.exists(), reason="the Okta notebook is not committed yet")
def test_okta_notebook_as_a_live_runbook(fresh_stack: MockStack, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    lab = lab_of(fresh_stack)
    okta = lab.section("okta")
    fed = federate(lab, issuer_url=okta["issuer"],
                   match={"subject_prefix": okta["client_id"], "audience": "https://api.anthropic.com"})
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", lab.connection.anthropic["admin_token"])
    parameters = {
        "mode": "live",
        "okta_issuer": okta["issuer"], "okta_client_id": okta["client_id"],
        "okta_private_key": okta["private_key"], "okta_key_id": okta["key_id"],
        **_anthropic_parameters(lab, fed),
    }
    output = tmp_path / "01_okta.live.ipynb"
    result = execute(OKTA_NOTEBOOK, output, parameters, timeout=60)
    assert result.ok, result.error

    shown = _outputs(output)
    assert "skipped" in shown and "live mode" in shown          # lab-only steps said so
    assert "would be accepted" in shown                          # preflight read the rule back
    assert "service account 'test-sa-" in shown                 # Messages ran as the rule's target
    outcomes = [e["status"]["outcome"] for e in lab.events(federation_rule_id=fed.rule.id, limit=50)]
    assert outcomes.count("success") >= 2 and "denied" not in outcomes  # exchange + SDK; no replay, no provoked refusal
    assert lab.connection.anthropic["admin_token"] not in output.read_text()  # no secret in the evidence


@pytest.mark.skipif(not AZURE_NOTEBOOK.exists(), reason="the Azure notebook is not committed yet")
@pytest.mark.parametrize("with_admin_token", [True, False], ids=["admin-token", "no-admin-token"])
def test_azure_notebook_as_a_live_runbook(fresh_stack: MockStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          with_admin_token: bool) -> None:
    """On a "VM" whose IMDS is the lab's; without an admin token the preflight is skipped, not broken."""
    lab = lab_of(fresh_stack)
    entra, imds = lab.section("entra"), lab.section("azure")
    vm = next(i for i in entra["identities"] if i["name"] == "wif-lab-vm")
    fed = _entra_federation(lab, vm["object_id"], 90000)
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    monkeypatch.delenv("WIF_LAB_ADMIN_TOKEN", raising=False)
    if with_admin_token:
        monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", lab.connection.anthropic["admin_token"])
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds["imds_url"])
    parameters = {"mode": "live", "tenant_id": entra["tenant_id"], "resource": imds["resource"],
                  **_anthropic_parameters(lab, fed)}
    output = tmp_path / "02.live.ipynb"
    result = execute(AZURE_NOTEBOOK, output, parameters, timeout=60)
    assert result.ok, result.error
    shown = _outputs(output)
    assert "skipped" in shown
    assert ("would be accepted" in shown) is with_admin_token
    assert "service account 'test-sa-" in shown
    assert lab.connection.anthropic["admin_token"] not in output.read_text()


@pytest.mark.skipif(not AKS_NOTEBOOK.exists(), reason="the AKS notebook is not committed yet")
def test_aks_notebook_as_a_live_runbook(fresh_stack: MockStack, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """In a "pod" whose webhook variables name the lab cluster's token file and the lab's Entra: both hops
    run for real from the environment alone; rotation, look-alike workloads and the direct path are skipped."""
    lab = lab_of(fresh_stack)
    entra, k8s = lab.section("entra"), lab.section("aks")
    identity = next(i for i in entra["identities"] if i["client_id"] == k8s["env"]["AZURE_CLIENT_ID"])
    fed = _entra_federation(lab, identity["object_id"], 7500)
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", lab.connection.anthropic["admin_token"])
    for name, value in k8s["env"].items():  # what the workload-identity webhook injects
        monkeypatch.setenv(name, value)
    parameters = {"mode": "live", "scope": k8s["scope"], **_anthropic_parameters(lab, fed)}
    output = tmp_path / "03.live.ipynb"
    result = execute(AKS_NOTEBOOK, output, parameters, timeout=60)
    assert result.ok, result.error

    shown = _outputs(output)
    assert "skipped" in shown and "live mode" in shown            # lab-only steps said so
    assert "AZURE_FEDERATED_TOKEN_FILE" in shown and "environment" in shown  # pod settings from the webhook
    assert "would be accepted" in shown                             # preflight read the rule back
    assert "service account 'test-sa-" in shown                     # Messages ran as the rule's target
    outcomes = [e["status"]["outcome"] for e in lab.events(federation_rule_id=fed.rule.id, limit=50)]
    assert outcomes.count("success") >= 2 and "denied" not in outcomes  # a live runbook provokes no refusal
    assert lab.connection.anthropic["admin_token"] not in output.read_text()
