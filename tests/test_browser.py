"""The notebooks as a person meets them: run in JupyterLab, and read on the built site, in Chromium.

One JupyterLab and one browser serve the whole module (xdist's ``--dist loadscope`` keeps the module
on one worker, in parallel with the rest of the suite). Screenshots go to build/browser/, with the
measured times in build/browser/timings.json. A missing or broken Chromium fails these tests with
the command that installs it; they are never skipped.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests._browser import (
    NOTEBOOKS,
    OPEN_SHADOW_ROOTS,
    PROBE,
    ROOT,
    SHOTS,
    STRICT_NO_ERRORS,
    chromium,
    jupyterlab,
    notebook_facts,
    page_problems,
    run_in_lab,
    screenshot_whole,
    serve_directory,
    site_page,
    unexecuted_cells,
)

pytestmark = pytest.mark.browser  # `-m "not browser"` leaves them out of a quick local run; CI runs them

VIEWPORT = {"width": 1280, "height": 900}
SITE = ROOT / "build" / "site"
SITE_BUILDER = ROOT / "scripts" / "build_site.py"


def record(key: str, value: Any) -> None:
    """Keep the measured figures next to the screenshots (tests print figures, never assert them)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / "timings.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data[key] = value
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


@dataclass(frozen=True)
class Unavailable:
    """Why the browser or JupyterLab could not be had; each test that needs it fails with this message
    (a fixture that raised would report the tests as errors at setup instead)."""

    problem: str


def ready(thing: Any) -> Any:
    if isinstance(thing, Unavailable):
        pytest.fail(thing.problem, pytrace=False)
    return thing


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with contextlib.ExitStack() as stack:
        try:
            handle = stack.enter_context(chromium())
        except AssertionError as exc:  # no Chromium, or it would not start: the message says how to fix it
            handle = Unavailable(str(exc))
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_cleanly_in_jupyterlab(lab: Any, path: Path) -> None:
    server, page = ready(lab)
    run = run_in_lab(page, server, path.name)
    record(f"lab_{path.stem}", {
        "open_and_kernel_s": round(run.seconds_open, 2), "run_all_s": round(run.seconds_run, 2),
        "screenshot_s": round(run.seconds_screenshot, 2), "total_s": round(run.seconds_total, 2),
    })
    problems = page_problems(run.probe, notebook_facts(run.saved, path.name), static=False)
    skipped = unexecuted_cells(run.saved)
    if skipped:
        problems.append(f"code cells {skipped} have no execution count after Run All Cells (the run stopped early?)")
    assert not problems, f"{path.name} in JupyterLab (screenshot: {run.screenshot}):\n- " + "\n- ".join(problems)


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
    run = run_in_lab(page, server, CANARY)
    assert (run.probe["mermaidDrawn"], run.probe["widgetsDrawn"]) == (1, 1), run.probe
    found = "\n".join(page_problems(run.probe, notebook_facts(run.saved, CANARY), static=False))
    assert "a mermaid diagram failed to render" in found, found
    assert "1 mermaid diagram(s) drawn as SVG, the notebook has 2" in found, found
    assert "code cell 2: RuntimeError: an unexpected failure" in found, found
    assert ("ValueError" in found) == STRICT_NO_ERRORS, found
    assert "widget" not in found, found


