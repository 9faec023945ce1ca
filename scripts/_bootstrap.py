"""Create or reuse the project-local virtual environment, using only the standard library.

The README's commands run on a machine that has nothing but Python 3.11+, so this module must not
import anything outside the standard library. It installs the project (editable) with the extras a
command needs, and records what it installed in a stamp file so that a second run with nothing
changed goes straight to work.

Two commands started at once (a workshop's first `run_notebooks.py` and `jupyterlab.py`) must not
build the same venv together: setting up holds a lock file beside the venv, and the second command
says it is waiting, then finds the work done. Every script answers ``--help`` before any of this.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("WIF_LAB_VENV", ROOT / ".venv"))
STAMP = VENV / "wif-lab-install.json"
FIRST_RUN = ("First run: creates a virtual environment in .venv (or $WIF_LAB_VENV) and installs wif-lab into it "
             "(about a minute, pip's progress shown); later runs start at once.")


def answer_help(argv: list[str], usage: str) -> None:
    """Print ``usage`` and exit when asked for help, before anything is created or installed."""
    if any(arg in ("-h", "--help") for arg in argv):
        print(usage.strip() + "\n\n" + FIRST_RUN)
        sys.exit(0)


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


def _up_to_date(extras: list[str]) -> bool:
    done = _installed()
    return (_venv_python().exists() and done.get("pyproject_sha256") == _fingerprint(extras)["pyproject_sha256"]
            and set(extras) <= set(done.get("extras", [])))


@contextmanager
def _setup_lock() -> Iterator[None]:
    """Hold ``<venv>.lock`` while creating or installing; say so when another command holds it."""
    lock = VENV.with_name(VENV.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no lock (two first runs at once may still collide there)
        yield
        return
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            print(f"[setup] another command (pid {owner}) is setting up {VENV}; waiting for it to finish…", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
            print("[setup] the other setup finished; continuing", flush=True)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _create_venv() -> None:
    venv.EnvBuilder(with_pip=True, clear=False).create(VENV)


def _pip_install(py: Path, spec: str) -> int:
    """pip prints its own progress (Collecting…, Downloading…, Installing…): no -q, no silent minute."""
    cmd = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-e", spec]
    return subprocess.run(cmd, cwd=ROOT).returncode


def ensure(extras: list[str]) -> Path:
    """Return the venv's python, installing the project with ``extras`` only when needed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs on whatever python3 the user has
        sys.exit(f"wif-lab needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    py = _venv_python()
    if _up_to_date(extras):
        return py
    with _setup_lock():
        started = time.monotonic()
        if not py.exists():
            print(f"[setup] creating the virtual environment {VENV} (a few seconds)", flush=True)
            _create_venv()
        if _up_to_date(extras):  # another command finished the same setup while we waited
            return py
        done = _installed()
        wanted = _fingerprint(extras)
        # Keep what an earlier command installed, so alternating commands do not reinstall.
        if done.get("pyproject_sha256") == wanted["pyproject_sha256"]:
            extras = sorted(set(extras) | set(done.get("extras", [])))
            wanted = _fingerprint(extras)
        spec = "." + (f"[{','.join(sorted(extras))}]" if extras else "")
        print(f"[setup] installing wif-lab{spec[1:]} into {VENV} (first run or pyproject.toml changed; "
              "about a minute the first time, pip's progress follows)", flush=True)
        if _pip_install(py, spec) != 0:
            sys.exit("[setup] pip install failed; see the output above (is a package registry reachable?).")
        STAMP.write_text(json.dumps(wanted, indent=2) + "\n")
        print(f"[setup] ready in {time.monotonic() - started:.0f} s", flush=True)
    return py


def run(py: Path, args: list[str]) -> int:
    """Run ``args`` with the venv's python from the project root and return its exit code."""
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    # Every kernel, lab and test process imports wif_lab. Where PYTHONDONTWRITEBYTECODE is set (containers
    # and CI images often set it) each would compile it from source again: compile it once here instead
    # (a no-op when nothing changed).
    subprocess.call([str(py), "-m", "compileall", "-q", "-j", "0", "wif_lab"], cwd=ROOT, env=env)
    return subprocess.call([str(py), *args], cwd=ROOT, env=env)
