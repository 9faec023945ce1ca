"""The documentation site: built the way scripts/build_site.py builds it, from executed notebooks.

The fixture copies the committed notebooks, adds a mermaid block to a copy of the first one and
regenerates that copy with the project's own regen path (so it carries saved widget state), then
builds the site into a temporary folder. The checks read the built HTML the way a browser would
find things: pages, scripts, widget state, diagram blocks, local files.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.test_readme import quick_start_commands
from wif_lab.docsite.hooks import WIDGET_RENDERER, material_mermaid
from wif_lab.runner import regen
from wif_lab.widgetstate import STATE_MIME, VIEW_MIME, saved_state, views

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DIAGRAM = 'flowchart LR\n  idp[Identity provider] -->|JWT| ex["exchange <b>token</b>"]\n  ex --> api[Claude API]'
MERMAID_CELL = {"cell_type": "markdown", "id": "mermaid-fixture", "metadata": {},
                "source": f"How the token travels:\n\n```mermaid\n{DIAGRAM}\n```\n"}


@dataclass
class Site:
    out: Path
    notebooks: Path
    fixture: Path  # the regenerated copy with a mermaid block and widget state


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    assert NOTEBOOKS, "no notebooks to publish"
    work = tmp_path_factory.mktemp("site")
    nbdir = work / "notebooks"
    nbdir.mkdir()
    for path in NOTEBOOKS:
        shutil.copy2(path, nbdir / path.name)
    fixture = nbdir / NOTEBOOKS[0].name
    nb = json.loads(fixture.read_text())
    nb["cells"].insert(1, MERMAID_CELL)
    fixture.write_text(json.dumps(nb))
    assert regen([fixture.stem], directory=nbdir) == 0
    out = work / "site"
    proc = subprocess.run([sys.executable, "-m", "wif_lab.docsite", "--output", str(out), "--notebooks", str(nbdir)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Built {len(NOTEBOOKS) + 1} pages" in proc.stdout, proc.stdout
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
    for stem in (p.stem for p in NOTEBOOKS[1:]):  # committed as they are
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
