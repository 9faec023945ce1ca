"""Notebook 06 in live mode: the very same cells, with only parameters changed.

The session's lab stands in for "your SPIRE agent and your Anthropic organization": the notebook gets the agent's
socket, the issuer, the SPIFFE ID and the Anthropic IDs as papermill parameters (no connection file), the way a
platform engineer runs it inside the workload's container. Lab-only steps (changing SPIRE's settings, calling
as other workloads, the look-alike rule) must be skipped with a note; the main path and both example programs
must succeed, and nothing secret may reach the executed notebook.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import federate, lab_of
from wif_lab.mock.stack import MockStack
from wif_lab.runner import NOTEBOOK_DIR, execute

NOTEBOOK = NOTEBOOK_DIR / "06_spiffe.ipynb"
AUDIENCE = "https://api.anthropic.com"


def test_spiffe_notebook_as_a_live_runbook(lab: MockStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = lab
    lab = lab_of(stack)  # the session's lab, attached as if it were the real services
    spire = lab.section("spire")
    fed = federate(lab, issuer_url=spire["issuer"], token_lifetime_seconds=300,
                   match={"subject_prefix": spire["spiffe_id"], "audience": AUDIENCE})
    for name in [n for n in os.environ if n.startswith(("ANTHROPIC_", "SPIFFE_"))]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", lab.connection.anthropic["admin_token"])
    parameters = {
        "mode": "live", "spiffe_endpoint_socket": spire["endpoint_socket"], "spiffe_issuer": spire["issuer"],
        "spiffe_id": spire["spiffe_id"], "spiffe_token_file": spire["token_file"],
        "anthropic_base_url": lab.base_url, "organization_id": lab.organization_id,
        "federation_issuer_id": fed.issuer.id, "federation_rule_id": fed.rule.id,
        "service_account_id": fed.service_account.id, "ca_bundle": str(lab.ca_bundle),
    }
    output = tmp_path / "06_spiffe.live.ipynb"
    result = execute(NOTEBOOK, output, parameters, timeout=90)
    assert result.ok, result.error

    cells = json.loads(output.read_text())["cells"]
    shown = json.dumps([c.get("outputs", []) for c in cells if c["cell_type"] == "code"])
    assert "would be accepted" in shown                                   # the preflight read the rule back
    assert f"({fed.service_account.id})" in shown                          # Messages ran as the rule's target
    assert "Ran examples/spiffe/token_file.py" in shown and "Ran examples/spiffe/sdk_jwt_source.py" in shown
    assert "lab-only demonstration" in shown and "live mode: nothing was changed" in shown
    events = lab.events(federation_rule_id=fed.rule.id, limit=50)
    assert [e["status"]["outcome"] for e in events].count("success") >= 4  # exchange, again, SDK, two programs
    assert all(e["status"]["outcome"] == "success" for e in events)       # no provoked refusal reached the org
    settings = json.loads(json.dumps(stack.mocks["spire"].settings()))
    assert settings["jwt_issuer"] == spire["jwt_issuer"] and settings["default_jwt_svid_ttl"] == 300  # untouched
    assert lab.connection.anthropic["admin_token"] not in output.read_text()