def test_static_site_shows_every_notebook_cleanly(browser: Any) -> None:
    """Build the site with the project's builder, serve it on 127.0.0.1, and read each notebook's page."""
    browser = ready(browser)
    assert SITE_BUILDER.exists(), (
        f"{SITE_BUILDER.relative_to(ROOT)} is missing, so the static site cannot be built and checked. "
        "The site builder (MkDocs Material + mkdocs-jupyter, writing build/site/) is part of issue 10; "
        "this test fails until it is on the branch."
    )
    t0 = time.perf_counter()
    built = subprocess.run([sys.executable, str(SITE_BUILDER)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    record("site_build_s", round(time.perf_counter() - t0, 2))
    assert built.returncode == 0, f"scripts/build_site.py failed ({built.returncode}):\n{built.stdout}\n{built.stderr}"
    assert SITE.is_dir(), f"scripts/build_site.py succeeded but wrote no {SITE.relative_to(ROOT)}/"

    problems: list[str] = []
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(OPEN_SHADOW_ROOTS)
    page = context.new_page()
    try:
        with serve_directory(SITE) as base:
            for path in NOTEBOOKS:
                html = site_page(SITE, path.stem)
                if html is None:
                    problems.append(f"{path.name}: no page {path.stem}/index.html or {path.stem}.html in build/site/")
                    continue
                facts = notebook_facts(json.loads(path.read_text()), path.name)
                page.goto(base + html.relative_to(SITE).as_posix(), wait_until="load")
                _wait_for_rendering(page, facts.widget_outputs, facts.mermaid_fences)
                probe = page.evaluate(PROBE, None)
                shot = SHOTS / f"site-{path.stem}.png"
                screenshot_whole(page, None, shot)
                problems.extend(f"{path.name} on the site ({shot.name}): {p}"
                                for p in page_problems(probe, facts, static=True))
    finally:
        context.close()
    assert not problems, "The built site:\n- " + "\n- ".join(problems)


def _wait_for_rendering(page: Any, widgets: int, diagrams: int) -> None:
    """Give the page's widget manager and mermaid time to draw what the notebook holds; the probe judges."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # Done when every widget is drawn or has visibly failed (a text repr means no saved state: it never
    # draws), and every diagram too. On a timeout, page_problems reports what did not draw, with counts.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(
            f"() => {{ const p = ({PROBE})(null); "
            f"return p.widgetsDrawn + p.widgetErrors.length + p.widgetReprs.length >= {widgets} && "
            f"p.mermaidDrawn + p.mermaidFailed.length >= {diagrams}; }}",
            timeout=20_000, polling=250,
        )


# --- the probe itself, on a hand-made page ------------------------------------------------------------

_OUT = '<div class="jp-Cell-outputWrapper"><div class="jp-OutputArea">{}</div></div>'
_STDERR = '<div class="jp-OutputArea-output" data-mime-type="application/vnd.jupyter.stderr"><pre>{}</pre></div>'


def _cell(tags: str, output: str) -> str:
    return f'<div class="jp-Cell jp-CodeCell {tags}"><div class="jp-InputPrompt">[1]:</div>{_OUT.format(output)}</div>'


GOOD_PAGE = "".join([
    _cell("", '<div class="jp-OutputArea-output"><div class="jupyter-widgets widget-vbox">'
              '<div class="jupyter-widgets">token</div></div></div>'),
    '<div class="mermaid"><svg aria-roledescription="flowchart-v2"><g></g></svg></div>',
])
BAD_PAGE = "".join([
    '<p>An Exception was encountered at <a href="#papermill-error-cell">In [3]</a>.</p>',
    _cell("", _STDERR.format("ExchangeRefused: refused")),
    _cell("", '<div class="jp-OutputArea-output jupyter-widgets">Error displaying widget: model not found</div>'),
    _cell("", '<div class="jp-OutputArea-output" data-mime-type="text/plain"><pre>VBox(children=(Dropdown('
              "description='token'),))</pre></div>"),
    '<div class="mermaid"><svg aria-roledescription="error"></svg></div><pre><code class="language-mermaid">'
    "flowchart LR</code></pre>",
])


def test_probe_tells_a_clean_page_from_a_broken_one(browser: Any) -> None:
    browser = ready(browser)
    facts = notebook_facts({"cells": [
        {"cell_type": "markdown", "source": "```mermaid\nflowchart LR\n  a --> b\n```\n"},
        {"cell_type": "code", "source": "w", "metadata": {},
         "outputs": [{"output_type": "display_data", "data": {"application/vnd.jupyter.widget-view+json": {}}}]},
    ]}, "hand-made")
    assert (facts.mermaid_fences, facts.widget_outputs) == (1, 1)
    page = browser.new_page()
    try:
        page.set_content(GOOD_PAGE)
        assert page_problems(page.evaluate(PROBE, None), facts, static=True) == []
        page.set_content(BAD_PAGE)
        found = "\n".join(page_problems(page.evaluate(PROBE, None), facts, static=True))
    finally:
        page.close()
    for expected in ("failure banner", "code cell 0", "model not found", "text repr", "0 widget(s) drawn",
                     "mermaid syntax error", "0 mermaid diagram(s) drawn as SVG"):
        assert expected in found, found
