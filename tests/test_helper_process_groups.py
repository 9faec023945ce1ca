"""The helper processes a kernel starts (the fork server, CEL workers) are in process groups of their own.

ipykernel, shutting down, signals every child in its own process group and then sleeps in steps of up to
seconds until none is left; a child it cannot reap (only its parent can) kept every notebook's shutdown
waiting ~2.7 s. Each helper goes by itself when its owner does (its stdin closes)."""

from __future__ import annotations

import os

from wif_lab import forkserver
from wif_lab.cel_sandbox import _Worker


def test_the_fork_server_has_a_process_group_of_its_own() -> None:
    server = forkserver.ForkServer(preload=())
    try:
        assert server._process is not None and os.getpgid(server._process.pid) != os.getpgrp()
    finally:
        server.stop()


def test_a_cel_worker_has_a_process_group_of_its_own() -> None:
    worker = _Worker()
    try:
        assert os.getpgid(worker.process.pid) != os.getpgrp()
    finally:
        worker.kill()
