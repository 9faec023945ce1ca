"""Live mode runs the very same cells, with only parameters changed.

Here a running lab stands in for "your real Okta and Anthropic organization": the notebook gets its
URLs and IDs as papermill parameters (no connection file), the way a platform engineer runs it as a
runbook. Lab-only steps must be skipped with a note, and the main path must succeed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.helpers import Federation, federate, lab_of, typed_mock
from wif_lab.cli import main as cli_main
from wif_lab.lab import Lab
from wif_lab.mock.okta import OktaMock
from wif_lab.mock.stack import MockStack
from wif_lab.providers.okta import new_dpop_key
from wif_lab.runner import NOTEBOOK_DIR, execute, typed_parameters

AUDIENCE = "https://api.anthropic.com"
OKTA_NOTEBOOK = NOTEBOOK_DIR / "01_okta.ipynb"
AZURE_NOTEBOOK = NOTEBOOK_DIR / "02_azure_managed_identity.ipynb"
AKS_NOTEBOOK = NOTEBOOK_DIR / "03_aks_entra_workload_identity.ipynb"
GITHUB_NOTEBOOK = NOTEBOOK_DIR / "04_github_actions.ipynb"
AWS_NOTEBOOK = NOTEBOOK_DIR / "08_aws.ipynb"
GCP_NOTEBOOK = NOTEBOOK_DIR / "07_google_cloud.ipynb"
K8S_NOTEBOOK = NOTEBOOK_DIR / "05_kubernetes.ipynb"


@pytest.fixture(autouse=True)
def _no_credentials_of_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The notebook's doctor reads the kernel's environment: a developer's own ANTHROPIC_* must not leak in."""
    import os

    for name in list(os.environ):
        if name.startswith(("ANTHROPIC_", "OKTA_")):
            monkeypatch.delenv(name)


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


def _doctor_headline(shown: str) -> str:
    """The headline of the notebook's doctor section ("wif-lab doctor: 14 ok, 1 lab notes")."""
    found = re.search(r"wif-lab doctor: [^\\<\n]*", shown)
    assert found, "the notebook's doctor section did not run"
    return found.group(0)


def _okta_parameters(okta: dict, app: dict | None = None) -> dict[str, str]:
    app = app or okta
    return {"mode": "live", "okta_issuer": okta["issuer"], "okta_client_id": app["client_id"],
            "okta_private_key": app["private_key"], "okta_key_id": app["key_id"]}


