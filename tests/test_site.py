"""The documentation site: built with scripts/build_site.py from the committed notebooks, and read in Chromium.

The fixture copies the committed notebooks (as they are: the site never re-executes them) and adds a
small one with a mermaid block and a widget, regenerated with the project's own regen path (so it
carries saved widget state), then builds the site into a temporary folder with the project's builder.
The checks read the built HTML the way a browser would find things (pages, scripts, widget state,
diagram blocks, local files), and then a real browser reads every page. One build serves both, in one
module (xdist's loadscope keeps it on one worker). Screenshots go to build/browser/ (the whole page when
a check fails, its first screen otherwise; WIF_LAB_SCREENSHOTS=full for whole pages always).
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests._browser import (
    OPEN_SHADOW_ROOTS,
    PROBE,
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
from tests.test_readme import quick_start_commands
from wif_lab.docsite.hooks import WIDGET_RENDERER, material_mermaid
from wif_lab.runner import regen
from wif_lab.widgetstate import STATE_MIME, VIEW_MIME, saved_state, views

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SITE_BUILDER = ROOT / "scripts" / "build_site.py"
DIAGRAM = 'flowchart LR\n  idp[Identity provider] -->|JWT| ex["exchange <b>token</b>"]\n  ex --> api[Claude API]'
# A notebook with what the committed ones may not have yet: a mermaid block, and a widget whose state only
# a real kernel run and regen's normalising save (regenerating a lab notebook here would cost a full run).
FIXTURE_NB = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
    "cells": [
        {"cell_type": "markdown", "id": "title", "metadata": {}, "source": "# Site fixture\n"},
        {"cell_type": "markdown", "id": "mermaid-fixture", "metadata": {},
         "source": f"How the token travels:\n\n```mermaid\n{DIAGRAM}\n```\n"},
        {"cell_type": "code", "id": "widget", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "import ipywidgets as w\n"
                   "w.VBox([w.Dropdown(options=['workload app', 'second app'], description='token'), w.Output()])"},
    ],
}


@dataclass
class Site:
    out: Path
    notebooks: Path
    fixture: Path  # the regenerated notebook with a mermaid block and widget state


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    assert NOTEBOOKS, "no notebooks to publish"
    work = tmp_path_factory.mktemp("site")
    nbdir = work / "notebooks"
    nbdir.mkdir()
    for path in NOTEBOOKS:
        shutil.copy2(path, nbdir / path.name)
    fixture = nbdir / "zz_site_fixture.ipynb"
    fixture.write_text(json.dumps(FIXTURE_NB))
    assert regen([fixture.stem], directory=nbdir) == 0
    out = work / "site"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(SITE_BUILDER), "--output", str(out), "--notebooks", str(nbdir)],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    record("site_build_s", round(time.perf_counter() - t0, 2))
    assert proc.returncode == 0, f"scripts/build_site.py failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    assert f"Built {len(NOTEBOOKS) + 2} pages" in proc.stdout, proc.stdout
    return Site(out, nbdir, fixture)


class _Refs(HTMLParser):
    """Every src/href in a page, and the inline scripts' types and text."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.scripts: list[tuple[str, str]] = []
        self._script_type: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key) is not None:
                self.refs.append((tag, a[key] or ""))
        if tag == "script" and "src" not in a:
            self._script_type = a.get("type") or "text/javascript"
            self.scripts.append((self._script_type, ""))

    def handle_data(self, data: str) -> None:
        if self._script_type is not None:
            kind, text = self.scripts[-1]
            self.scripts[-1] = (kind, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script_type = None


def parse(page: Path) -> _Refs:
    refs = _Refs()
    refs.feed(page.read_text())
    return refs


def text_of(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_one_page_per_notebook_with_its_title_and_the_notebook_beside_it(site: Site) -> None:
    pages = sorted(p.name for p in site.out.glob("*.html"))
    notebooks = sorted(p.stem for p in site.notebooks.glob("*.ipynb"))
    assert pages == sorted(["index.html", "404.html", *(f"{n}.html" for n in notebooks)])
    for stem in notebooks:
        page = site.out / f"{stem}.html"
        nb = json.loads((site.notebooks / f"{stem}.ipynb").read_text())
        h1 = next(line[2:].strip() for c in nb["cells"] if c["cell_type"] == "markdown"
                  for line in "".join(c["source"]).splitlines() if line.startswith("# "))
        title = html.unescape(re.search(r"<title>(.*?)</title>", page.read_text(), re.S).group(1))
        assert title.startswith(h1), (title, h1)
        assert 'class="jupyter-wrapper"' in page.read_text()
        assert (site.out / f"{stem}.ipynb").read_bytes() == (site.notebooks / f"{stem}.ipynb").read_bytes()
        assert f'href="{stem}.ipynb"' in page.read_text()  # the download button


def test_pages_show_committed_outputs_without_papermills_error_banner(site: Site) -> None:
    for stem in (p.stem for p in NOTEBOOKS):  # committed as they are
        text = text_of(site.out / f"{stem}.html")
        assert "An Exception was encountered" not in text
        assert "encountered an exception here and stopped" not in text


def test_index_is_the_readme_with_its_quick_start_commands(site: Site) -> None:
    index = text_of(site.out / "index.html")
    for command in [*quick_start_commands(), "python3 scripts/jupyterlab.py"]:
        assert command in index, command
    assert "Quick start" in index


def test_the_fixture_really_carries_widget_state_and_a_mermaid_block(site: Site) -> None:
    nb = json.loads(site.fixture.read_text())
    assert saved_state(nb) and list(views(nb)), "regen dropped the widget state"
    assert any("```mermaid" in "".join(c["source"]) for c in nb["cells"])


def test_pages_with_widgets_embed_their_state_and_the_vendored_widget_manager(site: Site) -> None:
    with_state = 0
    for nb_path in sorted(site.notebooks.glob("*.ipynb")):
        nb = json.loads(nb_path.read_text())
        page = site.out / f"{nb_path.stem}.html"
        scripts = parse(page).scripts
        states = [json.loads(t) for kind, t in scripts if kind == STATE_MIME]
        shown = [json.loads(t)["model_id"] for kind, t in scripts if kind == VIEW_MIME]
        if saved_state(nb):
            with_state += 1
            assert len(states) == 1 and states[0]["state"] == saved_state(nb)
            assert shown == [v["model_id"] for _, v in views(nb)]
            assert set(shown) <= set(states[0]["state"])
            loader = [t for kind, t in scripts if "widgetRendererSrc" in t]
            assert loader and f"var widgetRendererSrc = '{WIDGET_RENDERER}'" in loader[0]
            assert (site.out / WIDGET_RENDERER).is_file()
        else:  # no saved state: the text fallback, and no manager that would find nothing
            assert states == [] and shown == []
            assert not any("widgetRendererSrc" in t for _, t in scripts)
    assert with_state >= 1


def test_mermaid_blocks_come_out_in_the_form_material_renders(site: Site) -> None:
    page = (site.out / f"{site.fixture.stem}.html").read_text()
    blocks = [html.unescape(b) for b in re.findall(r'<pre class="mermaid"><code>(.*?)</code></pre>', page, re.S)]
    fences = [m for c in json.loads(site.fixture.read_text())["cells"] if c["cell_type"] == "markdown"
              for m in re.findall(r"```mermaid\n(.*?)\n```", "".join(c["source"]), re.S)]
    assert DIAGRAM in fences and blocks == fences  # every diagram, its source text intact
    assert 'class="jp-Mermaid"' not in page  # nbconvert's form, hidden by its CSS until its CDN loader runs
    for name in ("index.html", f"{site.fixture.stem}.html"):
        srcs = [ref for tag, ref in parse(site.out / name).refs if tag == "script"]
        assert "assets/vendor/mermaid/mermaid.min.js" in srcs
    assert "mermaid" in (site.out / "assets/vendor/mermaid/mermaid.min.js").read_text()[:2000]


def test_every_local_reference_exists_and_no_script_or_style_comes_from_elsewhere(site: Site) -> None:
    for page in sorted(site.out.glob("*.html")):
        for tag, ref in parse(page).refs:
            parts = urlsplit(ref)
            if tag in ("script", "link") and ref:
                assert not parts.scheme and not ref.startswith("//"), f"{page.name} loads {ref}"
            if not ref or parts.scheme or ref.startswith(("#", "//")):
                continue  # empty: nbconvert's MathJax tag (mkdocs-jupyter passes no URL); a browser fetches nothing
            # 404.html links from the site root (it is served for any missing path); pages link relatively.
            base = site.out if parts.path.startswith("/") else page.parent
            target = (base / parts.path.lstrip("/")).resolve()
            if parts.path.endswith("/"):
                target = target / "index.html"
            assert target.exists(), f"{page.name}: {tag} {ref} → missing {target}"


def test_readme_mermaid_fences_render_the_same_way() -> None:
    import markdown
    from mkdocs.config import load_config

    config = load_config(str(ROOT / "mkdocs.yml"))
    md = markdown.Markdown(extensions=config["markdown_extensions"], extension_configs=config["mdx_configs"])
    out = md.convert(f"```mermaid\n{DIAGRAM}\n```\n")
    blocks = re.findall(r'<pre class="mermaid"><code>(.*?)</code></pre>', out, re.S)
    assert [html.unescape(b) for b in blocks] == [DIAGRAM]


def test_material_mermaid_gives_back_the_source_exactly() -> None:
    nbconvert_form = ('<div class="jp-Mermaid"><pre class="mermaid">\nA --&gt; B["<b>x</b> &amp; y"]\n</pre></div>')
    out = material_mermaid(f"<p>before</p>{nbconvert_form}<p>after</p>")
    assert out == ('<p>before</p><pre class="mermaid"><code>A --&gt; B["&lt;b&gt;x&lt;/b&gt; &amp; y"]</code></pre>'
                   "<p>after</p>")


# --- in Chromium ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with browser_or_problem() as handle:
        yield handle


@pytest.mark.browser
def test_every_page_renders_cleanly_in_chromium(browser: Any, site: Site) -> None:
    """Serve the built site on 127.0.0.1 and read each notebook's page (the fixture's diagram and widget too)."""
    browser = ready(browser)
    problems: list[str] = []
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(OPEN_SHADOW_ROOTS)
    page = context.new_page()
    try:
        with serve_directory(site.out) as base:
            for path in sorted(site.notebooks.glob("*.ipynb")):
                html_page = site_page(site.out, path.stem)
                if html_page is None:
                    problems.append(f"{path.name}: no page {path.stem}/index.html or {path.stem}.html in the site")
                    continue
                facts = notebook_facts(json.loads(path.read_text()), path.name)
                # A hang guard only: a first page on a machine shared with other work took over 30 s to load.
                page.goto(base + html_page.relative_to(site.out).as_posix(), wait_until="load", timeout=120_000)
                _wait_for_rendering(page, facts.widget_outputs, facts.mermaid_fences)
                probe = page.evaluate(PROBE, None)
                shot = SHOTS / f"site-{path.stem}.png"
                found = page_problems(probe, facts, static=True)
                screenshot(page, None, shot, problems=bool(found))
                problems.extend(f"{path.name} on the site ({shot.name}): {p}" for p in found)
                if path == site.fixture:  # the checks saw the drawn diagram and widget, not just no errors
                    assert (probe["mermaidDrawn"], probe["widgetsDrawn"]) == (1, 1), probe
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


@pytest.mark.browser
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
