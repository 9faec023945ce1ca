"""Run the shipped Python programs in an interpreter that has already imported their libraries.

An example program spends ~1.5-1.8 s of its ~2 s importing ``anthropic`` (the SDK builds pydantic models
for the whole API at import); its token fetch, exchange and Messages call take a few hundredths. A notebook
runs one to three of them, and the test suite runs the notebooks four ways, so the imports were most of a
notebook's time. The fork server imports the libraries once, then forks a child per run that sets the
program's environment, folder, ``sys.argv`` and standard streams and runs the file as ``__main__``: the
program's own code runs in full, in its own process, with only its environment given to it.

What differs from ``python program.py`` is only that the preloaded modules were imported before the
program's environment was set, so the server preloads only libraries that read no environment variable at
import (``google.auth`` does, and ``grpc`` is not safe to fork: neither is preloaded), and a run that sets
``ANTHROPIC_LOG`` (read when ``anthropic`` is imported) gets a fresh interpreter. ``tests/test_examples.py``
still runs every program in a fresh interpreter, so the shipped files are proven as they ship.

One server can serve many processes: the notebook runner and the test session start one and name its
socket in ``WIF_LAB_FORKSERVER``, which their kernels inherit. A process without one (a workshop's
kernel in JupyterLab) starts its own on first use, so it pays the imports once, not per run. ``WIF_LAB_FORKSERVER=off``
runs every program in a fresh interpreter. A server that cannot be reached means a fresh interpreter too,
never a failed run.

Shell programs (the guides' CLI tabs) start ``python3`` themselves. A server puts a stand-in ``python3`` in
``bin/`` beside its socket, and :func:`run` puts that folder first on such a program's ``PATH``: for
``python3 FILE.py`` or ``python3 -`` (a here-document) the stand-in hands its argv, folder, environment and
standard streams to the server and exits as the program does; for anything else, or with no server, it
becomes the real interpreter.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import runpy
import selectors
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

ENV_VARIABLE = "WIF_LAB_FORKSERVER"
OFF = "off"
# What the example programs import, and read no environment variable doing so.
PRELOAD = ("anthropic", "httpx", "jwt", "azure.identity", "boto3")
# Variables a preloaded module reads at import: a run that sets one gets a fresh interpreter.
READ_AT_IMPORT = ("ANTHROPIC_LOG",)
BIND_TIMEOUT = 10.0  # a server binds its socket first thing: longer means it failed to start
IMPORT_TIMEOUT = 60.0  # a server still importing accepts once it is done (early clients wait in the backlog)
# A process's own server (a workshop kernel's) holds ~120 MB: it goes once the notebook stops running programs.
OWN_IDLE = 300.0
_HEADER = struct.Struct("!I")
SHIM_NAMES = ("python3", "python")
SHELLS = ("bash", "sh")  # the programs whose own `python3` gets the stand-in
# The stand-in `python3` a shell program finds first on PATH (standard library only; run as `python -IS`).
_SHIM = """\
import json, os, signal, socket, struct, sys

ADDRESS, REAL = {address!r}, {real!r}
args = sys.argv[1:]


def real():
    os.execv(REAL, [REAL, *args])


if not args or not (args[0] == "-" or (args[0].endswith(".py") and not args[0].startswith("-"))):
    real()
if any(name in os.environ for name in {read_at_import!r}):
    real()
try:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(ADDRESS)
    body = json.dumps({{"argv": [REAL, *args], "cwd": os.getcwd(), "env": dict(os.environ)}}).encode()
    socket.send_fds(sock, [struct.pack("!I", len(body))], [0, 1, 2])
    sock.sendall(body)
    reader = sock.makefile("rb")
    started = reader.readline()
except OSError:
    started = b""
if not started:  # no server (gone idle, stopped): nothing ran, so the real interpreter runs it
    real()
line = reader.readline()
code = json.loads(line)["returncode"] if line else -signal.SIGKILL
if code < 0:  # killed by a signal: so is this process, as the shell expects
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