@pytest.mark.skipif(not OKTA_NOTEBOOK.exists(), reason="the Okta notebook is not committed yet")
def test_okta_notebook_as_a_live_runbook(fresh_stack: MockStack, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    lab = lab_of(fresh_stack)
    okta = lab.section("okta")
    fed = federate(lab, issuer_url=okta["issuer"],
                   match={"subject_prefix": okta["client_id"], "audience": "https://api.anthropic.com"})
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", lab.connection.anthropic["admin_token"])
    parameters = {**_okta_parameters(okta), **_anthropic_parameters(lab, fed)}
    output = tmp_path / "01_okta.live.ipynb"
    result = execute(OKTA_NOTEBOOK, output, parameters, timeout=60)
    assert result.ok, result.error

    shown = _outputs(output)
    assert "skipped" in shown and "live mode" in shown          # lab-only steps said so
    assert "would be accepted" in shown                          # preflight read the rule back
    assert "service account 'test-sa-" in shown                 # Messages ran as the rule's target
    outcomes = [e["status"]["outcome"] for e in lab.events(federation_rule_id=fed.rule.id, limit=50)]
    assert outcomes.count("success") >= 2 and "denied" not in outcomes  # exchange + SDK; no replay, no provoked refusal
    assert "skipped in live mode: it would present a used token" in shown  # the replay demo said why it was skipped
    headline = _doctor_headline(shown)  # the loopback issuer is a lab note; nothing fails
    assert "failed" not in headline and "1 lab notes" in headline and "skipped" not in headline
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
    assert "skipped in live mode: it asks your VM's IMDS" in shown  # no IMDS error provoked on a real VM
    headline = _doctor_headline(shown)
    assert "failed" not in headline and ("skipped" in headline) is not with_admin_token
    assert lab.connection.anthropic["admin_token"] not in output.read_text()


# Notebook 03's direct-path cells (section 14) a real setup runs: its settings and token, the rule read back and
# the preflight, the exchange, the SDK call and the two example programs.
AKS_DIRECT_CELLS = ("cell-55", "cell-56", "cell-57", "cell-63", "cell-82", "cell-85")


def _cell_outputs(path: Path, ids: tuple[str, ...]) -> dict[str, str]:
    cells = json.loads(path.read_text())["cells"]
    return {c["id"]: json.dumps(c.get("outputs", [])) for c in cells if c["id"] in ids}


@pytest.mark.skipif(not AKS_NOTEBOOK.exists(), reason="the AKS notebook is not committed yet")
def test_aks_notebook_as_a_live_runbook(fresh_stack: MockStack, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """In a "pod" whose webhook variables name the lab cluster's token file and the lab's Entra: both hops
    run for real from the environment alone, and so does the direct path (its rule read back by the IDs given as
    parameters); rotation, look-alike workloads and replays are skipped."""
    lab = lab_of(fresh_stack)
    entra, k8s = lab.section("entra"), lab.section("aks")
    identity = next(i for i in entra["identities"] if i["client_id"] == k8s["env"]["AZURE_CLIENT_ID"])
    fed = _entra_federation(lab, identity["object_id"], 7500)
    # The direct path as the notebook's second way out sets it up: check_jti off, so the file's one token (no
    # kubelet rotation in live mode) serves the exchange, the SDK and both programs.
    direct = federate(lab, issuer_url=k8s["issuer"], match={"subject_prefix": k8s["subject"], "audience": AUDIENCE},
                      check_jti=False)
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", lab.connection.anthropic["admin_token"])
    for name, value in k8s["env"].items():  # what the workload-identity webhook injects
        monkeypatch.setenv(name, value)
    parameters = {"mode": "live", "scope": k8s["scope"], **_anthropic_parameters(lab, fed),
                  "anthropic_token_file": k8s["anthropic_token_file"], "direct_federation_rule_id": direct.rule.id,
                  "direct_service_account_id": direct.service_account.id}
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
    headline = _doctor_headline(shown)
    assert "failed" not in headline and "1 lab notes" in headline and "skipped" not in headline

    cells = _cell_outputs(output, AKS_DIRECT_CELLS)
    assert set(cells) == set(AKS_DIRECT_CELLS)
    assert not [cell for cell, text in cells.items() if "skipped" in text]  # the direct path ran, every step
    assert direct.rule.id in cells["cell-56"] and "would be accepted" in cells["cell-56"]
    assert "accepted" in cells["cell-57"] and f"service account '{direct.service_account.name}'" in cells["cell-63"]
    for cell in ("cell-82", "cell-85"):
        assert "Ran examples/aks/env_token_file.py against the live services" in cells[cell]
    assert "skipped in live mode: it would present a used token" in shown  # the replay demonstration
    direct_outcomes = [e["status"]["outcome"] for e in lab.events(federation_rule_id=direct.rule.id, limit=50)]
    assert direct_outcomes.count("success") == 4 and "denied" not in direct_outcomes  # exchange, SDK, 2 programs
    assert lab.connection.anthropic["admin_token"] not in output.read_text()


@pytest.mark.skipif(not GITHUB_NOTEBOOK.exists(), reason="the GitHub Actions notebook is not committed yet")
def test_github_actions_notebook_as_a_live_runbook(fresh_stack: MockStack, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a "job" whose runner variables name the lab's token service: the token, the exchange, the SDK and
    the shipped programs run from the environment alone; other jobs, look-alike rules and refusals are skipped."""
    from wif_lab.scenarios.github_actions import page_match

    lab = lab_of(fresh_stack)
    github = lab.section("github_actions")
    fed = federate(lab, issuer_url=github["issuer"],
                   jwks={"type": "discovery", "discovery_base": github["discovery_base"]},
                   match=page_match({"repository": github["repository"],
                                     "repository_owner": github["repository_owner"]}))
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", lab.connection.anthropic["admin_token"])
    for name, value in github["env"].items():  # what the runner sets in a job with id-token: write
        monkeypatch.setenv(name, value)
    parameters = {"mode": "live", "github_discovery_base": github["discovery_base"], **_anthropic_parameters(lab, fed)}
    output = tmp_path / "04.live.ipynb"
    result = execute(GITHUB_NOTEBOOK, output, parameters, timeout=60)
    assert result.ok, result.error

    shown = _outputs(output)
    assert "skipped in live mode: it needs another job than this one" in shown  # the runner's refusals, not provoked
    assert "skipped in live mode: it creates rules in your organization" in shown  # shared-issuer rules not tried
    assert "would be accepted" in shown                          # preflight read the rule back
    assert "service account 'test-sa-" in shown                 # Messages ran as the rule's target
    assert "Ran examples/github_actions/sdk_token_function.py against the live services" in shown
    outcomes = [e["status"]["outcome"] for e in lab.events(federation_rule_id=fed.rule.id, limit=50)]
    assert outcomes.count("success") >= 4 and "denied" not in outcomes  # exchange, SDK, two programs; no refusal
    headline = _doctor_headline(shown)
    assert "failed" not in headline and "1 lab notes" in headline and "skipped" not in headline
    text = output.read_text()
    assert lab.connection.anthropic["admin_token"] not in text
    assert github["env"]["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] not in text  # the runner's request token never shows


@pytest.mark.skipif(not AWS_NOTEBOOK.exists(), reason="the AWS notebook is not committed yet")
def test_aws_notebook_as_a_live_runbook(fresh_stack: MockStack, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """On "Lambda": the role's keys in the environment as Lambda sets them, boto3's endpoint override and CA for
    the lab's STS (federation already enabled); lab-only steps skipped, the main path and the programs succeed."""
    import httpx

    from wif_lab.http import ssl_context

    lab = lab_of(fresh_stack)
    aws = lab.section("aws")
    httpx.post(aws["federation_url"], json={"enabled": True}, verify=ssl_context(lab.ca_bundle)).raise_for_status()
    fed = federate(lab, issuer_url=aws["issuer"], match={"subject_prefix": aws["role_arn"], "audience": AUDIENCE})
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", lab.connection.anthropic["admin_token"])
    keys = aws["credentials"]
    for name, value in {"AWS_ENDPOINT_URL_STS": aws["endpoint_url"], "AWS_CA_BUNDLE": str(lab.ca_bundle),
                        "AWS_ACCESS_KEY_ID": keys["access_key_id"],
                        "AWS_SECRET_ACCESS_KEY": keys["secret_access_key"].reveal(),
                        "AWS_SESSION_TOKEN": keys["session_token"].reveal(), "AWS_EC2_METADATA_DISABLED": "true",
                        "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(name, value)
    parameters = {"mode": "live", "aws_region": aws["region"],
                  "eks_token_file": lab.section("aks")["anthropic_token_file"], **_anthropic_parameters(lab, fed)}
    output = tmp_path / "08.live.ipynb"
    result = execute(AWS_NOTEBOOK, output, parameters, timeout=90)
    assert result.ok, result.error

    shown = _outputs(output)
    assert "skipped" in shown and "live mode" in shown                 # lab-only steps said so
    assert "would be accepted" in shown                                 # preflight read the rule back
    assert "service account 'test-sa-" in shown                         # Messages (and the programs) ran as the target
    outcomes = [e["status"]["outcome"] for e in lab.events(federation_rule_id=fed.rule.id, limit=50)]
    assert outcomes.count("success") >= 4 and "denied" not in outcomes  # exchange, SDK, two programs; no replay
    text = output.read_text()
    for secret in (keys["secret_access_key"].reveal(), keys["session_token"].reveal(),
                   lab.connection.anthropic["admin_token"]):
        assert secret not in text


@pytest.mark.skipif(not GCP_NOTEBOOK.exists(), reason="the Google Cloud notebook is not committed yet")
def test_gcp_notebook_as_a_live_runbook(fresh_stack: MockStack, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a "VM" whose metadata server is the lab's (google-auth's own variables point at it): the token, the
    exchange, the SDK and the example programs run from the environment alone; the provoked refusals, the
    look-alike rules and the other machines are skipped."""
    lab = lab_of(fresh_stack)
    gcp, google = lab.section("gcp"), lab.section("google")
    match = {"audience": AUDIENCE, "claims": {"sub": gcp["unique_id"], "email": gcp["service_account"]}}
    fed = federate(lab, issuer_url=google["issuer"], match=match,
                   jwks={"type": "discovery", "discovery_base": google["discovery_base"]})
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", lab.connection.anthropic["admin_token"])
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "NO_GCE_CHECK", "GCE_METADATA_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GCE_METADATA_HOST", gcp["metadata_host"])  # what google-auth and the notebook's client read
    monkeypatch.setenv("GCE_METADATA_IP", gcp["metadata_ip"])
    parameters = {"mode": "live", "google_jwks_uri": google["jwks_uri"], **_anthropic_parameters(lab, fed)}
    output = tmp_path / "07.live.ipynb"
    result = execute(GCP_NOTEBOOK, output, parameters, timeout=60)
    assert result.ok, result.error

    shown = _outputs(output)
    assert "skipped" in shown and "live mode" in shown
    assert "would be accepted" in shown                           # preflight read the rule back
    assert "service account 'test-sa-" in shown                   # Messages (SDK and examples) ran as the target
    assert "skipped in live mode: it presents a token made to fail on purpose" in shown
    assert "skipped in live mode: a request made to fail on purpose" in shown
    outcomes = [e["status"]["outcome"] for e in lab.events(federation_rule_id=fed.rule.id, limit=50)]
    assert outcomes.count("success") >= 4 and "denied" not in outcomes  # exchanges, SDK, the two examples
    headline = _doctor_headline(shown)
    assert "failed" not in headline and "1 lab notes" in headline and "skipped" not in headline
    assert lab.connection.anthropic["admin_token"] not in output.read_text()


@pytest.mark.skipif(not K8S_NOTEBOOK.exists(), reason="the Kubernetes notebook is not committed yet")
def test_kubernetes_notebook_as_a_live_runbook(fresh_stack: MockStack, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """In a "pod" of the lab's self-managed cluster: ANTHROPIC_IDENTITY_TOKEN_FILE names its projected token, the
    issuer is registered inline as the guide says, and the file's token is exchanged exactly once (by the SDK);
    rotations, look-alike tokens, key changes and the second process are skipped."""
    from wif_lab.providers.kubernetes import ApiServer
    from wif_lab.scenarios.kubernetes import inline_keys

    lab = lab_of(fresh_stack)
    k8s = lab.section("kubernetes")
    keys = inline_keys(ApiServer(k8s["api_server"], verify=str(lab.ca_bundle)).jwks())
    fed = federate(lab, issuer_url=k8s["issuer"], jwks={"type": "inline", "keys": keys},
                   match={"subject_prefix": k8s["subject"], "audience": AUDIENCE})
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", lab.connection.anthropic["admin_token"])
    monkeypatch.setenv("ANTHROPIC_IDENTITY_TOKEN_FILE", k8s["token_file"])  # what the pod spec sets
    parameters = {"mode": "live", "api_server": k8s["api_server"], **_anthropic_parameters(lab, fed)}
    output = tmp_path / "05.live.ipynb"
    result = execute(K8S_NOTEBOOK, output, parameters, timeout=90)
    assert result.ok, result.error

    shown = _outputs(output)
    assert "skipped" in shown and "live mode" in shown               # lab-only steps said so
    assert "would be accepted" in shown                                # preflight read the rule back
    assert "service account 'test-sa-" in shown                        # Messages ran as the rule's target
    outcomes = [e["status"]["outcome"] for e in lab.events(federation_rule_id=fed.rule.id, limit=50)]
    assert outcomes == ["success"]                                     # the file's token, exchanged once
    assert lab.connection.anthropic["admin_token"] not in output.read_text()
    assert k8s["admin_token"] not in output.read_text()


# --- live mode that helps: DPoP, client secrets, parameter mistakes ---------------------------------


@pytest.mark.skipif(not OKTA_NOTEBOOK.exists(), reason="the Okta notebook is not committed yet")
def test_okta_notebook_live_with_an_app_that_requires_dpop(fresh_stack: MockStack, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A new Okta app left at its defaults ("Require DPoP"): okta_dpop_key makes the runbook send proofs."""
    lab = lab_of(fresh_stack)
    okta = lab.section("okta")
    app = okta["new_app"]
    assert app["require_dpop"]
    fed = federate(lab, issuer_url=okta["issuer"], match={"subject_prefix": app["client_id"], "audience": AUDIENCE})
    key = tmp_path / "dpop.pem"
    key.write_bytes(new_dpop_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", lab.connection.anthropic["admin_token"])
    parameters = {**_okta_parameters(okta, app), "okta_dpop_key": str(key), **_anthropic_parameters(lab, fed)}
    output = tmp_path / "01.dpop.ipynb"
    result = execute(OKTA_NOTEBOOK, output, parameters, timeout=60)
    assert result.ok, result.error
    shown = _outputs(output)
    assert "token_type='DPoP'" in shown and "header DPoP" in shown
    assert "skipped: examples/okta/sdk_client_credentials.py authenticates with private_key_jwt and no DPoP" in shown
    outcomes = [e["status"]["outcome"] for e in lab.events(federation_rule_id=fed.rule.id, limit=50)]
    assert outcomes.count("success") >= 2 and "denied" not in outcomes


@pytest.mark.skipif(not OKTA_NOTEBOOK.exists(), reason="the Okta notebook is not committed yet")
def test_okta_notebook_live_with_a_client_secret_from_the_environment(fresh_stack: MockStack, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    lab = lab_of(fresh_stack)
    okta = lab.section("okta")
    mock = typed_mock(fresh_stack, "okta", OktaMock)
    app = mock.create_service_app("secret workload", token_endpoint_auth_method="client_secret_basic",
                                  require_dpop=False)
    assert mock.lab_server is not None and app.client_secret
    mock.lab_server.add_policy_rule("Anthropic workloads", clients=[app], scopes=["anthropic.access"])
    fed = federate(lab, issuer_url=okta["issuer"], match={"subject_prefix": app.client_id, "audience": AUDIENCE})
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", lab.connection.anthropic["admin_token"])
    monkeypatch.setenv("OKTA_CLIENT_SECRET", app.client_secret)
    parameters = {"mode": "live", "okta_issuer": okta["issuer"], "okta_client_id": app.client_id,
                  "okta_client_auth": "client_secret_basic", **_anthropic_parameters(lab, fed)}
    output = tmp_path / "01.secret.ipynb"
    result = execute(OKTA_NOTEBOOK, output, parameters, timeout=60)
    assert result.ok, result.error
    text = output.read_text()
    assert app.client_secret not in text  # never a parameter, never shown
    assert "client_secret_basic: the client secret from OKTA_CLIENT_SECRET" in _outputs(output)


@pytest.mark.parametrize("notebook, parameters, names, where", [
    (OKTA_NOTEBOOK, {"okta_issuer": "https://example.okta.com/oauth2/default"}, "okta_client_id",
     "Applications → your API Services app"),
    (AZURE_NOTEBOOK, {"tenant_id": "11111111-2222-4333-8444-555555555555"}, "resource", "Expose an API"),
], ids=["okta", "azure"])
def test_live_parameter_mistakes_fail_fast_with_the_notebooks_names(fresh_stack: MockStack, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch, notebook: Path,
                                                                   parameters: dict[str, str], names: str,
                                                                   where: str) -> None:
    lab = lab_of(fresh_stack)
    fed = federate(lab, issuer_url=lab.section("okta")["issuer"], match={"audience": AUDIENCE,
                                                                         "subject_prefix": "x"})
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    output = tmp_path / notebook.name
    result = execute(notebook, output, {"mode": "live", **parameters, **_anthropic_parameters(lab, fed)}, timeout=60)
    assert not result.ok
    assert f"live mode needs these parameters: {names}" in result.error
    cells = [c for c in json.loads(output.read_text())["cells"] if c["cell_type"] == "code"]
    errors = [json.dumps(c["outputs"], ensure_ascii=False) for c in cells
              if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert len(errors) == 1 and where in errors[0]  # one cell failed, saying where to find the value


def test_live_runbook_names_the_missing_anthropic_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIF_LAB_CONNECTION", raising=False)
    output = tmp_path / "01.ids.ipynb"
    result = execute(OKTA_NOTEBOOK, output, {"mode": "live", "organization_id": "00000000-0000-4000-8000-000000000001"},
                     timeout=60)
    assert not result.ok and "federation_rule_id, service_account_id" in result.error


def test_an_unknown_parameter_stops_the_run_before_any_cell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["notebooks", "run", "01_okta", "-p", "mdoe", "live", "--output-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "01_okta.ipynb has no parameter 'mdoe' (did you mean 'mode'?)" in err and "nothing was run" in err
    assert not list(tmp_path.iterdir())


def test_id_parameters_stay_strings(tmp_path: Path) -> None:
    assert typed_parameters(OKTA_NOTEBOOK, {"okta_key_id": "1", "organization_id": "0012"}) == {
        "okta_key_id": "1", "organization_id": "0012"}
    numbered = tmp_path / "n.ipynb"
    numbered.write_text(json.dumps({"cells": [{"cell_type": "code", "id": "p", "metadata": {"tags": ["parameters"]},
                                               "source": "retries = 3\nlabel = 'x'\n", "outputs": [],
                                               "execution_count": None}],
                                    "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                                                "display_name": "Python 3"}},
                                    "nbformat": 4, "nbformat_minor": 5}))
    assert typed_parameters(numbered, {"retries": "5", "label": "7"}) == {"retries": 5, "label": "7"}
