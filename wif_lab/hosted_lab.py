"""Labs the notebook runner hosts for its kernels, so that no kernel pays for starting one.

A kernel left to itself starts an embedded lab: it imports the whole mock stack (starlette, uvicorn, every
mock) and builds it, about a second per notebook, and its mocks then compete with the notebook for that
kernel's one interpreter. The runner instead imports the stack once and, for each notebook, starts a FRESH
stack in its own process (server threads, as an embedded lab's) and names its connection file to the kernel
in ``WIF_LAB_CONNECTION``. Fresh, not shared: a notebook that rotates keys or registers rules leaves nothing
behind for the next one, and the IDs the lab draws from its seeded generator come out exactly as they do
embedded. The connection file says ``"private": true``, so the kernel treats the lab as its own
(:attr:`wif_lab.lab.Lab.private`). A warm stack starts in well under a tenth of a second once imported, while
the kernel starts; it is stopped in the background while the next notebook runs.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .environ import variables
from .lab import ENV_CONNECTION, default_state_dir, new_run_dir

if TYPE_CHECKING:
    from .mock.stack import MockStack


def wanted(mode: str) -> bool:
    """Host labs for a run in mock mode, unless the user named a lab of their own (``WIF_LAB_CONNECTION``)."""
    return mode == "mock" and not os.environ.get(ENV_CONNECTION)


class HostedLabs:
    """Fresh private labs for one run's kernels, one at a time; use as a context manager.

    Nothing here waits on the run's time when it can overlap a kernel's start: the stack's modules are imported
    in a thread from the start, and each lab is started in a thread while its kernel starts (the kernel is told
    the connection file's path at once; :meth:`HostedLab.ready` is called before the first cell runs).
    """

    def __init__(self, state_dir: Path | None = None) -> None:
        self._state_dir = state_dir or default_state_dir()
        self._stopping: list[threading.Thread] = []
        self._import = _Task(_stack_class)  # the stack's modules, imported once for the whole run

    @contextmanager
    def lab(self) -> Iterator[HostedLab]:
        """A fresh lab, named in this process's environment (which a kernel started now inherits) while open."""
        run_dir = new_run_dir()
        connection_file = run_dir / "connection.json"
        start = _Task(lambda: _start(self._import.result(), self._state_dir, connection_file, run_dir))
        try:
            with variables({ENV_CONNECTION: str(connection_file)}):
                yield HostedLab(connection_file, start)
        finally:
            # Stopping waits for every server's loop to notice (a few tenths of a second): not on the run's time.
            stopping = threading.Thread(target=_stop, args=(start, run_dir), name="wif-lab-stop", daemon=True)
            stopping.start()
            self._stopping.append(stopping)

    def close(self) -> None:
        for thread in self._stopping:
            thread.join(timeout=10)
        self._stopping.clear()

    def __enter__(self) -> HostedLabs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HostedLab:
    """One hosted lab: its connection file's path at once, the running lab once :meth:`ready` returns."""

    def __init__(self, connection_file: Path, start: _Task) -> None:
        self.connection_file = connection_file
        self._start = start

    def ready(self, **_: Any) -> Path:
        """Wait until the lab accepts connections (re-raising why it could not start); a papermill start hook."""
        self._start.result()
        return self.connection_file


class _Task(threading.Thread):
    """A function run in a thread, its result (or its exception) handed over on :meth:`result`."""

    def __init__(self, function: Callable[[], Any]) -> None:
        super().__init__(name="wif-lab-hosted", daemon=True)
        self._function = function
        self._value: Any = None
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._value = self._function()
        except BaseException as exc:  # handed to whoever waits for the result
            self._error = exc

    def result(self) -> Any:
        self.join()
        if self._error is not None:
            raise self._error
        return self._value


def _stack_class() -> type[MockStack]:
    from .mock.stack import MockStack

    return MockStack


def _start(stack_class: type[MockStack], state_dir: Path, connection_file: Path, run_dir: Path) -> MockStack:
    stack = stack_class(state_dir, connection_file=connection_file, run_dir=run_dir, private=True)
    stack.start()
    return stack


def _stop(start: _Task, run_dir: Path) -> None:
    with suppress(Exception):  # a lab that never started has nothing to stop
        start.result().stop()
    shutil.rmtree(run_dir, ignore_errors=True)
