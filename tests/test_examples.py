"""The production programs in examples/ reach the mock Claude API as the workload they are written for.

Each program runs as its own process in a fresh interpreter (not on the fork server the notebooks use, so
the files are proven exactly as they ship), configured only through environment variables built from the
lab (as a deployment would set them), with TLS verification on against the lab CA. The lab registers
issuer, service account and rule first, as the notebooks do; the mock's reply names the service
account the exchanged token is bound to, and the authentication event says which rule let it in.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._examples_lab import entra_identity, mock_runbook, reached_claude, register
from tests.helpers import lab_of, own_stack, typed_mock
from wif_lab import examples, forkserver
from wif_lab.errors import ConfigurationError
from wif_lab.lab import Lab
from wif_lab.mock.app_service_identity import AppServiceIdentityMock
from wif_lab.mock.azure_imds import ImdsMock
from wif_lab.mock.stack import MockStack
from wif_lab.nbcheck import SECRET_PATTERNS
from wif_lab.providers.aks import read_token_file
from wif_lab.runbook import Runbook
from wif_lab.tokens import decode, ssl_context

AUDIENCE = "https://api.anthropic.com"


def require_tools(*tools: str) -> None:
    """The cURL examples need these; a missing one is a setup error to fix, never a skipped test."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: install with `apt-get install {' '.join(missing)}`")


@pytest.fixture(autouse=True)
def fresh_interpreters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(forkserver.ENV_VARIABLE, forkserver.OFF)


@pytest.fixture(scope="module")
def stack(lab: MockStack, state_dir: Path) -> Iterator[MockStack]:
    with own_stack(state_dir, "examples") as running:
        yield running


@pytest.fixture(scope="module")
def the_lab(stack: MockStack) -> Lab:
    return lab_of(stack)


@pytest.fixture
def rb(the_lab: Lab) -> Runbook:
    return mock_runbook(the_lab)


def audience_app(the_lab: Lab) -> str:
    return next(a["app_id"] for a in the_lab.section("entra")["apps"] if a["name"] == "claude-api-federation")


# --- Okta ------------------------------------------------------------------------------------------


@pytest.fixture
def okta_rule(rb: Runbook, the_lab: Lab) -> Any:
    okta = the_lab.section("okta")
    return register(rb, "examples-okta", okta["issuer"], {"subject_prefix": okta["client_id"], "audience": AUDIENCE})


def test_okta_sdk_program(rb: Runbook, okta_rule: Any, the_lab: Lab) -> None:
    reached_claude(examples.run("okta/sdk_client_credentials.py", rb), okta_rule, the_lab)


def test_okta_curl_script(rb: Runbook, okta_rule: Any, the_lab: Lab) -> None:
    require_tools("curl", "jq", "openssl")
    reached_claude(examples.run("okta/curl.sh", rb), okta_rule, the_lab)