class Unavailable(Exception):
    """No server to run this on; the caller runs a fresh interpreter instead."""


# --- the server ------------------------------------------------------------------------------------


def serve(address: str, idle: float | str | None = None, preload: str = ",".join(PRELOAD)) -> None:
    """Bind ``address``, import ``preload`` (comma-separated), then fork a child per request until stdin closes (or no
    request came for ``idle`` seconds).

    stdin is a pipe from the process that started the server: when that process ends, however it ends,
    the pipe closes and the server goes with it.
    """
    idle = float(idle) if idle else None  # from the command line
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(64)  # bound before the imports: early clients wait in the backlog
    _write_shims(address)
    for module in filter(None, preload.split(",")):
        with contextlib.suppress(ImportError):  # a program that needs a missing module says so itself
            __import__(module)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ)
    last = time.monotonic()
    while idle is None or time.monotonic() - last < idle:
        for key, _ in selector.select(timeout=min(idle or 5, 5)):
            if key.fileobj is not listener:
                if not os.read(sys.stdin.fileno(), 4096):  # the owner has gone (killed, perhaps: it cleans up nothing)
                    _close(listener, address)
                    return
                continue
            conn, _ = listener.accept()
            last = time.monotonic()
            if os.fork() == 0:
                listener.close()
                _waiter(conn)  # never returns
            conn.close()
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
    _close(listener, address)  # idle: a client connecting now reads no pid and runs a fresh interpreter instead


def shim_dir(address: str) -> str:
    """The folder of the server's stand-in ``python3``: put it first on a shell program's PATH."""
    return os.path.join(os.path.dirname(address), "bin")


def _write_shims(address: str) -> None:
    """The stand-in's code, and ``python3``/``python`` as sh scripts that run it (a ``#!`` line cannot hold an
    interpreter path with spaces, a folder name people do use)."""
    folder = shim_dir(address)
    os.makedirs(folder, exist_ok=True)
    code = os.path.join(folder, "stand_in.py")
    files = {code: _SHIM.format(address=address, real=sys.executable, read_at_import=READ_AT_IMPORT)}
    launcher = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -IS {shlex.quote(code)} "$@"\n'
    files.update({os.path.join(folder, name): launcher for name in SHIM_NAMES})
    for path, text in files.items():  # the launchers last: a shell finds them only once all is written
        with open(path + ".tmp", "w") as out:
            out.write(text)
        os.chmod(path + ".tmp", 0o755)
        os.replace(path + ".tmp", path)  # whole or absent: a shell never runs half a stand-in


def _close(listener: socket.socket, address: str) -> None:
    """Stop listening, and leave no socket, stand-ins nor folder behind."""
    listener.close()
    with contextlib.suppress(OSError):
        os.unlink(address)
    shutil.rmtree(shim_dir(address), ignore_errors=True)
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(address))


