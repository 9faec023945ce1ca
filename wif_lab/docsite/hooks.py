"""MkDocs hooks (named in mkdocs.yml): the README as the first page, and the vendored browser code.

- The index page is README.md, so the site opens on the same quick start as the repository.
- The vendored html-manager and Mermaid (see ``vendor.py``) are added to the site as files, and
  nbconvert, which mkdocs-jupyter renders notebook pages with, is told to load them from there
  instead of from a CDN: the widget renderer through a Jupyter config file on ``JUPYTER_CONFIG_PATH``
  (the documented way to configure nbconvert; it takes precedence over a user's own config).
- One Mermaid renderer for the whole site: MkDocs Material's, which renders every
  ``<pre class="mermaid"><code>`` (the form pymdownx.superfences gives README fences) with the
  vendored ``mermaid.min.js``. nbconvert writes a notebook's mermaid fences differently (a
  ``div.jp-Mermaid`` that its CSS hides until its own CDN loader has drawn it), so notebook pages get
  those blocks rewritten into Material's form; nbconvert's loader then finds nothing and loads nothing.
- Notebook pages are rendered from the committed outputs, never re-executed.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from wif_lab.docsite.vendor import CACHE_DIR, VendorError, vendored

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
README = PROJECT_ROOT / "README.md"
VENDOR_URI = "assets/vendor"
# Pages sit at the site root (use_directory_urls: false), so one relative path serves them all.
WIDGET_RENDERER = f"./{VENDOR_URI}/html-manager/embed.js"
NBCONVERT_CONFIG = {"HTMLExporter": {"widget_renderer_url": WIDGET_RENDERER}}
# nbconvert's markup for a ```mermaid fence in a markdown cell (nbconvert.filters.markdown_mistune).
NBCONVERT_MERMAID = re.compile(r'<div class="jp-Mermaid"><pre class="mermaid">(.*?)</pre></div>', re.S)

_vendor: dict[str, Path] = {}


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    try:
        _vendor.update(vendored())
    except VendorError as exc:
        raise PluginError(f"wif-lab site: {exc}") from exc
    conf_dir = CACHE_DIR / "nbconvert-config"
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "jupyter_nbconvert_config.json").write_text(json.dumps(NBCONVERT_CONFIG, indent=1) + "\n")
    others = [p for p in os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p and p != str(conf_dir)]
    os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(conf_dir), *others])
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is None or jupyter.config.get("execute"):
        raise PluginError("wif-lab site: mkdocs-jupyter must be enabled with execute: false (pages show the "
                          "committed outputs)")
    if "cache" in jupyter.config:
        # mkdocs-jupyter >= 0.26 caches rendered pages keyed on the notebook and its own options only,
        # not on the nbconvert settings above; a stale page would point at the wrong scripts.
        jupyter.config["cache"] = False
    return config


def readme_as_index(text: str) -> str:
    """README.md for the site: links into notebooks/ point at the notebook pages beside it."""
    return re.sub(r"\]\((?:\./)?notebooks/([^)#\s]+)\.ipynb", r"](\1.ipynb", text)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for file in files:
        if file.src_uri.endswith(".ipynb") and "/" in file.src_uri:
            raise PluginError(f"wif-lab site: {file.src_uri} is in a subfolder; the vendored scripts are linked "
                              "relative to the site root, so notebooks must sit directly in notebooks/")
    if files.get_file_from_path("index.md") is None:
        files.append(File.generated(config, "index.md", content=readme_as_index(README.read_text())))
    for key, folder in sorted(_vendor.items()):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            uri = f"{VENDOR_URI}/{key}/{path.relative_to(folder).as_posix()}"
            files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def material_mermaid(page_html: str) -> str:
    """nbconvert's mermaid blocks in the form MkDocs Material renders, with the diagram source as text.

    nbconvert leaves the source partly as markup (``<b>`` stays a tag, ``>`` becomes ``&gt;``);
    unescaping and escaping again gives back the source exactly, as text Mermaid reads.
    """
    def swap(m: re.Match[str]) -> str:
        source = html.unescape(m.group(1)).strip("\n")
        return f'<pre class="mermaid"><code>{html.escape(source, quote=False)}</code></pre>'

    return NBCONVERT_MERMAID.sub(swap, page_html)


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    return material_mermaid(output) if page.file.src_uri.endswith(".ipynb") else output
