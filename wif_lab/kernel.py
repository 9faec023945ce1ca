"""The kernel client papermill runs notebooks with: the stock asyncio client, polling in short slices.

A ZeroMQ socket signals readiness edge-triggered. Under load the asyncio client now and then misses
the wake-up for a reply that is already waiting, and nbclient's single long poll then sleeps until the
cell timeout before a last check finds the message: a 3-second notebook took 60 seconds (measured:
13 of 97 runs with both cores busy; the kernel stamped its reply a fraction of a second into the cell,
and the next cell began exactly one timeout later). Polling in one-second slices bounds that stall to
a second without changing what a timeout means. One sure trigger was found since: for an ipywidgets Output
widget nbclient sends a state update on the shell socket while it polls that socket for the reply, and the
send consumes the socket's wake-up (the lab's claims inspector now uses an HTML widget).
"""

from __future__ import annotations

import time
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from traitlets import Type

POLL_SLICE = 1.0  # seconds


class SlicedPollChannel(AsyncZMQSocketChannel):
    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = POLL_SLICE if deadline is None else max(0.0, min(POLL_SLICE, deadline - time.monotonic()))
            try:
                return await super().get_msg(timeout=step)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


class SlicedPollKernelClient(AsyncKernelClient):
    shell_channel_class = Type(SlicedPollChannel)
    iopub_channel_class = Type(SlicedPollChannel)


class SlicedPollKernelManager(AsyncKernelManager):
    client_factory = Type(SlicedPollKernelClient)