def _waiter(conn: socket.socket) -> None:
    """A child per request: fork the program, tell the client its pid, then its exit status."""
    code = 1
    try:
        message, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 3)
        (length,) = _HEADER.unpack(message)
        body = b""
        while len(body) < length:
            chunk = conn.recv(length - len(body))
            if not chunk:
                raise ConnectionError("request cut short")
            body += chunk
        request = json.loads(body)
        pid = os.fork()
        if pid == 0:
            conn.close()
            _program(request, fds)  # never returns
        for fd in fds:
            os.close(fd)
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        status = _wait(pid, conn)
        conn.sendall(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
        code = 0
    except BaseException:  # the client reads the missing status as a failed run
        traceback.print_exc()
    finally:
        os._exit(code)


def _wait(pid: int, conn: socket.socket) -> int:
    """The program's wait status; a client that hangs up first (killed, or its timeout passed) kills it."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # a kernel before Linux 5.3: wait without watching the client
        return os.waitpid(pid, 0)[1]
    with selectors.DefaultSelector() as selector:
        selector.register(pidfd, selectors.EVENT_READ)
        selector.register(conn, selectors.EVENT_READ)
        while True:
            ready = {key.fileobj for key, _ in selector.select()}
            if conn in ready and not conn.recv(1):
                _kill(pid)
                selector.unregister(conn)
            if pidfd in ready:
                os.close(pidfd)
                return os.waitpid(pid, 0)[1]


def _program(request: Mapping[str, object], fds: list[int]) -> None:
    """Become ``python <argv[1]> <argv[2:]…>`` in ``cwd`` with exactly ``env``, and exit as it would. ``fds`` are
    the standard streams: stdout and stderr (stdin is empty), or all three (a stand-in's)."""
    code = 1
    script = ""
    try:
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(number, signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL)
        if len(fds) == 2:
            fds = [os.open(os.devnull, os.O_RDONLY), *fds]
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
        argv = [str(a) for a in request["argv"]][1:]  # type: ignore[union-attr]
        os.chdir(str(request["cwd"]))
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})  # type: ignore[union-attr]
        sys.argv = argv
        try:
            if argv[0] == "-":  # `python -`: the program is standard input
                script = "<stdin>"
                sys.path[0] = ""
                main = types.ModuleType("__main__")
                sys.modules["__main__"] = main
                exec(compile(sys.stdin.read(), script, "exec"), main.__dict__)
            else:
                script = str(Path(argv[0]).resolve())
                sys.path[0] = str(Path(script).parent)  # as `python program.py` sets it
                runpy.run_path(script, run_name="__main__")
            code = 0
        except SystemExit as stop:
            code = _exit_code(stop.code)
        except BaseException as exc:  # reported as the interpreter reports an uncaught exception
            exc = exc.with_traceback(_from_script(exc.__traceback__, script))
            sys.excepthook(type(exc), exc, exc.__traceback__)
        atexit._run_exitfuncs()  # what the interpreter runs at exit
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _from_script(tb: TracebackType | None, script: str) -> TracebackType | None:
    """The traceback from the program's own first frame on, as ``python program.py`` prints it (without the
    server's and runpy's frames above it)."""
    first = tb
    while first is not None and first.tb_frame.f_code.co_filename != script:
        first = first.tb_next
    return first or tb


def _exit_code(value: object) -> int:
    """What the interpreter makes of ``sys.exit(value)``."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


# --- the client ------------------------------------------------------------------------------------


class ForkServer:
    """A server process owned by this one: it stops when :meth:`stop` is called, this process ends, or (with
    ``idle``) no program was run for that many seconds."""

    def __init__(self, idle: float | None = None, preload: Sequence[str] = PRELOAD) -> None:
        self._dir = tempfile.mkdtemp(prefix="wif-lab-fork-")
        self.address = os.path.join(self._dir, "socket")
        package_root = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
        self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-c", "import sys; from wif_lab.forkserver import serve; serve(*sys.argv[1:])",
             self.address, str(idle or ""), ",".join(preload)],
            # Nothing of the server's may reach a notebook (a kernel shows its children's output in the cell).
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self._dir,
            env={**os.environ, "PYTHONPATH": path},
            # Its own process group: ipykernel, shutting down, signals the children in its group and waits
            # seconds for them to be reaped; this one is stopped (and reaped) by stop(), or goes with stdin.
            start_new_session=True)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:  # nothing to save: stopped at once, even mid-import (a program running goes on)
            process.kill()
            process.wait()
            with contextlib.suppress(OSError):
                process.stdin.close()  # type: ignore[union-attr]
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def shared() -> Iterator[ForkServer | None]:
    """A server for every process started inside the block (named in ``WIF_LAB_FORKSERVER``), unless the
    environment already names one or says ``off``."""
    if os.environ.get(ENV_VARIABLE):
        yield None
        return
    from .environ import variables

    with ForkServer() as server, variables({ENV_VARIABLE: server.address}):
        yield server


_own: ForkServer | None = None
_own_lock = threading.Lock()


def _address() -> str:
    """The server to use: the one the environment names, else this process's own (started now)."""
    global _own
    named = os.environ.get(ENV_VARIABLE, "")
    if named == OFF:
        raise Unavailable(f"{ENV_VARIABLE}={OFF}")
    if named:
        return named
    with _own_lock:
        if _own is None or not _own.running:  # none yet, or it left when idle
            _stop_own()
            _own = ForkServer(idle=OWN_IDLE)
        return _own.address


