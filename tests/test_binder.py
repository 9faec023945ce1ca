"""Binder builds what the workshop needs: asks repo2docker's own planner, no Docker involved.

`repo2docker --no-build --debug` picks a build pack from the repository's files and prints the
Dockerfile it would build. The plan must install environment.yml (conda, Python 3.11+) and then run
postBuild, which installs the project. A `binder/` folder would silently hide the root files from it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _repo2docker() -> list[str]:
    exe = Path(sys.executable).with_name("repo2docker")
    if not exe.exists():
        found = shutil.which("repo2docker")
        assert found, "repo2docker is not installed: it comes with the test extra (jupyter-repo2docker)"
        exe = Path(found)
    return [str(exe)]


def plan(repo: Path) -> str:
    """The planner's log and Dockerfile for ``repo`` (combined: the log names the Python it chose)."""
    proc = subprocess.run([*_repo2docker(), "--no-build", "--debug", str(repo)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def root_plan() -> str:
    return plan(ROOT)


def test_binder_reads_the_root_configuration_not_a_binder_folder() -> None:
    for hidden in ("binder", ".binder"):
        assert not (ROOT / hidden).exists(), f"{hidden}/ hides the root environment.yml and postBuild"


def test_plan_installs_environment_yml_with_python_311_or_newer(root_plan: str) -> None:
    m = re.search(r"Building conda environment for python=(\d+)\.(\d+)", root_plan)
    assert m, root_plan[:2000]
    assert (int(m.group(1)), int(m.group(2))) >= (3, 11)
    pinned = re.search(r"^\s*-\s*python\s*=\s*(\d+)\.(\d+)\s*$", (ROOT / "environment.yml").read_text(), re.M)
    assert pinned and m.groups() == pinned.groups(), "the planner must honour environment.yml's python pin"
    assert re.search(r'env update -p \$\{NB_PYTHON_PREFIX\} --file "environment\.yml"', root_plan)


def test_plan_runs_postbuild_after_the_environment_and_it_installs_the_project(root_plan: str) -> None:
    env_at = root_plan.index('--file "environment.yml"')
    copy_at = root_plan.index("COPY --chown=0:0 src/ ${REPO_DIR}/")
    run_at = root_plan.index("RUN ./postBuild")
    assert env_at < copy_at < run_at
    script = (ROOT / "postBuild").read_text()
    assert script.startswith("#!/bin/bash\n")
    commands = [line.strip() for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert "set -euo pipefail" in commands
    assert any(re.fullmatch(r"python -m pip install (--no-deps )?-e \.", c) for c in commands), commands


def test_a_binder_folder_would_change_the_plan(tmp_path: Path) -> None:
    # Guards the tests above: the planner really is reading the files we think it reads.
    for name in ("environment.yml", "postBuild", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    (tmp_path / "binder").mkdir()
    (tmp_path / "binder" / "requirements.txt").write_text("httpx\n")
    shadowed = plan(tmp_path)
    assert 'env update -p ${NB_PYTHON_PREFIX} --file "environment.yml"' not in shadowed
    assert "RUN ./postBuild" not in shadowed
