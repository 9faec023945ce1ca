"""The built site as a reader meets it, in Chromium: every notebook's page renders cleanly.

Its own module (and browser), so that xdist's ``--dist loadscope`` can run it on one worker while
test_browser.py runs the notebooks in JupyterLab on the other. Screenshots go to build/browser/ (the
whole page when a check fails, its first screen otherwise; WIF_LAB_SCREENSHOTS=full for whole pages
always). A missing or broken Chromium fails these tests with the command that installs it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests._browser import (
    NOTEBOOKS,
    OPEN_SHADOW_ROOTS,
    PROBE,
    ROOT,
    SHOTS,
    VIEWPORT,
    browser_or_problem,
    notebook_facts,
    page_problems,
    ready,
    record,
    screenshot,
    serve_directory,
    site_page,
)

pytestmark = pytest.mark.browser  # `-m "not browser"` leaves them out of a quick local run; CI runs them

SITE = ROOT / "build" / "site"
SITE_BUILDER = ROOT / "scripts" / "build_site.py"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with browser_or_problem() as handle:
        yield handle


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
                found = page_problems(probe, facts, static=True)
                screenshot(page, None, shot, problems=bool(found))
                problems.extend(f"{path.name} on the site ({shot.name}): {p}" for p in found)
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