@atexit.register
def _stop_own() -> None:
    if _own is not None:
        _own.stop()


def _connect(address: str) -> socket.socket:
    """A connection; waits only for a server that is starting (its folder exists, its socket not yet)."""
    deadline = time.monotonic() + BIND_TIMEOUT
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    while True:
        try:
            sock.connect(address)
            return sock
        except FileNotFoundError as exc:
            if not os.path.isdir(os.path.dirname(address)) or time.monotonic() > deadline:
                sock.close()
                raise Unavailable(f"no fork server at {address}") from exc
            time.sleep(0.01)
        except OSError as exc:  # refused: the server has gone
            sock.close()
            raise Unavailable(f"fork server at {address}: {exc}") from exc


def run(argv: Sequence[str], *, cwd: str | Path, env: Mapping[str, str],
        timeout: float) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(argv, cwd=…, env=…, capture_output=True, text=True, timeout=…)`` for a Python program
    (``argv[0]`` is this interpreter): on the fork server when there is one, else in a fresh interpreter."""
    python = len(argv) >= 2 and argv[0] == sys.executable and argv[1].endswith(".py")
    shell = bool(argv) and os.path.basename(argv[0]) in SHELLS
    if not any(name in env for name in READ_AT_IMPORT):
        try:
            if python:
                return _run_forked(argv, cwd=cwd, env=env, timeout=timeout)
            if shell:  # its `python3` runs on the server (anything else, e.g. node, starts no server for nothing)
                env = _with_shims(env)
        except Unavailable:
            pass
    return subprocess.run(list(argv), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout,
                          check=False)


def _with_shims(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the server's stand-in ``python3`` first on PATH (once the server has written it)."""
    address = _address()
    shim = os.path.join(shim_dir(address), SHIM_NAMES[0])
    deadline = time.monotonic() + BIND_TIMEOUT
    while not os.path.exists(shim):  # a server that is starting writes it as it binds
        if not os.path.isdir(os.path.dirname(address)) or time.monotonic() > deadline:
            raise Unavailable(f"no stand-in python3 beside {address}")
        time.sleep(0.01)
    return {**env, "PATH": os.pathsep.join([os.path.dirname(shim), env.get("PATH", os.defpath)])}


def _run_forked(argv: Sequence[str], *, cwd: str | Path, env: Mapping[str, str],
                timeout: float) -> subprocess.CompletedProcess[str]:
    address = _address()
    sock = _connect(address)
    with sock, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        body = json.dumps({"argv": list(argv), "cwd": str(cwd), "env": dict(env)}).encode()
        try:
            socket.send_fds(sock, [_HEADER.pack(len(body))], [out.fileno(), err.fileno()])
            sock.sendall(body)
            reader = sock.makefile("rb")
            sock.settimeout(IMPORT_TIMEOUT)
            started = json.loads(reader.readline() or b"null")
        except (OSError, ValueError) as exc:
            raise Unavailable(f"fork server at {address}: {exc}") from exc
        if not isinstance(started, dict):
            raise Unavailable("the fork server closed the connection")
        sock.settimeout(timeout)  # from the program's start, as subprocess.run counts it
        try:
            line = reader.readline()
        except TimeoutError:
            _kill(started["pid"])
            raise subprocess.TimeoutExpired(list(argv), timeout, _read(out), _read(err)) from None
        except BaseException:  # interrupted (a kernel's interrupt button): the program stops with the wait
            _kill(started["pid"])
            raise
        returncode = json.loads(line)["returncode"] if line else -signal.SIGKILL
        return subprocess.CompletedProcess(list(argv), returncode, _read(out), _read(err))


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _read(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read().decode(errors="replace")


