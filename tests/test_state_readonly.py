"""An image bakes the lab's state dir (CA, certificate, keys) at build time with `wif-lab mock init`; at run
time that folder is read-only, and labs keep their own files under the run root instead."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from wif_lab.cli import _serve_run_dir
from wif_lab.cli import main as cli_main

NOBODY = 65534

# Runs as the user who finds the state dir read-only: starts an embedded lab from it, rotates a signing key
# (a key first made at run time), and says where the lab's files went.
CHECK = """
import json, sys
from wif_lab import lab as wl_lab
the_lab = wl_lab.start(sys.argv[1])
oidc = the_lab.stack.mocks["oidc"]
kid = oidc.rotate()
spilled = the_lab.stack.context.keys.path(kid)
print(json.dumps({"connection": str(the_lab.connection.path), "spilled": str(spilled), "exists": spilled.exists(),
                  "issuer": the_lab.section("okta")["issuer"]}))
the_lab.close()
"""


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _freeze(root: Path, owner: int | None) -> None:
    """Read-only for everyone (and owned by ``owner`` when the test runs as root, which ignores modes)."""
    for path in [*sorted(root.rglob("*"), reverse=True), root]:
        if owner is not None:
            os.chown(path, owner, owner)
        path.chmod(0o555 if path.is_dir() else 0o444)


@contextmanager
def traversable_by_others(*paths: Path) -> Iterator[None]:
    """Let another user reach ``paths`` (the interpreter, the checkout) for the duration of the check.

    A clean clone often sits in a private folder (``mktemp -d`` is mode 700), and the user the check runs as
    (``nobody``, with its own group and no supplementary groups) could not start this environment's Python.
    Only the search bit (o+x) is added, only where it is missing, and each folder gets its mode back.
    """
    changed: dict[Path, int] = {}
    for path in paths:
        for folder in [*reversed(path.parents), path] if path.is_dir() else reversed(path.parents):
            mode = folder.stat().st_mode
            if folder not in changed and not mode & 0o001:
                changed[folder] = mode
                folder.chmod((mode | 0o001) & 0o7777)
    try:
        yield
    finally:
        for folder, mode in changed.items():
            folder.chmod(mode & 0o7777)


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temp folder other users can traverse (pytest's own are private to this user)."""
    folder = Path(tempfile.mkdtemp(prefix="wif-lab-ro-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(folder)


def test_a_state_dir_made_by_init_works_read_only(open_tmp: Path, state_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    tmp_path = open_tmp
    baked = tmp_path / "image" / "wif-lab-state"
    if (state_dir / "shared" / "keys").exists():  # warm start: init still makes whatever is missing
        shutil.copytree(state_dir / "shared" / "keys", baked / "keys")
    assert cli_main(["mock", "init", "--state-dir", str(baked)]) == 0
    assert "state dir ready" in capsys.readouterr().out
    assert (baked / "tls" / "lab-ca.pem").is_file() and list((baked / "keys").glob("*.pem"))
    assert not (baked / "run").exists() and not (baked / "connection.json").exists()

    as_root = os.geteuid() == 0
    _freeze(tmp_path / "image", NOBODY if as_root else None)
    before = _files(baked)
    home = tmp_path / "home"
    (home / "tmp").mkdir(parents=True)
    if as_root:
        os.chown(home, NOBODY, NOBODY)
        os.chown(home / "tmp", NOBODY, NOBODY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIF_LAB_")}
    env.update(HOME=str(home), TMPDIR=str(home / "tmp"), PYTHONDONTWRITEBYTECODE="1")
    project = Path(__file__).resolve().parent.parent
    with traversable_by_others(Path(sys.executable), Path(sys.executable).resolve(), project):
        as_nobody = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if as_root else {}
        done = subprocess.run([sys.executable, "-c", CHECK, str(baked)], capture_output=True, text=True,
                              timeout=60, env=env, cwd=home, **as_nobody)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["connection"].startswith(str(home / "tmp")), report
    assert report["exists"] and report["spilled"].startswith(str(home / "tmp")), report
    assert report["issuer"].startswith("https://127.0.0.1:")
    assert _files(baked) == before  # nothing in the state dir was written or replaced


def test_serve_keeps_its_files_beside_a_read_only_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIF_LAB_RUN_DIR", str(tmp_path / "runs"))
    assert _serve_run_dir(tmp_path / "fresh", None) == tmp_path / "fresh"  # created by serve, as before
    assert _serve_run_dir(tmp_path, "/elsewhere") == Path("/elsewhere")
    (tmp_path / "a-file").write_text("")
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # what a read-only mount answers (even root)
    assert _serve_run_dir(tmp_path, None) == tmp_path / "runs" / "serve"
    assert _serve_run_dir(tmp_path / "a-file", None) == tmp_path / "a-file"  # refused later, as a state dir
