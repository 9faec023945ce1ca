"""environment.yml (conda-forge, for Binder) must list exactly what pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# conda-forge spells a few packages differently; extras like pyjwt[crypto] have no conda form.
CONDA_NAMES: dict[str, str] = {"jupyter-client": "jupyter_client"}


def _split(req: str) -> tuple[str, str]:
    req = req.split(";")[0]  # an environment marker (uvloop: not on Windows) has no conda form
    m = re.match(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$", req)
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(3).replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    for extra in data["project"]["optional-dependencies"].values():
        reqs.extend(extra)
    out = {}
    for req in reqs:
        name, spec = _split(req)
        out[CONDA_NAMES.get(name, name)] = spec
    return out


def environment_requirements() -> dict[str, str]:
    out = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"^\s*-\s+([A-Za-z0-9_.-]+)\s*([<>=!~][^#]*)?\s*(#.*)?$", line)
        if not m or m.group(1) in ("conda-forge",):
            continue
        name, spec = m.group(1).lower(), (m.group(2) or "").replace(" ", "")
        if name in ("python", "pip"):
            continue
        out[name] = spec
    return out


def test_every_pyproject_dependency_is_in_environment_yml_with_the_same_pin() -> None:
    assert environment_requirements() == pyproject_requirements()


def test_environment_parser_sees_the_file() -> None:
    # Guards the test above against passing on an empty parse.
    env = environment_requirements()
    assert "anthropic" in env and env["anthropic"] == "==2.10.0"
    assert len(env) >= 15
