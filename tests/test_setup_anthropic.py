"""``wif-lab setup anthropic`` against the lab's mock Anthropic, over real TLS with the official SDK.

Idempotency (a second run changes nothing), dry runs (nothing changes), in-place updates, the env file
and profile a workload then uses for a real exchange, clean-up, and each kind of error as one line
with the right exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import own_stack
from wif_lab.cli import main
from wif_lab.mock.stack import MockStack
from wif_lab.providers.aks import read_token_file
from wif_lab.setup.anthropic import AnthropicSetup
from wif_lab.setup.anthropic_config import load_anthropic
from wif_lab.setup.outputs import read_env
from wif_lab.tokens import decode

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def stack(state_dir: Path) -> Iterator[MockStack]:
    with own_stack(state_dir, "setup-anthropic") as running:
        yield running


@pytest.fixture
def conn(stack: MockStack, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    connection = stack.connection()
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", str(connection["anthropic"]["admin_token"]))
    return connection


def write_config(path: Path, conn: dict[str, Any], *, name: str, issuer_url: str | None = None,
                 match: str | None = None, extra_rule: str = "", extra_issuer: str = "", output: str = "",
                 workspace: str = "default", top: str = "") -> Path:
    aks = conn["aks"]
    subject = aks["subject"]
    match = match or f'subject_prefix = "{subject}"\naudience = "https://api.anthropic.com"'
    path.write_text(f"""
[anthropic]
base_url = "{conn['anthropic']['base_url']}"
ca_bundle = "{conn['ca_bundle']}"
{top}

[anthropic.issuer]
name = "{name}-issuer"
issuer_url = "{issuer_url or aks['issuer']}"
jwks = {{ type = "discovery" }}
max_jwt_lifetime_seconds = 7200
{extra_issuer}

[anthropic.service_account]
name = "{name}-sa"
description = "set up by a test"

[anthropic.rule]
name = "{name}-rule"
oauth_scope = "workspace:developer"
token_lifetime_seconds = 600
workspace_id = "{workspace}"
{extra_rule}
[anthropic.rule.match]
{match}

