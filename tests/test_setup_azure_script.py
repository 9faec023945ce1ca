"""setup/azure/setup.sh with a fake ``az`` on PATH: the exact commands it issues, first and second run.

The fake records every call and answers from a small state file like the real CLI would (empty output
or a non-zero exit for a missing object). The commands asserted here are the ones Microsoft documents:
``az ad app create --display-name … --sign-in-audience AzureADMyOrg``, ``az ad app update --id …
--identifier-uris api://<APP_ID> --set api.requestedAccessTokenVersion=2``, ``az ad sp create --id``,
``az identity create --name --resource-group --location``, ``az identity federated-credential create
--name --identity-name --resource-group --issuer --subject --audiences api://AzureADTokenExchange`` and
``az aks show --query oidcIssuerProfile.issuerUrl``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "setup" / "azure" / "setup.sh"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
NEW_APP = "11111111-2222-3333-4444-555555555555"
ISSUER = "https://westeurope.oic.prod-aks.azure.com/72f988bf-86f1-41af-91ab-2d7cd011db47/abcd/"

FAKE_AZ = r'''
import json, os, sys
args = sys.argv[1:]
log, state_file = os.environ["FAKE_AZ_LOG"], os.environ["FAKE_AZ_STATE"]
with open(log, "a") as f:
    f.write(json.dumps(args) + "\n")
state = json.load(open(state_file))
def save():
    json.dump(state, open(state_file, "w"))
def opt(name):
    return args[args.index(name) + 1] if name in args else None
def absent():
    print("ERROR: (ResourceNotFound) not found", file=sys.stderr)
    sys.exit(3)
cmd = " ".join(a for a in args[:3] if not a.startswith("-"))
if not state.get("signed_in", True):
    print("ERROR: Please run 'az login' to setup account.", file=sys.stderr); sys.exit(1)
if cmd.startswith("account show"):
    print(state["tenant"])
elif cmd.startswith("ad app list"):
    print(state.get("app_id") or "")
elif cmd.startswith("ad app create"):
    state["app_id"] = state["new_app_id"]; save(); print(state["app_id"])
elif cmd.startswith("ad app update"):
    pass
elif cmd.startswith("ad sp show"):
    absent() if not state.get("sp") else print("sp-object-id")
elif cmd.startswith("ad sp create"):
    state["sp"] = True; save(); print("sp-object-id")
elif cmd.startswith("group exists"):
    print("true" if state.get("group") else "false")
elif cmd.startswith("group create"):
    state["group"] = True; save()
elif args[:3] == ["identity", "federated-credential", "show"]:
    absent() if not state.get("fic") else print(opt("--name"))
elif args[:2] == ["identity", "federated-credential"]:
    state["fic"] = True; save()
elif cmd.startswith("identity show"):
    if not state.get("identity"):
        absent()
    print({"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
                 + opt("--name"), "clientId": "cccccccc-0000-0000-0000-000000000001",
           "principalId": "pppppppp-0000-0000-0000-000000000002"}[opt("--query")])
elif cmd.startswith("identity create"):
    state["identity"] = True; save()
elif cmd.startswith("vm identity"):
    pass
elif cmd.startswith("aks show"):
    print(state.get("aks_issuer", ""))
else:
    print("fake az: unexpected " + " ".join(args), file=sys.stderr); sys.exit(2)
'''


def run_script(tmp_path: Path, state: dict[str, Any], *args: str, with_az: bool = True
               ) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if with_az:
        fake = bin_dir / "az"
        fake.write_text(f"#!{sys.executable}\n{FAKE_AZ}")
        fake.chmod(0o755)
    log, state_file = tmp_path / "az.log", tmp_path / "state.json"
    if not state_file.exists():
        state_file.write_text(json.dumps({"tenant": TENANT, "new_app_id": NEW_APP, "aks_issuer": ISSUER, **state}))
    log.write_text("")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_AZ_LOG": str(log), "FAKE_AZ_STATE": str(state_file),
           "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return done, calls


ARGS = ("--resource-group", "rg-claude", "--location", "westeurope", "--aks-cluster", "aks-prod", "--vm", "vm-1")
IDENTITY = ["--name", "claude-workload", "--resource-group", "rg-claude"]
FIC = ["--name", "aks-inference-claude-inference", "--identity-name", "claude-workload", "--resource-group",
       "rg-claude"]
FIRST_RUN = [
    ["account", "show", "--query", "tenantId", "--output", "tsv"],
    ["aks", "show", "--name", "aks-prod", "--resource-group", "rg-claude", "--query", "oidcIssuerProfile.issuerUrl",
     "--output", "tsv"],
    ["ad", "app", "list", "--display-name", "claude-api-federation", "--query", "[0].appId", "--output", "tsv"],
    ["ad", "app", "create", "--display-name", "claude-api-federation", "--sign-in-audience", "AzureADMyOrg",
     "--query", "appId", "--output", "tsv"],
    ["ad", "app", "update", "--id", NEW_APP, "--identifier-uris", f"api://{NEW_APP}", "--set",
     "api.requestedAccessTokenVersion=2"],
    ["ad", "sp", "show", "--id", NEW_APP, "--query", "id", "--output", "tsv"],
    ["ad", "sp", "create", "--id", NEW_APP, "--query", "id", "--output", "tsv"],
    ["group", "exists", "--name", "rg-claude"],
    ["group", "create", "--name", "rg-claude", "--location", "westeurope", "--output", "none"],
    ["identity", "show", *IDENTITY, "--query", "id", "--output", "tsv"],
    ["identity", "create", *IDENTITY, "--location", "westeurope", "--output", "none"],
    ["identity", "show", *IDENTITY, "--query", "id", "--output", "tsv"],
    ["identity", "show", *IDENTITY, "--query", "clientId", "--output", "tsv"],
    ["identity", "show", *IDENTITY, "--query", "principalId", "--output", "tsv"],
    ["vm", "identity", "assign", "--name", "vm-1", "--resource-group", "rg-claude", "--identities",
     "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/claude-workload",
     "--output", "none"],
    ["identity", "federated-credential", "show", *FIC, "--query", "name", "--output", "tsv"],
    ["identity", "federated-credential", "create", *FIC, "--issuer", ISSUER, "--subject",
     "system:serviceaccount:inference:claude-inference", "--audiences", "api://AzureADTokenExchange", "--output",
     "none"],
]


def test_first_run_issues_the_documented_commands(tmp_path: Path) -> None:
    done, calls = run_script(tmp_path, {}, *ARGS)
    assert done.returncode == 0, done.stderr
    assert calls == FIRST_RUN
    out = done.stdout
    assert f"resource (nb 02)     api://{NEW_APP}" in out and f"scope (nb 03)        api://{NEW_APP}/.default" in out
    assert f"https://login.microsoftonline.com/{TENANT}/v2.0" in out
    assert "cccccccc-0000-0000-0000-000000000001" in out and "pppppppp-0000-0000-0000-000000000002" in out
    assert ISSUER in out


def test_a_second_run_creates_nothing(tmp_path: Path) -> None:
    assert run_script(tmp_path, {}, *ARGS)[0].returncode == 0
    done, calls = run_script(tmp_path, {}, *ARGS)  # the same state file: everything exists now
    assert done.returncode == 0, done.stderr
    made = [c for c in calls if "create" in c]
    assert made == []
    assert ["identity", "federated-credential", "update", *FIC, "--issuer", ISSUER, "--subject",
            "system:serviceaccount:inference:claude-inference", "--audiences", "api://AzureADTokenExchange",
            "--output", "none"] in calls
    # The identifier URI and token version are set again every run: an app someone edited is put back.
    assert ["ad", "app", "update", "--id", NEW_APP, "--identifier-uris", f"api://{NEW_APP}", "--set",
            "api.requestedAccessTokenVersion=2"] in calls


def test_without_aks_or_vm_only_the_app_and_identity(tmp_path: Path) -> None:
    done, calls = run_script(tmp_path, {}, "--resource-group", "rg-claude", "--location", "westeurope")
    assert done.returncode == 0, done.stderr
    assert not any(c[0] in ("aks", "vm") or c[1] == "federated-credential" for c in calls)
    assert "AKS issuer" not in done.stdout


@pytest.mark.parametrize(("state", "args", "needle"), [
    ({}, ("--location", "westeurope"), "--resource-group is required"),
    ({}, ("--resource-group", "rg", "--location", "x", "--bogus"), "unknown argument: --bogus"),
    ({"signed_in": False}, ("--resource-group", "rg", "--location", "x"), "az is not signed in"),
    ({"aks_issuer": ""}, ARGS, "AKS cluster aks-prod has no OIDC issuer"),
])
def test_mistakes_end_in_one_error_and_what_to_check(tmp_path: Path, state: dict[str, Any], args: tuple[str, ...],
                                                    needle: str) -> None:
    done, calls = run_script(tmp_path, state, *args)
    assert done.returncode == 2
    assert not [c for c in calls if "create" in c]  # checked before anything is made
    assert f"error: {needle}" in done.stderr and "→ Check next:" in done.stderr


def test_no_az_cli(tmp_path: Path) -> None:
    if any((Path(d) / "az").exists() for d in ("/usr/bin", "/bin")):
        pytest.skip("a real az is installed on this machine")
    done, _ = run_script(tmp_path, {}, "--resource-group", "rg", "--location", "x", with_az=False)
    assert done.returncode == 2 and "the az CLI is not installed" in done.stderr


def test_the_script_is_executable() -> None:
    assert os.access(SCRIPT, os.X_OK)
