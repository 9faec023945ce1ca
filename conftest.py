"""Pytest settings for the notebooks under nbval (a conftest in tests/ would not reach notebooks/), and the
order the suite's scopes are handed to xdist workers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from wif_lab import forkserver

# The scopes that run longest (each starts kernels, a JupyterLab or Chromium, one notebook after another)
# go to the workers first, longest first, so that on 2 workers the rest of the suite fills in beside
# them. Left in collection order they came last and ran alone for minutes at the end of the run
# (scripts/test.py turns xdist's own reordering, by number of tests, off for this).
RUN_FIRST = (
    "tests/test_browser.py",
    "tests/test_papermill_cli.py",
    "*.ipynb",  # nbval, one scope per notebook
    "tests/test_notebooks_live_mode.py",
    "tests/test_site.py",
)


@pytest.fixture(scope="session", autouse=True)
def fork_server() -> Iterator[str]:
    """One fork server per test process for the example programs (named in WIF_LAB_FORKSERVER, which the
    kernels, papermill and JupyterLab started by the tests inherit): each program then skips its ~1.5 s of
    imports. tests/test_examples.py turns it off, to prove the programs in fresh interpreters."""
    with forkserver.shared():
        yield os.environ[forkserver.ENV_VARIABLE]


def pytest_collectstart(collector: pytest.Collector) -> None:
    # nbval compares stderr like any other output. Under load the kernel itself writes to it
    # ("IOStream.flush timed out"), and nothing in the notebooks teaches through stderr; a cell
    # that raises still fails, and stdout and displayed results are still compared.
    if hasattr(collector, "skip_compare"):
        collector.skip_compare = (*collector.skip_compare, "stderr")


def _rank(item: pytest.Item, root: Path) -> int:
    path = Path(str(item.path))
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()
    for rank, pattern in enumerate(RUN_FIRST):
        if rel == pattern or (pattern == "*.ipynb" and path.suffix == ".ipynb"):
            return rank
    return len(RUN_FIRST)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    items.sort(key=lambda item: _rank(item, root))  # stable: each scope keeps its own order
