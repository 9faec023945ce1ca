"""A program run on the fork server behaves as ``python program.py`` would: its environment exactly, its folder,
argv, ``__main__``, exit status, output and errors; a timeout kills it; no server means a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wif_lab import forkserver

PROBE = """\
import json, os, sys
print(json.dumps({"env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv[1:], "name": __name__,
                  "file": __file__, "path0": sys.path[0], "preloaded": "anthropic" in sys.modules,
                  "stdin": sys.stdin.read()}))
"""


@pytest.fixture
def on(fork_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's server (conftest.py), named in the environment as the kernels see it."""
    monkeypatch.setenv(forkserver.ENV_VARIABLE, fork_server)
    return fork_server


def program(tmp_path: Path, text: str, name: str = "program.py") -> Path:
    path = tmp_path / "programs" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def run(path: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return forkserver.run([sys.executable, path.name, *args], cwd=path.parent, env=env or {"ONLY": "this"},
                          timeout=timeout)


def probe(done: subprocess.CompletedProcess[str]) -> dict:
    import json

    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_program_gets_exactly_its_environment_folder_and_arguments(on: str, tmp_path: Path) -> None:
    path = program(tmp_path, PROBE)
    seen = probe(run(path, "--flag", "value"))
    assert seen["preloaded"], "ran in a fresh interpreter, not on the server"
    assert seen["env"] == {"ONLY": "this"}
    assert seen["cwd"] == str(path.parent)
    assert seen["argv"] == ["--flag", "value"]
    assert (seen["name"], seen["file"], seen["path0"]) == ("__main__", str(path), str(path.parent))
    assert seen["stdin"] == ""


def test_what_a_fresh_interpreter_sees_is_the_same_but_for_the_preloaded_modules(on: str, tmp_path: Path) -> None:
    path = program(tmp_path, PROBE)
    forked = probe(run(path, "x"))
    fresh = probe(subprocess.run([sys.executable, path.name, "x"], cwd=path.parent, env={"ONLY": "this"},
                                 capture_output=True, text=True, check=False))
    assert not fresh["preloaded"]
    # The interpreter itself may add a variable or two (e.g. LC_CTYPE coercion); the program's own are equal.
    assert {k: v for k, v in fresh.items() if k not in ("preloaded", "env")} == \
        {k: v for k, v in forked.items() if k not in ("preloaded", "env")}
    assert forked["env"].items() <= fresh["env"].items()


@pytest.mark.parametrize(("code", "status", "stderr"), [
    ("import sys; sys.exit(3)", 3, ""),
    ("import sys; sys.exit('no token file')", 1, "no token file"),
    ("raise RuntimeError('refused')", 1, "RuntimeError: refused"),
    ("import atexit; atexit.register(print, 'bye')", 0, ""),
])
def test_exit_status_and_errors_are_the_interpreters(on: str, tmp_path: Path, code: str, status: int,
                                                     stderr: str) -> None:
    done = run(program(tmp_path, code + "\n"))
    assert done.returncode == status
    assert stderr in done.stderr
    if "atexit" in code:
        assert done.stdout == "bye\n"
    if "RuntimeError" in code:  # the program's own frames only, as a fresh interpreter prints them
        assert done.stderr.startswith("Traceback (most recent call last):")
        assert "forkserver" not in done.stderr and "runpy" not in done.stderr, done.stderr


def test_a_program_past_its_timeout_is_killed(on: str, tmp_path: Path) -> None:
    path = program(tmp_path, "import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as raised:
        run(path, timeout=1.5)
    assert time.monotonic() - started < 10
    assert raised.value.stdout == "started\n"


def test_variables_read_at_import_get_a_fresh_interpreter(on: str, tmp_path: Path) -> None:
    assert not probe(run(program(tmp_path, PROBE), env={"ANTHROPIC_LOG": "debug"}))["preloaded"]


def test_off_or_no_server_means_a_fresh_interpreter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = program(tmp_path, PROBE)
    monkeypatch.setenv(forkserver.ENV_VARIABLE, forkserver.OFF)
    assert not probe(run(path))["preloaded"]
    monkeypatch.setenv(forkserver.ENV_VARIABLE, str(tmp_path / "gone" / "socket"))  # a server that has stopped
    started = time.monotonic()
    assert not probe(run(path))["preloaded"]
    assert time.monotonic() - started < 5


def test_the_server_goes_when_its_owner_stops_it_or_is_idle(tmp_path: Path) -> None:
    server = forkserver.ForkServer(idle=0.5, preload=())
    deadline = time.monotonic() + 30
    while server.running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not server.running, "an idle server stayed"
    server.stop()
    assert not Path(server.address).parent.exists()
    owned = forkserver.ForkServer(preload=())
    owned.stop()
    assert not owned.running and not os.path.exists(owned.address)


def test_a_server_whose_owner_was_killed_leaves_nothing_behind(tmp_path: Path) -> None:
    owner = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom wif_lab import forkserver\n"
                              "s = forkserver.ForkServer(preload=())\nprint(s.address, flush=True)\ntime.sleep(60)"],
                             stdout=subprocess.PIPE, text=True)
    address = Path(owner.stdout.readline().strip())  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    while not address.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert address.exists()
    owner.kill()  # as papermill stops a kernel: no atexit runs
    owner.wait()
    deadline = time.monotonic() + 10
    while address.parent.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not address.parent.exists()


# --- shell programs: their `python3` is the server's stand-in ------------------------------------------

SHELL_PROBE = """\
set -e
python3 - "$@" <<'PY'
import json, os, sys
print(json.dumps({"env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv, "name": __name__,
                  "path0": sys.path[0], "preloaded": "anthropic" in sys.modules}))
PY
"""


