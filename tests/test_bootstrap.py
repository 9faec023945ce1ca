"""The README commands' setup (scripts/_bootstrap.py, standard library only): --help never installs,
and two first runs at once take turns instead of building one venv together. The install step is
faked (a tiny function), never a real pip install."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
# The interpreter a new user has: the base Python, which does not see this venv's packages.
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


@pytest.mark.parametrize(("script", "words"), [
    ("run_notebooks.py", ["--parameter NAME VALUE", "--output-dir", "--timeout", "notebooks"]),
    ("test.py", ["PYTEST ARGUMENTS", "nbval", "-k okta"]),
    ("jupyterlab.py", ["JUPYTERLAB ARGUMENTS", "--port 8899", "--allow-root"]),
    ("regen_outputs.py", ["--timeout", "notebooks", "git diff notebooks/"]),
    ("build_site.py", ["--output", "--notebooks", "build/site/"]),
])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_is_answered_before_anything_is_created(tmp_path: Path, script: str, words: list[str],
                                                     flag: str) -> None:
    venv_dir = tmp_path / "venv"
    result = subprocess.run([BASE_PYTHON, str(SCRIPTS / script), flag], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "WIF_LAB_VENV": str(venv_dir)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python3 scripts/" + script)
    for word in words:
        assert word in result.stdout
    assert "First run: creates a virtual environment" in result.stdout
    assert list(tmp_path.iterdir()) == []  # no venv, no lock file, nothing


def test_a_bad_argument_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    result = subprocess.run([BASE_PYTHON, str(SCRIPTS / "run_notebooks.py"), "-p", "mode"], capture_output=True,
                            text=True, timeout=60, env={**os.environ, "WIF_LAB_VENV": str(tmp_path / "venv")})
    assert result.returncode == 2 and "expected 2 arguments" in result.stderr
    assert list(tmp_path.iterdir()) == []


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(SCRIPTS))
    try:
        spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(SCRIPTS))


def test_the_site_script_knows_the_arguments_of_the_site_builder() -> None:
    from wif_lab.docsite.__main__ import build_parser

    assert _options(_load("build_site").build_parser()) == _options(build_parser())


def _options(parser: argparse.ArgumentParser) -> set[tuple[str, ...]]:
    return {tuple(a.option_strings) or (a.dest,) for a in parser._actions if not isinstance(a, argparse._HelpAction)}


@pytest.mark.parametrize(("script", "command"), [("run_notebooks", "run"), ("regen_outputs", "regen")])
def test_the_scripts_know_the_arguments_of_the_command_they_run(script: str, command: str) -> None:
    from wif_lab.cli import build_parser

    cli = build_parser()
    notebooks = next(a for a in cli._actions if isinstance(a, argparse._SubParsersAction)).choices["notebooks"]
    sub = next(a for a in notebooks._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    assert _options(_load(script).build_parser()) == _options(sub)


# --- two first runs at once -------------------------------------------------------------------------

DRIVER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    sys.path.insert(0, {scripts!r})
    import _bootstrap

    log, release = Path(sys.argv[1]), Path(sys.argv[2])

    def note(text):
        with log.open("a") as f:
            f.write(f"{{text}} {{os.getpid()}}\\n")

    def create_venv():  # a tiny stand-in for venv.EnvBuilder: just the interpreter's path
        note("create")
        _bootstrap._venv_python().parent.mkdir(parents=True, exist_ok=True)
        _bootstrap._venv_python().write_text("")

    def pip_install(py, spec):  # a stand-in for pip that lasts until the test says so
        note(f"install-start {{spec}}")
        while not release.exists():
            time.sleep(0.02)
        note(f"install-end {{spec}}")
        return 0

    _bootstrap._create_venv, _bootstrap._pip_install = create_venv, pip_install
    print("ready:", _bootstrap.ensure(sys.argv[3].split(",") if sys.argv[3] else []), flush=True)
""")


def _start(tmp_path: Path, name: str, extras: str) -> tuple[subprocess.Popen[str], Path]:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(scripts=str(SCRIPTS)))
    out = tmp_path / f"{name}.out"
    proc = subprocess.Popen([sys.executable, str(driver), str(tmp_path / "log"), str(tmp_path / "release"), extras],
                            stdout=out.open("w"), stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
                            env={**os.environ, "WIF_LAB_VENV": str(tmp_path / "venv")})
    return proc, out


def _wait_for(path: Path, text: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60  # a hang guard, not a timing check
    while not (path.exists() and text in path.read_text()):
        assert proc.poll() is None or (path.exists() and text in path.read_text()), path.read_text()
        assert time.monotonic() < deadline, f"never saw {text!r} in {path.name}"
        time.sleep(0.02)


@pytest.mark.parametrize(("first_extras", "second_extras", "installs"), [
    ("clients,test", "clients,test", 1),  # the second finds the work done
    ("test", "lab", 2),  # the second installs too, after the first, keeping the first's extras
])
def test_two_first_runs_take_turns(tmp_path: Path, first_extras: str, second_extras: str, installs: int) -> None:
    first, first_out = _start(tmp_path, "first", first_extras)
    _wait_for(tmp_path / "log", "install-start", first)  # the first holds the lock now
    second, second_out = _start(tmp_path, "second", second_extras)
    _wait_for(second_out, "waiting for it to finish", second)
    (tmp_path / "release").touch()
    assert first.wait(timeout=60) == 0 and second.wait(timeout=60) == 0

    waiting = second_out.read_text()
    assert f"[setup] another command (pid {first.pid}) is setting up {tmp_path / 'venv'}; waiting" in waiting
    log = [line.rsplit(" ", 1) for line in (tmp_path / "log").read_text().splitlines()]
    assert log[:3] == [["create", str(first.pid)], [f"install-start .[{first_extras}]", str(first.pid)],
                       [f"install-end .[{first_extras}]", str(first.pid)]]
    if installs == 1:
        assert len(log) == 3  # no second venv, no second install
    else:
        both = ",".join(sorted({*first_extras.split(","), *second_extras.split(",")}))
        assert log[3:] == [[f"install-start .[{both}]", str(second.pid)], [f"install-end .[{both}]", str(second.pid)]]
    venv_python = tmp_path / "venv" / "bin" / "python"
    assert f"ready: {venv_python}" in first_out.read_text() and f"ready: {venv_python}" in waiting
    setup = first_out.read_text()  # one line per stage, then pip's own progress (not faked here)
    assert "[setup] creating the virtual environment" in setup and "pip's progress follows" in setup
