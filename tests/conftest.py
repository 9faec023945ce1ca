"""Shared fixtures. Keys and the lab CA are cached in one session-wide state dir, so every stack a
test starts is a warm start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wif_lab.mock.stack import MockStack


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wif-lab-state")


@pytest.fixture(scope="session")
def lab(state_dir: Path) -> Iterator[MockStack]:
    """The full default mock stack over real sockets and TLS, shared by the tests of a session.

    Tests that change global lab state (archive, rotate keys) should start their own stack
    with :func:`fresh_stack` instead.
    """
    stack = MockStack(state_dir / "shared")
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def fresh_stack(state_dir: Path, tmp_path: Path) -> Iterator[MockStack]:
    """A private full stack (warm keys, fresh state) for tests that mutate the lab."""
    import shutil

    shared = state_dir / "keys-cache"
    shared.mkdir(exist_ok=True)
    # Reuse cached keys and CA so the start is warm.
    for sub in ("keys", "tls"):
        src = state_dir / "shared" / sub
        if src.exists():
            shutil.copytree(src, tmp_path / "state" / sub, dirs_exist_ok=True)
    stack = MockStack(tmp_path / "state")
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
