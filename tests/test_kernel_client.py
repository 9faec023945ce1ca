"""The notebook runner's kernel client polls in short slices, so a missed ZeroMQ wake-up costs at most
a slice, while a real timeout still fires on time."""

from __future__ import annotations

import asyncio
import time
from queue import Empty
from typing import Any

import pytest
from jupyter_client.channels import AsyncZMQSocketChannel

from wif_lab.kernel import POLL_SLICE, SlicedPollChannel, SlicedPollKernelClient, SlicedPollKernelManager


class _Channel(SlicedPollChannel):
    """No socket: the parent's get_msg is replaced by a script of answers."""

    def __init__(self, empties: int) -> None:  # no super().__init__: nothing to connect
        self.asked: list[float | None] = []
        self.empties = empties


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fake_get_msg(self: _Channel, timeout: float | None = None) -> dict[str, Any]:
        self.asked.append(timeout)
        if len(self.asked) <= self.empties:
            await asyncio.sleep(min(timeout or 0, 0.01))
            raise Empty
        return {"msg_type": "execute_reply"}

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", fake_get_msg)


@pytest.mark.usefixtures("scripted")
def test_a_long_wait_is_polled_in_slices() -> None:
    channel = _Channel(empties=3)
    assert asyncio.run(channel.get_msg(timeout=60)) == {"msg_type": "execute_reply"}
    assert len(channel.asked) == 4 and all(t is not None and t <= POLL_SLICE for t in channel.asked)


@pytest.mark.usefixtures("scripted")
def test_no_timeout_means_wait_forever_in_slices() -> None:
    channel = _Channel(empties=5)
    assert asyncio.run(channel.get_msg(timeout=None))["msg_type"] == "execute_reply"
    assert channel.asked == [POLL_SLICE] * 6


@pytest.mark.usefixtures("scripted")
def test_the_timeout_still_fires() -> None:
    channel = _Channel(empties=10**6)
    started = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(channel.get_msg(timeout=0.05))
    assert time.monotonic() - started < 1


def test_the_manager_hands_out_the_sliced_client() -> None:
    manager = SlicedPollKernelManager()
    client = manager.client()
    assert isinstance(client, SlicedPollKernelClient)
    assert client.shell_channel_class is SlicedPollChannel and client.iopub_channel_class is SlicedPollChannel
