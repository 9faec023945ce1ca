"""Labs the notebook runner hosts for its kernels, so that no kernel pays for starting one.

A kernel left to itself starts an embedded lab: it imports the whole mock stack (starlette, uvicorn, every
mock) and builds it, about a second per notebook, and its mocks then compete with the notebook for that
kernel's one interpreter. The runner instead imports the stack once and, for each notebook, starts a FRESH
stack in its own process (server threads, as an embedded lab's) and names its connection file to the kernel
in ``WIF_LAB_CONNECTION``. Fresh, not shared: a notebook that rotates keys or registers rules leaves nothing
behind for the next one, and the IDs the lab draws from its seeded generator come out exactly as they do
embedded. The connection file says ``"private": true``, so the kernel treats the lab as its own
(:attr:`wif_lab.lab.Lab.private`). A warm stack starts in well under a tenth of a second once imported; it is
stopped in the background while the next notebook runs.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .lab import ENV_CONNECTION, default_state_dir, new_run_dir

if TYPE_CHECKING:
    from .mock.stack import MockStack


def wanted(mode: str) -> bool:
    """Host labs for a run in mock mode, unless the user named a lab of their own (``WIF_LAB_CONNECTION``)."""
    return mode == "mock" and not os.environ.get(ENV_CONNECTION)


class HostedLabs:
    """Fresh private labs for one run's kernels, one at a time; use as a context manager."""

    def __init__(self, state_dir: Path | None = None) -> None:
        from .mock.stack import MockStack  # the stack's modules, imported once for the whole run

        self._stack_class = MockStack
        self._state_dir = state_dir or default_state_dir()
        self._stopping: list[threading.Thread] = []

    @contextmanager
    def lab(self) -> Iterator[Path]:
        """A fresh lab, named in this process's environment (which a kernel started now inherits) while open."""
        run_dir = new_run_dir()
        stack = self._stack_class(self._state_dir, connection_file=run_dir / "connection.json", run_dir=run_dir,
                                  private=True)
        stack.start()
        before = os.environ.get(ENV_CONNECTION)
        os.environ[ENV_CONNECTION] = str(stack.connection_file)
        try:
            yield stack.connection_file
        finally:
            if before is None:
                os.environ.pop(ENV_CONNECTION, None)
            else:
                os.environ[ENV_CONNECTION] = before
            # Stopping waits for every server's loop to notice (a few tenths of a second): not on the run's time.
            stopping = threading.Thread(target=_stop, args=(stack, run_dir), name="wif-lab-stop", daemon=True)
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


def _stop(stack: MockStack, run_dir: Path) -> None:
    stack.stop()
    shutil.rmtree(run_dir, ignore_errors=True)
