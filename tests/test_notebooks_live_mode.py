"""Live mode runs the very same cells, with only parameters changed.

Here a running lab stands in for "your real Okta and Anthropic organization": the notebook gets its
URLs and IDs as papermill parameters (no connection file), the way a platform engineer runs it as a
runbook. Lab-only steps must be skipped with a note, and the main path must succeed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import federate, lab_of
from wif_lab.mock.stack import MockStack
from wif_lab.runner import NOTEBOOK_DIR, execute

OKTA_NOTEBOOK = NOTEBOOK_DIR / "01_okta.ipynb"


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
        "anthropic_base_url": lab.base_url, "organization_id": lab.organization_id,
        "federation_issuer_id": fed.issuer.id, "federation_rule_id": fed.rule.id,
        "service_account_id": fed.service_account.id, "ca_bundle": str(lab.ca_bundle),
    }
    output = tmp_path / "01_okta.live.ipynb"
    result = execute(OKTA_NOTEBOOK, output, parameters, timeout=60)
    assert result.ok, result.error

    shown = _outputs(output)
    assert "skipped" in shown and "live mode" in shown          # lab-only steps said so
    assert "would be accepted" in shown                          # preflight read the rule back
    assert "service account 'test-sa-" in shown                 # Messages ran as the rule's target
    outcomes = [e["status"]["outcome"] for e in lab.events(federation_rule_id=fed.rule.id, limit=50)]
    assert outcomes.count("success") >= 2 and "denied" in outcomes  # exchange + SDK; the replay demo
    assert lab.connection.anthropic["admin_token"] not in output.read_text()  # no secret in the evidence