def test_okta_token_file_script(rb: Runbook, okta_rule: Any, the_lab: Lab, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The guide's CLI tab: Okta's token in a file, then a program with no credential code. The temporary
    token file goes when the script ends, refused or not."""
    require_tools("curl", "jq", "openssl")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    run = examples.run("okta/token_file.sh", rb)
    reached_claude(run, okta_rule, the_lab)
    assert "ANTHROPIC_IDENTITY_TOKEN_FILE" not in run.env  # the script makes the file and names it itself
    assert "ANTHROPIC_PROFILE" not in run.env
    refused = examples.run("okta/token_file.sh", rb, settings={**the_lab.section("okta"), "key_id": "no-such-key"},
                           check=False)
    assert not refused.ok and "invalid_client" in refused.stderr
    assert list(tmp_path.iterdir()) == []


def test_okta_token_file_script_with_a_profile(rb: Runbook, okta_rule: Any, the_lab: Lab) -> None:
    require_tools("curl", "jq", "openssl")
    profile_run_reaches_claude_and_caches(rb, "okta/token_file.sh", "claude-okta", okta_rule, the_lab)


# --- Azure VM (IMDS) -------------------------------------------------------------------------------


@pytest.fixture
def vm_rule(rb: Runbook, the_lab: Lab) -> Any:
    entra = the_lab.section("entra")
    vm = entra_identity(the_lab, "wif-lab-vm")  # the VM's system-assigned identity
    return register(rb, "examples-azure-vm", entra["issuer_v2"],
                    {"audience": audience_app(the_lab), "claims": {"oid": vm["object_id"], "tid": entra["tenant_id"]}},
                    max_jwt_lifetime_seconds=90000)


def test_azure_vm_sdk_program(rb: Runbook, vm_rule: Any, the_lab: Lab) -> None:
    reached_claude(examples.run("azure_vm/sdk_managed_identity.py", rb), vm_rule, the_lab)


def test_azure_vm_curl_script(rb: Runbook, vm_rule: Any, the_lab: Lab) -> None:
    require_tools("curl", "jq")
    reached_claude(examples.run("azure_vm/curl.sh", rb), vm_rule, the_lab)


def test_azure_vm_token_file_script(rb: Runbook, vm_rule: Any, the_lab: Lab) -> None:
    require_tools("curl", "jq")
    run = examples.run("azure_vm/token_file.sh", rb)
    reached_claude(run, vm_rule, the_lab)
    assert "ANTHROPIC_IDENTITY_TOKEN_FILE" not in run.env


def test_azure_vm_token_file_script_with_a_profile(rb: Runbook, vm_rule: Any, the_lab: Lab) -> None:
    require_tools("curl", "jq")
    profile_run_reaches_claude_and_caches(rb, "azure_vm/token_file.sh", "claude-azure-vm", vm_rule, the_lab)


def profile_run_reaches_claude_and_caches(rb: Runbook, name: str, profile: str, rule: Any, the_lab: Lab) -> None:
    """The SDK takes the profile (it wins over the ANTHROPIC_* variables), exchanges the script's token file
    and caches the Claude API token; a second process reuses the cache and exchanges nothing."""
    first = examples.run(name, rb, profile=profile)
    reached_claude(first, rule, the_lab)
    config_dir = Path(first.env["ANTHROPIC_CONFIG_DIR"])
    installed = json.loads((config_dir / "configs" / f"{profile}.json").read_text())
    assert installed == json.loads(examples.path_of(examples.PROFILE_FILES[name]).read_text())
    assert "identity_token" not in installed["authentication"]  # the file comes from ANTHROPIC_IDENTITY_TOKEN_FILE
    cache = config_dir / "credentials" / f"{profile}.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600 and json.loads(cache.read_text())["type"] == "oauth_token"
    events_before = len(the_lab.events(federation_rule_id=rule.id, limit=100))
    second = examples.run(name, rb, profile=profile)
    assert second.ok and f"({rule.target.service_account_id})" in second.stdout
    assert len(the_lab.events(federation_rule_id=rule.id, limit=100)) == events_before


# --- the same program on App Service / Functions / Container Apps (the platform's identity endpoint) ---


@pytest.fixture
def app_service_rule(rb: Runbook, the_lab: Lab) -> Any:
    entra = the_lab.section("entra")
    app_identity = entra_identity(the_lab, "claude-inference")  # the app's user-assigned identity
    return register(rb, "examples-app-service", entra["issuer_v2"],
                    {"audience": audience_app(the_lab),
                     "claims": {"oid": app_identity["object_id"], "tid": entra["tenant_id"]}},
                    max_jwt_lifetime_seconds=90000)


def test_azure_vm_sdk_program_runs_unchanged_on_app_service(rb: Runbook, app_service_rule: Any, the_lab: Lab,
                                                            stack: MockStack) -> None:
    app, imds = typed_mock(stack, "app_service", AppServiceIdentityMock), typed_mock(stack, "imds", ImdsMock)
    section = the_lab.section("app_service")
    settings = {"resource": section["resource"], "client_id": entra_identity(the_lab, "claude-inference")["client_id"],
                "identity_endpoint": section["identity_endpoint"], "identity_header": section["identity_header"],
                "imds_url": the_lab.section("azure")["imds_url"]}  # IMDS is there too: the platform variables win
    before = (app.requests, imds.requests)
    run = examples.run("azure_vm/sdk_managed_identity.py", rb, settings=settings)
    reached_claude(run, app_service_rule, the_lab)
    assert (app.requests, imds.requests) == (before[0] + 1, before[1])
    assert run.env["IDENTITY_HEADER"] == section["identity_header"]
    assert section["identity_header"] not in repr(run) + run._repr_html_()


# --- AKS, two hops (Entra Workload ID) ------------------------------------------------------------


@pytest.fixture
def aks_rule(rb: Runbook, the_lab: Lab) -> Any:
    entra = the_lab.section("entra")
    pod_identity = entra_identity(the_lab, "claude-inference")
    return register(rb, "examples-aks", entra["issuer_v2"],
                    {"audience": audience_app(the_lab),
                     "claims": {"oid": pod_identity["object_id"], "tid": entra["tenant_id"]}},
                    max_jwt_lifetime_seconds=7500)


def test_aks_sdk_program(rb: Runbook, aks_rule: Any, the_lab: Lab) -> None:
    reached_claude(examples.run("aks/sdk_workload_identity.py", rb), aks_rule, the_lab)


def test_aks_curl_script(rb: Runbook, aks_rule: Any, the_lab: Lab) -> None:
    require_tools("curl", "jq")
    reached_claude(examples.run("aks/curl.sh", rb), aks_rule, the_lab)


# --- AKS / Kubernetes direct path: environment variables and a federation profile ------------------


@pytest.fixture
def direct_rule(rb: Runbook, the_lab: Lab) -> Any:
    aks = the_lab.section("aks")
    subject = decode(read_token_file(aks["anthropic_token_file"])).subject
    return register(rb, "examples-aks-direct", aks["issuer"], {"subject_prefix": subject, "audience": AUDIENCE})


def rotate(the_lab: Lab) -> None:
    """The kubelet's refresh, now: fresh projected tokens (a projected token's jti is accepted once)."""
    httpx.post(the_lab.section("aks")["rotate_url"], verify=ssl_context(the_lab.ca_bundle),
               timeout=10).raise_for_status()


def test_environment_variables_alone_configure_the_sdk(rb: Runbook, direct_rule: Any, the_lab: Lab) -> None:
    rotate(the_lab)
    run = examples.run("aks/env_token_file.py", rb, rule=direct_rule)
    reached_claude(run, direct_rule, the_lab)
    assert run.env["ANTHROPIC_IDENTITY_TOKEN_FILE"] == the_lab.section("aks")["anthropic_token_file"]
    # A second process, same token file content: the SDK exchanges it again and Anthropic refuses the
    # replayed jti (what the program's docstring warns about; the profile's token cache avoids it).
    again = examples.run("aks/env_token_file.py", rb, rule=direct_rule, check=False)
    assert not again.ok and "401" in again.stderr
    event = the_lab.last_event(direct_rule.id)
    assert event is not None and event["status"]["reason"] == "jti_reused"


def test_a_federation_profile_configures_the_sdk_and_caches_its_token(rb: Runbook, direct_rule: Any,
                                                                      the_lab: Lab) -> None:
    rotate(the_lab)
    first = examples.run("aks/env_token_file.py", rb, rule=direct_rule, profile="claude-direct")
    reached_claude(first, direct_rule, the_lab)
    config_dir = Path(first.env["ANTHROPIC_CONFIG_DIR"])
    profile = json.loads((config_dir / "configs" / "claude-direct.json").read_text())
    committed = json.loads(examples.path_of(examples.PROFILE_FILE).read_text())
    assert _shape(profile) == _shape(committed)  # the committed file, only the token path moved
    assert profile["authentication"]["identity_token"]["path"] == the_lab.section("aks")["anthropic_token_file"]
    assert "ANTHROPIC_IDENTITY_TOKEN_FILE" not in first.env
    cache = config_dir / "credentials" / "claude-direct.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600 and json.loads(cache.read_text())["type"] == "oauth_token"
    # The next process reuses the cached Claude API token: no second exchange of the same projected token.
    events_before = len(the_lab.events(federation_rule_id=direct_rule.id, limit=100))
    second = examples.run("aks/env_token_file.py", rb, rule=direct_rule, profile="claude-direct")
    assert second.ok and f"({direct_rule.target.service_account_id})" in second.stdout
    assert len(the_lab.events(federation_rule_id=direct_rule.id, limit=100)) == events_before


def test_each_runbook_has_a_profile_folder_of_its_own(the_lab: Lab, okta_rule: Any) -> None:
    """No attendee of a shared lab, and no earlier run of a notebook, lends a runbook a cached Claude API token:
    the profile's folder belongs to one runbook (reused by its own runs), is shown the same way every time,
    and goes with the runbook."""
    import gc

    first, second = mock_runbook(the_lab), mock_runbook(the_lab)
    env = examples.environment(first, "okta/token_file.sh", rule=okta_rule, profile="claude-okta")
    again = examples.environment(first, "okta/token_file.sh", rule=okta_rule, profile="claude-okta")
    other = examples.environment(second, "okta/token_file.sh", rule=okta_rule, profile="claude-okta")
    folder = Path(env["ANTHROPIC_CONFIG_DIR"])
    assert again["ANTHROPIC_CONFIG_DIR"] == str(folder) != other["ANTHROPIC_CONFIG_DIR"]
    assert folder.parent == the_lab.connection.path.parent
    assert env.shown("ANTHROPIC_CONFIG_DIR") == other.shown("ANTHROPIC_CONFIG_DIR") == examples.CONFIG_DIR_SHOWN
    del first, env, again
    gc.collect()
    assert not folder.exists() and Path(other["ANTHROPIC_CONFIG_DIR"]).is_dir()


def _shape(value: Any) -> Any:
    return {k: _shape(v) for k, v in value.items()} if isinstance(value, dict) else type(value).__name__


# --- what the notebook shows -----------------------------------------------------------------------


def test_displayed_runs_hold_no_secret_and_no_local_path(rb: Runbook, okta_rule: Any, the_lab: Lab) -> None:
    run = examples.run("okta/sdk_client_credentials.py", rb)
    shown = repr(run) + run._repr_html_()
    assert not [what for what, rx in SECRET_PATTERNS.items() if rx.search(shown)]
    state_dir = str(the_lab.connection.data["state_dir"])
    assert state_dir not in shown and "<lab state dir>/keys/okta-workload.pem" in shown
    assert run.env["OKTA_PRIVATE_KEY_FILE"].startswith(state_dir)  # the program still gets the real path


def test_secret_looking_variables_are_redacted_when_shown() -> None:
    env = examples.Environment({"ANTHROPIC_IDENTITY_TOKEN": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl" * 2,
                                "OKTA_KEY_ID": "kid-1"}, base={}, hide={}, where="the lab")
    assert "c2lnbmF0dXJl" not in repr(env) and "kid-1" in repr(env)


def test_show_renders_a_code_block() -> None:
    source = examples.show("azure_vm/curl.sh")
    assert source._repr_markdown_().startswith("`examples/azure_vm/curl.sh`\n\n```bash\n#!/usr/bin/env bash")
    assert repr(source).splitlines()[0] == "# examples/azure_vm/curl.sh"
    assert examples.show("aks/anthropic_profile.json").language == "json"


def test_unknown_example_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as info:
        examples.show("okta/nope.py")
    assert "okta/curl.sh" in info.value.hint


def test_programs_are_standalone() -> None:
    """What ships imports no wif_lab and reads configuration only from the environment."""
    programs = [p for p in examples.EXAMPLES_DIR.rglob("*") if p.suffix in (".py", ".sh")]
    assert len(programs) == 18  # okta 3, azure_vm 3, aks 3, spiffe 2, github_actions 2, aws 2, gcp 2, kubernetes 1
    for program in programs:
        text = program.read_text()
        assert "wif_lab" not in text and "127.0.0.1" not in text, program
        assert not re.search(r"\bverify\s*=\s*False|--insecure|\s-k\s", text), program  # TLS verification stays on


def test_curl_scripts_call_messages_as_the_guides_do() -> None:
    for provider in ("okta", "azure_vm", "aks", "github_actions", "gcp"):
        text = examples.path_of(f"{provider}/curl.sh").read_text()
        assert "/v1/oauth/token" in text and "/v1/messages" in text
        assert '"anthropic-version: 2023-06-01"' in text and "anthropic-beta" not in text
        assert "authorization: Bearer" in text
    aws = examples.path_of("aws/cli.sh").read_text()  # the AWS CLI's step, then the same two requests
    assert "aws sts get-web-identity-token" in aws and "/v1/oauth/token" in aws and "anthropic-beta" not in aws


def test_the_notebooks_settings_give_the_same_environment(rb: Runbook, okta_rule: Any) -> None:
    from wif_lab.scenarios.aks import pod_settings

    okta = rb.settings("okta", issuer="", client_id="", private_key="", key_id="", scope="anthropic.access")
    azure = rb.settings("azure", tenant_id="", resource="", client_id="", imds_url="")
    for name, settings in (("okta/curl.sh", okta), ("azure_vm/curl.sh", azure), ("aks/curl.sh", pod_settings(rb))):
        assert examples.environment(rb, name, settings=settings) == examples.environment(rb, name), name


def test_live_mode_takes_the_notebooks_settings_and_the_pods_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_IDENTITY_TOKEN_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/corporate-ca.pem")  # the machine's own trust settings stay
    live = Runbook("live", None, base_url="https://api.anthropic.com", organization_id="org-uuid", verify=True,
                   admin_token=None, ids={"federation_rule_id": "fdrl_01live", "service_account_id": "svac_01live"})
    with pytest.raises(ConfigurationError, match="settings"):
        examples.environment(live, "okta/curl.sh")
    okta = {"issuer": "https://acme.okta.com/oauth2/aus1", "client_id": "0oa1", "private_key": "/keys/app.pem",
            "key_id": "kid1", "scope": "anthropic.access"}
    env = examples.environment(live, "okta/sdk_client_credentials.py", settings=okta)
    assert env["OKTA_PRIVATE_KEY_FILE"] == "/keys/app.pem" and env["ANTHROPIC_FEDERATION_RULE_ID"] == "fdrl_01live"
    assert "SSL_CERT_FILE" not in env and env.full()["SSL_CERT_FILE"] == "/etc/corporate-ca.pem"
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://imds.internal")  # the VM's own IMDS address
    vm = examples.environment(live, "azure_vm/sdk_managed_identity.py", settings={"resource": "api://app"})
    assert vm["AZURE_POD_IDENTITY_AUTHORITY_HOST"] == "http://imds.internal"
    direct = examples.environment(live, "aks/env_token_file.py", settings={"scope": "api://app/.default"})
    assert direct["ANTHROPIC_IDENTITY_TOKEN_FILE"] == examples.POD_TOKEN_PATH
    assert direct["CLAUDE_API_RESOURCE"] == "api://app"


# --- self-managed Kubernetes: the token file alone, the issuer registered inline ---------------------


@pytest.fixture
def cluster_rule(rb: Runbook, the_lab: Lab) -> Any:
    from wif_lab.providers.kubernetes import ApiServer
    from wif_lab.scenarios.kubernetes import inline_keys

    k8s = the_lab.section("kubernetes")
    keys = inline_keys(ApiServer(k8s["api_server"], verify=str(the_lab.ca_bundle)).jwks())
    issuer = rb.register_issuer(name="examples-kubernetes", issuer_url=k8s["issuer"],
                                jwks={"type": "inline", "keys": keys})
    account = rb.register_service_account(name="examples-kubernetes", description="runs examples/kubernetes")
    return rb.register_rule(name="examples-kubernetes", issuer=issuer, service_account=account,
                            match={"subject_prefix": k8s["subject"], "audience": AUDIENCE}, token_lifetime_seconds=600)


def test_a_pod_on_a_self_managed_cluster_needs_only_the_token_file(rb: Runbook, cluster_rule: Any,
                                                                   the_lab: Lab) -> None:
    k8s = the_lab.section("kubernetes")
    httpx.post(k8s["rotate_url"], verify=ssl_context(the_lab.ca_bundle), timeout=10).raise_for_status()
    run = examples.run("kubernetes/env_token_file.py", rb, rule=cluster_rule)
    reached_claude(run, cluster_rule, the_lab)
    assert run.env["ANTHROPIC_IDENTITY_TOKEN_FILE"] == k8s["token_file"]
    assert not [name for name in run.env if name.startswith(("AZURE_", "IDENTITY_"))]
