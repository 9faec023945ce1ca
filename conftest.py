"""Pytest settings for the notebooks under nbval (a conftest in tests/ would not reach notebooks/)."""

from __future__ import annotations

import pytest


def pytest_collectstart(collector: pytest.Collector) -> None:
    # nbval compares stderr like any other output. Under load the kernel itself writes to it
    # ("IOStream.flush timed out"), and nothing in the notebooks teaches through stderr; a cell
    # that raises still fails, and stdout and displayed results are still compared.
    if hasattr(collector, "skip_compare"):
        collector.skip_compare = (*collector.skip_compare, "stderr")