# As the examples get it: this interpreter's folder first (its python3, not some other on the machine's PATH).
SHELL_PATH = os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])


def run_shell(path: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    given = {"ONLY": "this", "PATH": SHELL_PATH, **(env or {})}
    return forkserver.run(["bash", path.name, *args], cwd=path.parent, env=given, timeout=timeout)


def test_a_shell_programs_python3_runs_on_the_server_as_python3_would(on: str, tmp_path: Path) -> None:
    path = program(tmp_path, SHELL_PROBE, "program.sh")
    forked = probe(run_shell(path, "--flag", "value"))
    assert forked["preloaded"], "the here-document ran in a fresh interpreter, not on the server"
    fresh = probe(subprocess.run(["bash", path.name, "--flag", "value"], cwd=path.parent, capture_output=True,
                                 text=True, env={"ONLY": "this", "PATH": SHELL_PATH}, check=False))
    assert not fresh["preloaded"]
    assert forked["argv"] == fresh["argv"] == ["-", "--flag", "value"]
    assert (forked["name"], forked["path0"], forked["cwd"]) == (fresh["name"], fresh["path0"], fresh["cwd"])
    stand_in = forkserver.shim_dir(on)
    assert forked["env"]["PATH"] == os.pathsep.join([stand_in, SHELL_PATH])
    assert forked["env"]["_"] == os.path.join(stand_in, "python3")  # bash's record of the command it ran
    assert {k: v for k, v in forked["env"].items() if k not in ("PATH", "_")} == \
        {k: v for k, v in fresh["env"].items() if k not in ("PATH", "_")}  # what bash adds (PWD, SHLVL) included


@pytest.mark.parametrize(("body", "status", "out", "err"), [
    ("python3 - <<'PY'\nimport sys; sys.exit(3)\nPY\n", 3, "", ""),
    ("python3 - <<'PY'\nraise RuntimeError('refused')\nPY\n", 1, "", 'File "<stdin>", line 1'),
    ("echo hello | python3 -c 'import sys; print(sys.stdin.read().strip(), \"anthropic\" in sys.modules)'\n", 0,
     "hello False\n", ""),  # anything but a file or `-` is the real interpreter's
    ("python3 - <<'PY'\nimport os, signal; os.kill(os.getpid(), signal.SIGTERM)\nPY\necho \"status $?\"\n", 0,
     "status 143\n", ""),  # killed by a signal, as the shell sees it
])
def test_a_shell_programs_python3_exits_as_python3_would(on: str, tmp_path: Path, body: str, status: int, out: str,
                                                         err: str) -> None:
    done = run_shell(program(tmp_path, body, "program.sh"))
    assert (done.returncode, done.stdout) == (status, out), done.stderr
    assert err in done.stderr
    if err:
        assert "forkserver" not in done.stderr and "Traceback (most recent call last):" in done.stderr


def test_without_a_server_a_shell_program_gets_the_real_python3(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    monkeypatch.setenv(forkserver.ENV_VARIABLE, forkserver.OFF)
    seen = probe(run_shell(program(tmp_path, SHELL_PROBE, "program.sh")))
    assert not seen["preloaded"] and seen["env"]["PATH"] == SHELL_PATH


def test_a_program_whose_client_hangs_up_is_killed(on: str, tmp_path: Path) -> None:
    """A stand-in killed with its shell (a timeout, an interrupt) takes its program with it."""
    import json
    import socket

    path = program(tmp_path, "import time\ntime.sleep(60)\n")
    body = json.dumps({"argv": [sys.executable, path.name], "cwd": str(path.parent), "env": {}}).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock, open(os.devnull, "w") as sink:
        sock.connect(on)
        socket.send_fds(sock, [forkserver._HEADER.pack(len(body))], [sink.fileno(), sink.fileno()])
        sock.sendall(body)
        pid = json.loads(sock.makefile("rb").readline())["pid"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the program outlived its client")


def test_an_interpreter_path_with_a_space_still_gets_its_stand_in(tmp_path: Path) -> None:
    """A `#!` line cannot hold such a path; the stand-in's sh launcher quotes it."""
    venv = tmp_path / "my projects" / "venv"  # this environment, seen through a folder whose name has a space
    venv.parent.mkdir()
    venv.symlink_to(sys.prefix, target_is_directory=True)
    spaced = venv / Path(sys.executable).relative_to(sys.prefix)
    address = str(tmp_path / "server" / "socket")
    os.mkdir(os.path.dirname(address))
    root = str(Path(forkserver.__file__).resolve().parent.parent)
    start = "import sys; from wif_lab.forkserver import serve; serve(sys.argv[1], '', '')"
    server = subprocess.Popen([str(spaced), "-c", start, address], stdin=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": root})
    try:
        shim = Path(forkserver.shim_dir(address)) / "python3"
        deadline = time.monotonic() + 30
        while not shim.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert shim.exists(), "the server did not start"
        source = "python3 - one <<'PY'\nimport sys; print(sys.argv, 'wif_lab.forkserver' in sys.modules)\nPY\n"
        path = program(tmp_path, source, "program.sh")
        env = {"PATH": os.pathsep.join([str(shim.parent), SHELL_PATH])}
        done = subprocess.run(["bash", path.name], cwd=path.parent, env=env, capture_output=True, text=True,
                              timeout=60, check=False)
        assert (done.returncode, done.stdout) == (0, "['-', 'one'] True\n"), done.stderr  # True: on the server
    finally:
        server.kill()
        server.wait()