{output}
""")
    return path


def run_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["setup", "anthropic", *args])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(stack: MockStack) -> str:
    store = stack.mocks["anthropic"].store  # type: ignore[attr-defined]
    return json.dumps([store.issuers, store.service_accounts, store.rules, store.rule_workspaces], sort_keys=True,
                      default=str)


# --- idempotency ---------------------------------------------------------------------------------


def test_first_run_creates_then_a_second_run_changes_nothing(conn: dict[str, Any], stack: MockStack,
                                                             tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    config = write_config(tmp_path / "a.toml", conn, name="idem")
    code, out, err = run_cli(str(config), capsys=capsys)
    assert (code, err) == (0, "")
    assert out.count("create") >= 3 and "fdrl_" in out and "federation_rule_id = fdrl_" in out
    before = snapshot(stack)
    code, out, _ = run_cli(str(config), capsys=capsys)
    assert code == 0 and "Already up to date: nothing changed." in out
    assert "create" not in out and "update" not in out
    assert snapshot(stack) == before
    store = stack.mocks["anthropic"].store  # type: ignore[attr-defined]
    assert [r["name"] for r in store.rules.values()].count("idem-rule") == 1
    assert [s["name"] for s in store.service_accounts.values()].count("idem-sa") == 1


def test_dry_run_changes_nothing_and_shows_each_field(conn: dict[str, Any], stack: MockStack, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "dry.toml", conn, name="dry")
    before = snapshot(stack)
    code, out, _ = run_cli(str(config), "--dry-run", capsys=capsys)
    assert code == 0 and snapshot(stack) == before
    assert "would create" in out and "dry run, nothing changed" in out
    assert "match.subject_prefix" in out and conn["aks"]["subject"] in out
    assert "issuer_id" in out and "(new)" in out  # the rule's issuer does not exist yet
    # As JSON, for pipelines: the same plan.
    code, out, _ = run_cli(str(config), "--dry-run", "--json", capsys=capsys)
    plan = json.loads(out)
    assert plan["dry_run"] and plan["changed"]
    assert [s["action"] for s in plan["steps"]] == ["create", "create", "create"]
    assert snapshot(stack) == before


def test_a_changed_file_updates_in_place(conn: dict[str, Any], stack: MockStack, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "u.toml", conn, name="upd")
    assert run_cli(str(config), capsys=capsys)[0] == 0
    store = stack.mocks["anthropic"].store  # type: ignore[attr-defined]
    rule_ids = {r["id"] for r in store.rules.values() if r["name"] == "upd-rule"}
    # Change the lifetime on the issuer and the audience and lifetime on the rule.
    write_config(config, conn, name="upd", match='subject_prefix = "system:serviceaccount:inference:*"\n'
                 'audience = "https://api.anthropic.com"',
                 extra_rule="description = \"now wider\"")
    text = config.read_text().replace("max_jwt_lifetime_seconds = 7200", "max_jwt_lifetime_seconds = 86400")
    config.write_text(text.replace("token_lifetime_seconds = 600", "token_lifetime_seconds = 900"))
    code, out, _ = run_cli(str(config), "--dry-run", capsys=capsys)
    assert code == 0 and "would update" in out
    assert "max_jwt_lifetime_seconds" in out and "7200 → 86400" in out
    assert "600 → 900" in out and "match.subject_prefix" in out
    code, out, _ = run_cli(str(config), capsys=capsys)
    assert code == 0
    rule = next(r for r in store.rules.values() if r["name"] == "upd-rule" and not r["archived_at"])
    assert {rule["id"]} == rule_ids  # updated, not replaced
    assert (rule["token_lifetime_seconds"], rule["description"]) == (900, "now wider")
    assert rule["match"]["subject_prefix"] == "system:serviceaccount:inference:*"
    issuer = next(i for i in store.issuers.values() if i["name"] == "upd-issuer")
    assert issuer["max_jwt_lifetime_seconds"] == 86400
    assert "Already up to date" in run_cli(str(config), capsys=capsys)[1]


def test_a_non_default_workspace_gets_the_membership_first(conn: dict[str, Any], stack: MockStack,
                                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    store = stack.mocks["anthropic"].store  # type: ignore[attr-defined]
    workspace = store.create_workspace("setup-team")["id"]
    config = write_config(tmp_path / "ws.toml", conn, name="team", workspace=workspace)
    code, out, _ = run_cli(str(config), capsys=capsys)
    assert code == 0 and "workspace membership" in out
    sa = next(s for s in store.service_accounts.values() if s["name"] == "team-sa")
    assert store.is_member(sa["id"], workspace)
    rule = next(r for r in store.rules.values() if r["name"] == "team-rule")
    assert rule["workspace_ids"] == [workspace]
    assert "Already up to date" in run_cli(str(config), capsys=capsys)[1]


# --- what the workload gets ------------------------------------------------------------------------


def test_the_env_file_and_profile_configure_a_real_exchange(conn: dict[str, Any], stack: MockStack, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    aks = conn["aks"]
    token_file = aks["anthropic_token_file"]
    assert decode(read_token_file(token_file)).subject == aks["subject"]
    output = (f'[anthropic.output]\nenv_file = "out/anthropic.env"\nprofile = "claude-direct"\n'
              f'profile_dir = "{tmp_path / "anthropic-config"}"\nidentity_token_file = "{token_file}"\n')
    config = write_config(tmp_path / "out.toml", conn, name="direct", output=output)
    code, _, _ = run_cli(str(config), capsys=capsys)
    assert code == 0
    env = read_env(tmp_path / "out" / "anthropic.env")
    assert env["ANTHROPIC_FEDERATION_RULE_ID"].startswith("fdrl_")
    assert env["ANTHROPIC_ORGANIZATION_ID"] == conn["anthropic"]["organization_id"]
    assert env["ANTHROPIC_IDENTITY_TOKEN_FILE"] == token_file and env["ANTHROPIC_WORKSPACE_ID"] == "default"
    profile_file = tmp_path / "anthropic-config" / "configs" / "claude-direct.json"
    profile = json.loads(profile_file.read_text())
    assert profile["authentication"]["federation_rule_id"] == env["ANTHROPIC_FEDERATION_RULE_ID"]
    assert oct(profile_file.stat().st_mode & 0o777) == "0o644"
    # Outputs are idempotent too.
    assert "Already up to date" in run_cli(str(config), capsys=capsys)[1]

    # A workload process configured by nothing but the env file: the real SDK exchanges the pod's token.
    program = ROOT / "examples" / "aks" / "env_token_file.py"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    httpx_post_rotate(conn)
    by_env = subprocess.run([sys.executable, str(program)], env={**clean, **env, "SSL_CERT_FILE": conn["ca_bundle"]},
                            capture_output=True, text=True, timeout=60)
    assert by_env.returncode == 0, by_env.stderr
    assert env["ANTHROPIC_SERVICE_ACCOUNT_ID"] in by_env.stdout
    # ... and by nothing but the profile (a fresh projected token: a jti is accepted once).
    httpx_post_rotate(conn)
    profile_env = {**clean, "ANTHROPIC_CONFIG_DIR": str(tmp_path / "anthropic-config"),
                   "ANTHROPIC_PROFILE": "claude-direct", "SSL_CERT_FILE": conn["ca_bundle"]}
    by_profile = subprocess.run([sys.executable, str(program)], env=profile_env, capture_output=True, text=True,
                                timeout=60)
    assert by_profile.returncode == 0, by_profile.stderr
    assert env["ANTHROPIC_SERVICE_ACCOUNT_ID"] in by_profile.stdout


def httpx_post_rotate(conn: dict[str, Any]) -> None:
    import httpx

    from wif_lab.http import ssl_context

    httpx.post(conn["aks"]["rotate_url"], verify=ssl_context(conn["ca_bundle"]), timeout=10).raise_for_status()


# --- clean-up ------------------------------------------------------------------------------------


def test_archive_removes_what_the_file_created_in_order(conn: dict[str, Any], stack: MockStack, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "arc.toml", conn, name="arc")
    assert run_cli(str(config), capsys=capsys)[0] == 0
    before = snapshot(stack)
    code, out, _ = run_cli(str(config), "--archive", "--dry-run", capsys=capsys)
    assert code == 0 and out.count("would archive") == 3 and snapshot(stack) == before
    code, out, _ = run_cli(str(config), "--archive", capsys=capsys)
    assert code == 0 and out.count("archive") >= 3
    store = stack.mocks["anthropic"].store  # type: ignore[attr-defined]
    for records, name in ((store.rules, "arc-rule"), (store.issuers, "arc-issuer"),
                          (store.service_accounts, "arc-sa")):
        assert all(r["archived_at"] for r in records.values() if r["name"] == name)
    code, out, _ = run_cli(str(config), "--archive", capsys=capsys)
    assert code == 0 and out.count("absent") == 3


def test_archive_keeps_an_issuer_another_rule_still_uses(conn: dict[str, Any], stack: MockStack, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    first = write_config(tmp_path / "one.toml", conn, name="shared")
    assert run_cli(str(first), capsys=capsys)[0] == 0
    second = tmp_path / "two.toml"
    second.write_text(first.read_text().replace('name = "shared-rule"', 'name = "shared-rule-two"'))
    assert run_cli(str(second), capsys=capsys)[0] == 0
    code, out, _ = run_cli(str(first), "--archive", capsys=capsys)
    assert code == 0 and "still used by" in out and "shared-rule-two" in out
    store = stack.mocks["anthropic"].store  # type: ignore[attr-defined]
    assert not next(i for i in store.issuers.values() if i["name"] == "shared-issuer")["archived_at"]


# --- errors: one line, what to check, exit 2 (file) or 1 (service) --------------------------------


@pytest.mark.parametrize(("text", "needle"), [
    ("[anthropic]\n", "no [anthropic.issuer] section"),
    ("not toml [", "is not valid TOML"),
    ("[okta]\n", "has no [anthropic] section"),
])
def test_a_bad_file_is_exit_2_before_anything_is_sent(text: str, needle: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    code, out, err = run_cli(str(config), capsys=capsys)
    assert code == 2 and out == "" and needle in err
    assert err.startswith("error: ") and "→ Check next:" in err and "Traceback" not in err


def test_a_misspelled_key_and_a_bad_value_are_named(conn: dict[str, Any], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "typo.toml", conn, name="typo", extra_issuer='issuer_ulr = "x"')
    code, _, err = run_cli(str(config), capsys=capsys)
    assert code == 2 and "[anthropic.issuer] has unknown key(s) issuer_ulr" in err and "issuer_url" in err
    config = write_config(tmp_path / "value.toml", conn, name="value", extra_rule="",
                          match='audience = "https://api.anthropic.com"')
    code, _, err = run_cli(str(config), capsys=capsys)
    assert code == 2 and "anthropic.rule.match must be a table with at least one of subject_prefix" in err
    code, _, err = run_cli(str(tmp_path / "missing.toml"), capsys=capsys)
    assert code == 2 and "no setup file at" in err


def test_no_admin_token_is_exit_2(conn: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("WIF_LAB_ADMIN_TOKEN")
    code, _, err = run_cli(str(write_config(tmp_path / "t.toml", conn, name="notoken")), capsys=capsys)
    assert code == 2 and "WIF_LAB_ADMIN_TOKEN is not set" in err and "org:admin" in err


def test_a_refused_token_is_exit_1_with_the_api_message(conn: dict[str, Any], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", "sk-ant-oat01-not-a-token-the-lab-minted")
    code, out, err = run_cli(str(write_config(tmp_path / "t.toml", conn, name="refused")), capsys=capsys)
    assert code == 1 and out == ""
    assert "the Admin API refused the request (HTTP 401)" in err and "WIF_LAB_ADMIN_TOKEN" in err
    assert "not-a-token" not in err  # the token itself is never echoed
    assert len([line for line in err.splitlines() if line.strip()]) == 2


def test_an_unreachable_api_is_exit_1(conn: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text = write_config(tmp_path / "t.toml", conn, name="down").read_text()
    (tmp_path / "t.toml").write_text(text.replace(conn["anthropic"]["base_url"], f"https://127.0.0.1:{port}"))
    code, _, err = run_cli(str(tmp_path / "t.toml"), capsys=capsys)
    assert code == 1 and "cannot reach the Admin API at https://127.0.0.1:" in err and "Check next" in err


def test_a_refused_request_names_the_field(conn: dict[str, Any], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "t.toml", conn, name="nows", workspace="wrkspc_doesnotexist")
    code, _, err = run_cli(str(config), capsys=capsys)
    assert code == 1 and "HTTP 400" in err and "workspace" in err


def test_a_rule_under_another_issuer_is_refused_before_any_write(conn: dict[str, Any], stack: MockStack,
                                                                tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "mv.toml", conn, name="moved")
    assert run_cli(str(config), capsys=capsys)[0] == 0
    config.write_text(config.read_text().replace('name = "moved-issuer"', 'name = "moved-issuer-two"'))
    before = snapshot(stack)
    code, _, err = run_cli(str(config), capsys=capsys)
    assert code == 2 and "a rule's issuer cannot change" in err and "--archive" in err
    assert snapshot(stack) == before  # the new issuer was not created halfway


def test_the_organization_in_the_file_must_be_the_tokens(conn: dict[str, Any], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "org.toml", conn, name="org",
                          top='organization_id = "00000000-0000-4000-8000-00000000beef"')
    code, _, err = run_cli(str(config), capsys=capsys)
    assert code == 2 and "belongs to organization" in err


def test_the_example_file_parses(tmp_path: Path) -> None:
    config = load_anthropic(ROOT / "setup" / "anthropic.example.toml")
    assert config.issuer.name == "okta-prod" and config.rule.match["audience"] == "https://api.anthropic.com"
    assert config.output.env_file == ROOT / "setup" / "anthropic.env"


def test_the_module_api_returns_the_plan(conn: dict[str, Any], tmp_path: Path) -> None:
    setup = AnthropicSetup(load_anthropic(write_config(tmp_path / "api.toml", conn, name="api")))
    plan = setup.run()
    assert plan.changed and plan.values["federation_rule_id"].startswith("fdrl_")
    assert not setup.run().changed
