"""The Google Cloud demonstrations without a lab (live mode): every lab-only step says it was skipped, the
issuer registration is Google's plain discovery, and the module loads no mock."""

from __future__ import annotations

import ast
from pathlib import Path

import jwt

from wif_lab.providers import google_cloud
from wif_lab.runbook import Note, Runbook
from wif_lab.scenarios import google_cloud as scenario

LIVE = Runbook("live", None, base_url="https://api.anthropic.com", organization_id="o", verify=True, admin_token=None,
               ids={"federation_rule_id": "fdrl_x", "service_account_id": "svac_x"})


def token(**claims: object) -> str:
    return jwt.encode({"iss": scenario.ISSUER, "sub": "1", "aud": "a", **claims}, "k" * 32, algorithm="HS256")


def test_live_mode_registers_googles_issuer_by_plain_discovery() -> None:
    google = scenario.google_settings(LIVE)
    assert google == {"issuer": "https://accounts.google.com", "jwks_uri": scenario.REAL_JWKS_URI,
                      "discovery_base": None}
    assert scenario.issuer_registration(LIVE, google) == {"issuer_url": "https://accounts.google.com",
                                                          "jwks": {"type": "discovery"}}
    lab_like = {"discovery_base": "https://127.0.0.1:1"}
    assert scenario.issuer_registration(LIVE, lab_like)["jwks"]["discovery_base"] == "https://127.0.0.1:1"


def test_live_mode_skips_every_lab_only_step() -> None:
    assert isinstance(scenario.machines(LIVE), Note) and isinstance(scenario.gke_pod(LIVE), Note)
    assert scenario.other_machine_token(LIVE, {"audience": "a"}, "stranger-vm") is None
    refusals = repr(scenario.metadata_refusals(LIVE, {"audience": "a", "metadata_host": None}))
    assert refusals.count("skipped in live mode") == 2  # no request was sent to this machine's metadata server
    rule = repr(scenario.try_rule(LIVE, "t", name="n", issuer=None, service_account=None, match={"audience": "a"}))
    assert "skipped in live mode" in rule


def test_the_pages_rule_and_the_tables() -> None:
    full, plain = token(email="sa@p.iam.gserviceaccount.com", google={"compute_engine": {"project_id": "p"}}), token()
    assert scenario.page_match(jwt.decode(full, options={"verify_signature": False})) == {
        "audience": "a", "claims": {"sub": "1", "email": "sa@p.iam.gserviceaccount.com"}}
    shown = repr(scenario.format_comparison(plain, full))
    assert "email" in shown and "— (absent)" in shown
    compared = repr(scenario.compare_tokens({"mine": full, "skipped": None}))
    assert "mine" in compared and "skipped" not in compared and "p" in compared


def test_the_workload_side_imports_no_mock() -> None:
    """Directly, that is (what a module imports at its top); a subprocess check of sys.modules costs seconds."""
    for module in (scenario, google_cloud):
        tree = ast.parse(Path(module.__file__ or "").read_text())
        names = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        names += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        assert not [n for n in names if n == "mock" or n.startswith(("mock.", "wif_lab.mock"))], module.__name__
