"""deploy/z2jh/values.yaml, the zero-to-jupyterhub values for a 100-person workshop: validated against the chart's
own schema (vendored from the chart's 4.2.0 tag under deploy/z2jh/chart/), linted, and held to the README's sizing."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
VALUES = ROOT / "deploy" / "z2jh" / "values.yaml"
# The chart's top-level sections (zero-to-jupyterhub 4.x values.yaml); anything else is a typo the chart ignores.
CHART_SECTIONS = {"fullnameOverride", "nameOverride", "enabled", "imagePullSecret", "imagePullSecrets", "hub", "rbac",
                  "proxy", "singleuser", "scheduling", "ingress", "httpRoute", "prePuller", "custom", "cull", "debug",
                  "global", "apps"}
SINGLEUSER_KEYS = {"image", "defaultUrl", "startTimeout", "memory", "cpu", "storage", "extraEnv", "cmd", "uid",
                   "fsGid", "networkPolicy", "profileList", "lifecycleHooks", "initContainers", "extraFiles",
                   "nodeSelector", "extraLabels", "extraAnnotations", "extraTolerations", "extraNodeAffinity",
                   "extraPodAffinity", "extraPodAntiAffinity", "extraResource", "extraContainers",
                   "allowPrivilegeEscalation",
                   "podNameTemplate", "serviceAccountName", "events", "networkTools", "cloudMetadata",
                   "extraPodConfig", "extraPodSpec", "storageClass", "automountServiceAccountToken", "imagePullSecrets"}
MEASURED_PER_ATTENDEE = 220e6  # bytes: one server, one kernel and its embedded lab (issue 17's JupyterHub row)
ATTENDEES, NODES, NODE_MEMORY, NODE_CPU = 100, 4, 32 * 2**30, 8  # the README's sizing
NODE_RESERVED_MEMORY, NODE_RESERVED_CPU = 4 * 2**30, 0.5  # kubelet, system pods, the chart's own pods
_UNITS = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(value: Any) -> float:
    """A Kubernetes quantity (512M, 1Gi, 0.1, 500m) as a number; anything else fails the test."""
    text = str(value)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|K|M|G|T)?", text)
    assert m, f"{text!r} is not a Kubernetes quantity"
    number, unit = float(m.group(1)), m.group(2) or ""
    return number / 1000 if unit == "m" else number * _UNITS[unit]


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    data = yaml.safe_load(VALUES.read_text())
    assert isinstance(data, dict)
    return data


def test_values_use_only_the_charts_sections(values: dict[str, Any]) -> None:
    assert set(values) <= CHART_SECTIONS, set(values) - CHART_SECTIONS
    assert set(values["singleuser"]) <= SINGLEUSER_KEYS, set(values["singleuser"]) - SINGLEUSER_KEYS
    for line in VALUES.read_text().splitlines():
        code = line.split("#", 1)[0]
        assert "password:" not in code, line  # secrets go in with --set, never in the file


def test_each_attendee_gets_a_guarantee_above_what_one_measured(values: dict[str, Any]) -> None:
    user = values["singleuser"]
    memory = {k: quantity(v) for k, v in user["memory"].items()}
    cpu = {k: quantity(v) for k, v in user["cpu"].items()}
    assert memory["guarantee"] <= memory["limit"] and cpu["guarantee"] <= cpu["limit"]
    assert memory["guarantee"] >= 2 * MEASURED_PER_ATTENDEE  # two notebooks open at once
    assert memory["limit"] >= 4 * MEASURED_PER_ATTENDEE and cpu["limit"] >= 1


def test_a_hundred_attendees_fit_the_nodes_the_readme_names(values: dict[str, Any]) -> None:
    user = values["singleuser"]
    placeholders = values["scheduling"]["userPlaceholder"]["replicas"]
    pods = ATTENDEES + placeholders  # placeholders reserve what a real attendee would
    assert pods * quantity(user["memory"]["guarantee"]) <= NODES * (NODE_MEMORY - NODE_RESERVED_MEMORY)
    assert pods * quantity(user["cpu"]["guarantee"]) <= NODES * (NODE_CPU - NODE_RESERVED_CPU)
    readme = (ROOT / "README.md").read_text()
    assert f"{NODES} nodes of {NODE_CPU} vCPU / {NODE_MEMORY // 2**30} GiB" in readme


def test_idle_servers_are_culled_and_the_image_is_pulled_ahead(values: dict[str, Any]) -> None:
    cull = values["cull"]
    assert cull["enabled"] is True and 0 < cull["timeout"] <= 4 * 3600 and cull["every"] < cull["timeout"]
    assert values["prePuller"]["hook"]["enabled"] is True and values["prePuller"]["continuous"]["enabled"] is True
    image = values["singleuser"]["image"]
    assert image["name"] and image["tag"] and image["tag"] != "latest"  # a pinned tag, pre-pullable and repeatable


def test_the_image_state_dir_is_the_one_postbuild_bakes(values: dict[str, Any],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """postBuild runs `wif-lab mock init` into ${NB_PYTHON_PREFIX}/share/wif-lab/state; the values point there, with
    NB_PYTHON_PREFIX as repo2docker's conda build pack defines it."""
    from repo2docker.buildpacks.conda import CondaBuildPack

    monkeypatch.chdir(ROOT)  # the build pack reads environment.yml from the working directory
    pack = CondaBuildPack("docker.io/library/buildpack-deps:jammy")
    pack.platform = "linux/amd64"
    env = dict(pack.get_build_env())
    prefix = env["NB_PYTHON_PREFIX"]
    for name in ("CONDA_DIR", "APP_BASE"):  # ${CONDA_DIR}/envs/notebook → /srv/conda/envs/notebook
        prefix = prefix.replace(f"${{{name}}}", env[name])
    assert prefix == "/srv/conda/envs/notebook"
    script = (ROOT / "postBuild").read_text()
    assert 'mock init --state-dir "${NB_PYTHON_PREFIX}/share/wif-lab/state"' in script
    assert values["singleuser"]["extraEnv"]["WIF_LAB_STATE_DIR"] == f"{prefix}/share/wif-lab/state"


