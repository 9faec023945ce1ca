"""Run the CEL engine in worker processes that can be stopped at a deadline.

Why a process and not a thread: the ``cel`` package (Rust, through PyO3) holds the GIL for the whole
of an evaluation and has no cost limit. ``claims.l.map(a, claims.l.map(b, a + b))`` over a few
hundred list items runs for seconds, and while it runs every other thread of the process stands
still — the whole mock stack shares one process — and nothing can interrupt it. A worker process
can simply be killed when its deadline passes. It also contains the engine's hard failures: a
deeply nested expression overflows the Rust stack (a segfault), which then ends a worker, not the lab.

The workers know nothing about rules: they compile and execute what :mod:`wif_lab.rules` asks and
send back plain facts (variables, a result and its type, or an error's class and text).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from typing import Any, BinaryIO

# Seconds one compile or execution may take before its worker is killed. A real condition takes well
# under a millisecond; the margin is for a loaded machine, where a worker may wait for a CPU.
EVALUATION_DEADLINE = 2.0
START_DEADLINE = 60.0  # a new worker imports the engine; generous, a loaded machine is slow to spawn
MAX_WORKERS = 2

__all__ = ["EVALUATION_DEADLINE", "CelSandbox", "SandboxCrashed", "SandboxTimeout", "sandbox"]


class SandboxTimeout(Exception):
    """The request did not finish within its deadline (its worker was killed)."""


class SandboxCrashed(Exception):
    """The worker died while handling the request (e.g. the engine overflowed its stack)."""


class _Stale(Exception):
    """An idle worker had died before the request reached it; another may take the request."""


# ── worker side ────────────────────────────────────────────────────────────────────────────────────


@functools.lru_cache(maxsize=256)
def _program(expression: str) -> Any:
    import cel

    return cel.compile(expression)


def _describe_error(exc: BaseException) -> tuple[str, str, str, Any]:
    key = exc.args[0] if isinstance(exc, KeyError) and exc.args else None
    if not isinstance(key, str | int | float | bool | type(None)):
        key = repr(key)
    return ("error", type(exc).__name__, str(exc), key)


def _handle(request: tuple[Any, ...]) -> tuple[Any, ...]:
    """One request: ``("compile", expr)`` or ``("run", expr, context)``."""
    op, expression = request[0], request[1]
    try:
        program = _program(expression)
        if op == "compile":
            return ("ok", list(program.variables()))
        result = program.execute(request[2])
    except Exception as exc:  # the rules module decides what each engine error means
        return _describe_error(exc)
    except BaseException as exc:  # pyo3's PanicException derives from BaseException
        if isinstance(exc, SystemExit | KeyboardInterrupt):
            raise
        return ("panic", type(exc).__name__, str(exc), None)
    if isinstance(result, bool):
        return ("ok", result, "bool", repr(result))
    try:
        pickle.dumps(result)
        value = result
    except Exception:
        value = None
    return ("ok", value, type(result).__name__, repr(result))


def _read_frame(stream: BinaryIO) -> Any:
    head = stream.read(4)
    if len(head) < 4:
        raise EOFError
    body = stream.read(int.from_bytes(head, "big"))
    return pickle.loads(body)


def _frame(value: Any) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return len(body).to_bytes(4, "big") + body


def _write_frame(stream: BinaryIO, value: Any) -> None:
    stream.write(_frame(value))
    stream.flush()


def _serve() -> None:
    """A worker's loop over its stdin/stdout: answer requests until the parent closes the pipe."""
    import cel  # noqa: F401  (import now, so the first request is not charged for it)

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames may reach the parent's pipe
    _write_frame(stdout, ("ready",))
    while True:
        try:
            request = _read_frame(stdin)
        except EOFError:
            return
        _write_frame(stdout, _handle(request))


# ── parent side ────────────────────────────────────────────────────────────────────────────────────

# The worker runs this file by path: not through multiprocessing (whose "spawn" re-runs the caller's
# main script, which a notebook or a script without a __main__ guard cannot survive), and not as
# ``wif_lab.cel_sandbox`` (importing the package would load the whole lab for nothing).
_BOOT = (
    "import importlib.util as u, sys; s = u.spec_from_file_location('wif_lab_cel_worker', sys.argv[1]); "
    "m = u.module_from_spec(s); s.loader.exec_module(m); m._serve()"
)
_EOF = object()


class _Worker:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, os.path.abspath(__file__)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            # Its own process group: a kernel shutting down signals the children in its group and then
            # waits seconds for them to be reaped. The worker goes by itself when its stdin closes.
            start_new_session=True,
        )
        self.answers: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=self._read, name="wif-lab-cel-reader", daemon=True).start()
        if self._next(START_DEADLINE) != ("ready",):
            self.kill()
            raise SandboxCrashed(f"the CEL worker did not start (waited up to {START_DEADLINE:g} s)")

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                self.answers.put(_read_frame(stdout))
        except Exception:  # EOF, a torn frame: the worker is gone either way
            self.answers.put(_EOF)

    def _next(self, deadline: float) -> Any:
        try:
            return self.answers.get(timeout=deadline)
        except queue.Empty:
            return None

    def call(self, frame: bytes, deadline: float) -> tuple[Any, ...]:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(frame)
            self.process.stdin.flush()
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise _Stale from exc  # it died while idle: nothing was asked of it yet
        answer = self._next(deadline)
        if answer is None:
            raise SandboxTimeout(f"no answer within {deadline:g} s")
        if answer is _EOF:
            raise SandboxCrashed("the CEL worker died")
        return answer

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class CelSandbox:
    """A small pool of CEL workers, started on first use; thread-safe."""

    def __init__(self, max_workers: int = MAX_WORKERS) -> None:
        self.max_workers = max_workers
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._count = 0
        self._pid = os.getpid()
        self.killed = 0  # workers stopped at a deadline or found dead (for tests and figures)

    def _checkout(self, deadline: float) -> _Worker:
        give_up = time.monotonic() + deadline
        with self._cond:
            if os.getpid() != self._pid:  # a forked copy must not share the parent's pipes
                self._idle, self._count, self._pid = [], 0, os.getpid()
            while not self._idle and self._count >= self.max_workers:
                left = give_up - time.monotonic()
                if left <= 0:
                    raise SandboxTimeout(f"no CEL worker became free within {deadline:g} s")
                self._cond.wait(left)
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return _Worker()
        except BaseException:
            self._release(None)
            raise

    def _release(self, worker: _Worker | None) -> None:
        with self._cond:
            if worker is None:
                self._count -= 1
            else:
                self._idle.append(worker)
            self._cond.notify()

    def call(self, request: tuple[Any, ...], deadline: float = EVALUATION_DEADLINE) -> tuple[Any, ...]:
        """Send ``request`` to a worker; :class:`SandboxTimeout` or :class:`SandboxCrashed` if it fails.

        A request that cannot be pickled raises here, before any worker is involved."""
        frame = _frame(request)
        for attempt in range(2):
            worker = self._checkout(deadline)
            try:
                answer = worker.call(frame, deadline)
            except BaseException as exc:
                # Timed out, died, or the request could not be sent: this worker's state is unknown.
                worker.kill()
                with self._cond:
                    self.killed += 1
                self._release(None)
                if isinstance(exc, _Stale):
                    if attempt == 0:
                        continue
                    raise SandboxCrashed("the CEL workers keep dying") from exc
                raise
            self._release(worker)
            return answer
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for worker in idle:
            worker.kill()


sandbox = CelSandbox()
atexit.register(sandbox.close)
