"""Create or reuse the project-local virtual environment, using only the standard library.

The README's commands run on a machine that has nothing but Python 3.11+, so this module must not
import anything outside the standard library. It installs the project (editable) with the extras a
command needs, and records what it installed in a stamp file so that a second run with nothing
changed goes straight to work.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("WIF_LAB_VENV", ROOT / ".venv"))
STAMP = VENV / "wif-lab-install.json"


def _venv_python() -> Path:
    sub = "Scripts/python.exe" if os.name == "nt" else "bin/python"
    return VENV / sub


def _fingerprint(extras: list[str]) -> dict:
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    return {"pyproject_sha256": hashlib.sha256(pyproject).hexdigest(), "extras": sorted(extras)}


def _installed() -> dict:
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}


def ensure(extras: list[str]) -> Path:
    """Return the venv's python, installing the project with ``extras`` only when needed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs on whatever python3 the user has
        sys.exit(f"wif-lab needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    py = _venv_python()
    if not py.exists():
        print(f"[setup] creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    done = _installed()
    wanted = _fingerprint(extras)
    have_extras = set(done.get("extras", []))
    if done.get("pyproject_sha256") == wanted["pyproject_sha256"] and set(extras) <= have_extras:
        return py
    # Keep what an earlier command installed, so alternating commands do not reinstall.
    if done.get("pyproject_sha256") == wanted["pyproject_sha256"]:
        extras = sorted(set(extras) | have_extras)
        wanted = _fingerprint(extras)
    spec = "." + (f"[{','.join(sorted(extras))}]" if extras else "")
    print(f"[setup] installing wif-lab{spec[1:]} into {VENV} (first run or pyproject changed)", flush=True)
    cmd = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", spec]
    result = subprocess.run(cmd, cwd=ROOT)
    if result.returncode != 0:
        sys.exit("[setup] pip install failed; see the output above (is a package registry reachable?).")
    STAMP.write_text(json.dumps(wanted, indent=2) + "\n")
    return py


def run(py: Path, args: list[str]) -> int:
    """Run ``args`` with the venv's python from the project root and return its exit code."""
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return subprocess.call([str(py), *args], cwd=ROOT, env=env)