CHART = ROOT / "deploy" / "z2jh" / "chart"  # the chart's schema and defaults, vendored from its 4.2.0 tag


def helm_merged(defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """What Helm validates: the chart's defaults with the user's values coalesced in (maps merge key by key; any
    other value replaces the default; null removes it)."""
    merged = dict(defaults)
    for key, value in given.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merged(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.fixture(scope="module")
def chart_schema() -> Any:
    import jsonschema

    schema = yaml.safe_load((CHART / "values.schema.yaml").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _schema_errors(validator: Any, values: dict[str, Any]) -> list[str]:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(helm_merged(defaults, values))]


def test_values_pass_the_charts_own_schema(values: dict[str, Any], chart_schema: Any) -> None:
    assert "--version 4.2.0" in VALUES.read_text()  # the chart version the vendored schema comes from
    assert _schema_errors(chart_schema, values) == []


def test_the_charts_schema_catches_a_typo_and_a_wrong_type(values: dict[str, Any], chart_schema: Any) -> None:
    typo = {**values, "singleuser": {**values["singleuser"], "memroy": values["singleuser"]["memory"]}}
    assert any("memroy" in e for e in _schema_errors(chart_schema, typo))
    wrong = {**values, "cull": {**values["cull"], "timeout": "an hour"}}
    assert any(e.startswith("cull.timeout") for e in _schema_errors(chart_schema, wrong))


def _hub_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Any:
    """deploy/jupyterhub_config.py loaded as JupyterHub loads it (``get_config`` in its namespace), not started."""
    from traitlets.config import Config

    for key in [k for k in os.environ if k.startswith("WIF_LAB_HUB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("WIF_LAB_HUB_DATA", str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = Config()
    path = ROOT / "deploy" / "jupyterhub_config.py"
    exec(compile(path.read_text(), str(path), "exec"), {"get_config": lambda: config, "__file__": str(path)})
    return config


def test_the_local_hub_culls_idle_servers_with_the_scopes_the_culler_needs(monkeypatch: pytest.MonkeyPatch,
                                                                             tmp_path: Path) -> None:
    import jupyterhub_idle_culler  # noqa: F401 - installed in the hub's environment (the test extra)

    config = _hub_config(monkeypatch, tmp_path, WIF_LAB_HUB_CULL_TIMEOUT="1800")
    (culler,) = [s for s in config.JupyterHub.services if s["name"] == "idle-culler"]
    assert culler["command"][1:] == ["-m", "jupyterhub_idle_culler", "--timeout=1800", "--cull-every=300"]
    (role,) = [r for r in config.JupyterHub.load_roles if r["name"] == "idle-culler"]
    assert role["services"] == ["idle-culler"]
    assert set(role["scopes"]) == {"list:users", "read:users:activity", "read:servers", "delete:servers"}
    off = _hub_config(monkeypatch, tmp_path, WIF_LAB_HUB_CULL_TIMEOUT="0")
    assert not [s for s in off.JupyterHub.services if s["name"] == "idle-culler"]
