"""The notebooks as a person meets them: run in JupyterLab, in Chromium, through its menus.

One JupyterLab and one browser serve the whole module (xdist's ``--dist loadscope`` keeps the module
on one worker, in parallel with the rest of the suite; the built site is read in test_site.py,
which another worker can take). Screenshots go to build/browser/ (the whole notebook when a check
fails, its first screen otherwise; WIF_LAB_SCREENSHOTS=full for whole notebooks always), with the
measured times in build/browser/timings.json. A missing or broken Chromium fails these tests with the
command that installs it; they are never skipped.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._browser import (
    NOTEBOOKS,
    STRICT_NO_ERRORS,
    VIEWPORT,
    Unavailable,
    browser_or_problem,
    jupyterlab,
    notebook_facts,
    page_problems,
    ready,
    record,
    run_in_lab,
    unexecuted_cells,
)

pytestmark = pytest.mark.browser  # `-m "not browser"` leaves them out of a quick local run; CI runs them


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with browser_or_problem() as handle:
        yield handle


@pytest.fixture(scope="module")
def lab(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One JupyterLab on a temporary copy of notebooks/, and one page showing it: (server, page)."""
    if isinstance(browser, Unavailable):
        yield browser
        return
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(jupyterlab(tmp_path_factory.mktemp("jupyterlab"), extra={CANARY: CANARY_NB}))
        except AssertionError as exc:  # JupyterLab exited or never answered: the message has its log
            yield Unavailable(str(exc))
            return
        context = browser.new_context(viewport=VIEWPORT)
        stack.callback(context.close)
        page = context.new_page()
        page.goto(f"{server.url}lab?reset&token={server.token}")
        page.wait_for_selector(".jp-DirListing-item", timeout=90_000)
        record("jupyterlab_server_answers_s", round(server.started_in, 2))
        record("jupyterlab_ui_ready_s", round(time.perf_counter() - t0, 2))
        yield server, page


def _problems(name: str) -> Any:
    """What is wrong with ``name`` as JupyterLab showed and saved it (the judge of run_in_lab)."""
    def judge(saved: dict[str, Any], probe: dict[str, Any]) -> list[str]:
        problems = page_problems(probe, notebook_facts(saved, name), static=False)
        skipped = unexecuted_cells(saved)
        if skipped:
            problems.append(f"code cells {skipped} have no execution count after Run All Cells "
                            "(the run stopped early?)")
        return problems

    return judge


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_cleanly_in_jupyterlab(lab: Any, path: Path) -> None:
    server, page = ready(lab)
    run = run_in_lab(page, server, path.name, _problems(path.name))
    record(f"lab_{path.stem}", {
        "open_and_kernel_s": round(run.seconds_open, 2), "run_all_s": round(run.seconds_run, 2),
        "screenshot_s": round(run.seconds_screenshot, 2), "total_s": round(run.seconds_total, 2),
    })
    assert not run.problems, (f"{path.name} in JupyterLab (screenshot: {run.screenshot}):\n- "
                              + "\n- ".join(run.problems))


# A notebook with one of each thing the checks look for, good and broken: they must see all of it in
# the real JupyterLab (the committed notebooks have no mermaid block yet, and no error to find).
CANARY = "zz_browser_canary.ipynb"
CANARY_NB = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
    "cells": [
        {"cell_type": "markdown", "id": "diagram", "metadata": {},
         "source": "```mermaid\nflowchart LR\n  idp[Identity provider] -->|JWT| api[Claude API]\n```\n"},
        {"cell_type": "markdown", "id": "broken-diagram", "metadata": {},
         "source": "```mermaid\nflowchart LR\n  a -->\n```\n"},
        {"cell_type": "code", "id": "widget", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "import ipywidgets as w\nw.VBox([w.Label('canary'), w.IntSlider()])"},
        {"cell_type": "code", "id": "expected", "metadata": {"tags": ["raises-exception"]}, "execution_count": None,
         "outputs": [], "source": "raise ValueError('an expected failure')"},
        {"cell_type": "code", "id": "unexpected", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "raise RuntimeError('an unexpected failure')"},
    ],
}


def test_jupyterlab_checks_see_diagrams_widgets_and_errors(lab: Any) -> None:
    server, page = ready(lab)
    run = run_in_lab(page, server, CANARY, _problems(CANARY))
    assert (run.probe["mermaidDrawn"], run.probe["widgetsDrawn"]) == (1, 1), run.probe
    found = "\n".join(run.problems)
    assert "a mermaid diagram failed to render" in found, found
    assert "1 mermaid diagram(s) drawn as SVG, the notebook has 2" in found, found
    # The unexpected failure is reported as its error, or as a cell Run All Cells never ran: now and then
    # (once in about ten runs, on a fresh clone under CI load) JupyterLab's run stopped after the tagged
    # cell's expected error, although that cell's request says stop_on_error false. Either way it is caught.
    assert ("code cell 2: RuntimeError: an unexpected failure" in found
            or "code cells [2] have no execution count after Run All Cells" in found), found
    assert ("ValueError" in found) == STRICT_NO_ERRORS, found
    assert "widget" not in found, found
