"""What a person sees: the notebooks run in JupyterLab, and the built site, in Debian's Chromium.

nbval and papermill prove the kernels produce the right outputs; only a browser proves that those
outputs *render*: widgets draw instead of showing "Error displaying widget" or a ``VBox(children=…)``
repr, mermaid fences become diagrams, and no papermill failure banner or traceback reaches a reader.

The same page probe reads a JupyterLab notebook panel and a static page built by nbconvert's lab
template (mkdocs-jupyter): both mark cells and outputs with the ``jp-*`` classes it looks for.
Playwright drives the system Chromium (``executable_path``); its own browser download is never used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SHOTS = ROOT / "build" / "browser"

# Expected failures are outcome tables a notebook shows, never raised errors: no error output is allowed
# anywhere, tagged or not. (False would allow one in a cell tagged raises-exception, read from the notebook.)
STRICT_NO_ERRORS = True
EXPECTED_ERROR_TAG = "raises-exception"

CHROMIUM_INSTALL = "apt-get update && apt-get install -y --no-install-recommends chromium"
PAPERMILL_BANNER = "An Exception was encountered"
PAPERMILL_BANNER_TAG = "papermill-error-cell-tag"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_MERMAID_FENCE = re.compile(r"^ {0,3}(?:```|~~~)[ \t]*mermaid\b", re.M)


# --- what a notebook's JSON says the page must show ----------------------------------------------


@dataclass(frozen=True)
class NotebookFacts:
    """Counts read from a notebook file, compared with what the browser rendered."""

    name: str
    mermaid_fences: int
    widget_outputs: int
    banner_cells: int  # markdown cells papermill inserts when a run failed
    errors: tuple[str, ...] = field(default=())  # "cell N: Ename: first line" for disallowed errors


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def error_allowed(tags: list[str]) -> bool:
    return not STRICT_NO_ERRORS and EXPECTED_ERROR_TAG in tags


def notebook_facts(nb: dict[str, Any], name: str) -> NotebookFacts:
    cells = nb.get("cells", [])
    code = [c for c in cells if c.get("cell_type") == "code"]
    errors = []
    for i, cell in enumerate(code):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and not error_allowed(_tags(cell)):
                first = (str(out.get("evalue", "")).splitlines() or [""])[0][:200]
                errors.append(f"code cell {i}: {out.get('ename')}: {first}")
    return NotebookFacts(
        name=name,
        mermaid_fences=sum(len(_MERMAID_FENCE.findall(_source(c))) for c in cells if c.get("cell_type") == "markdown"),
        widget_outputs=sum(1 for c in code for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})),
        banner_cells=sum(1 for c in cells if PAPERMILL_BANNER_TAG in _tags(c)),
        errors=tuple(errors),
    )


def unexecuted_cells(nb: dict[str, Any]) -> list[int]:
    """Code cells with source but no execution count (JupyterLab leaves blank cells unexecuted)."""
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    return [i for i, c in enumerate(code) if _source(c).strip() and c.get("execution_count") is None]


# --- what the page shows ----------------------------------------------------------------------------

# Material for MkDocs draws mermaid into a *closed* shadow root; opening every shadow root before any
# page script runs lets the probe see those diagrams (nothing else on the page changes).
OPEN_SHADOW_ROOTS = """
(() => {
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) { return attach.call(this, { ...init, mode: "open" }); };
})();
"""

# One pass over the rendered page. It runs the same on a JupyterLab notebook panel (``scope`` is the
# panel) and on a static page (``scope`` is the document body).
PROBE = r"""
(scope) => {
  const root = scope || document.body;
  const all = (sel, from = root) => {
    const found = [...from.querySelectorAll(sel)];
    for (const el of from.querySelectorAll("*")) if (el.shadowRoot) found.push(...all(sel, el.shadowRoot));
    return found;
  };
  const text = (el) => (el.innerText || el.textContent || "").trim();
  const short = (s) => s.replace(/\s+/g, " ").slice(0, 160);

  // Widgets: a drawn widget is a .jupyter-widgets element with no widget around it. The renderer
  // writes "Loading widget..." first and "Error displaying widget…" on failure (on the same node).
  const widgetRoots = all(".jupyter-widgets").filter((el) => !el.parentElement?.closest(".jupyter-widgets"));
  const widgetErrors = widgetRoots.filter((el) => /^Error displaying widget/.test(text(el)))
    .map((el) => short(text(el)));
  const widgetsDrawn = widgetRoots.filter((el) => !/^(Error displaying widget|Loading widget)/.test(text(el))).length;
  const widgetsLoading = all(".jp-OutputArea-output").filter((el) => text(el) === "Loading widget...").length;
  const widgetReprs = all('[data-mime-type="text/plain"]').map(text)
    .filter((t) => /^[A-Z]\w*\((children|value|description|layout)=/.test(t)).map(short);

  // Mermaid: JupyterLab shows each diagram as an SVG <img> in .jp-RenderedMermaid (a failed one gets
  // jp-mod-warning); mermaid.js elsewhere leaves an <svg aria-roledescription=…> ("error" on failure).
  const labSvgs = all(".jp-RenderedMermaid:not(.jp-mod-warning) img")
    .filter((img) => img.src.startsWith("data:image/svg+xml") && img.complete && img.naturalWidth > 0).length;
  const jsSvgs = all("svg[aria-roledescription]");
  const mermaidDrawn = labSvgs + jsSvgs.filter((s) => s.getAttribute("aria-roledescription") !== "error").length;
  const mermaidFailed = all(".jp-RenderedMermaid.jp-mod-warning").map((el) => short(text(el)))
    .concat(jsSvgs.filter((s) => s.getAttribute("aria-roledescription") === "error").map(() => "mermaid syntax error"));
  const mermaidSources = all("code.language-mermaid, pre.mermaid > code, div.mermaid:not(:has(svg))")
    .filter((el) => !el.closest(".jp-RenderedMermaid") && !el.shadowRoot).length;

  // Error-looking outputs per code cell, with the cell's tags where the page carries them
  // (nbconvert writes celltag_<tag> classes; JupyterLab does not, so the caller reads tags from JSON).
  const cells = [...root.querySelectorAll(".jp-Cell.jp-CodeCell")];
  const stderr = [];
  cells.forEach((cell, i) => {
    const outs = [...cell.querySelectorAll(
      ':scope > .jp-Cell-outputWrapper [data-mime-type="application/vnd.jupyter.stderr"]')];
    if (!outs.length) return;
    const tags = [...cell.classList].filter((c) => c.startsWith("celltag_")).map((c) => c.slice(8));
    stderr.push({ cell: i, tags, text: short(outs.map(text).join(" | ")) });
  });

  return {
    banner: (root.innerText || "").includes("An Exception was encountered")
      || !!root.querySelector("#papermill-error-cell"),
    widgetsDrawn, widgetsLoading, widgetErrors, widgetReprs,
    mermaidDrawn, mermaidFailed, mermaidSources,
    stderr,
  };
}
"""


def page_problems(probe: dict[str, Any], facts: NotebookFacts, *, static: bool) -> list[str]:
    """Everything wrong with one rendered notebook, as sentences (empty when it is all right).

    ``static``: a built page. Its cells carry their tags as classes, so errors are read off the page, and
    it may leave cells out (banner cells), so only the expected counts come from the source notebook.
    Otherwise JupyterLab: errors and banner cells are read from the notebook as it saved it.
    """
    found: list[str] = []
    if probe["banner"]:
        found.append(f"papermill's failure banner ({PAPERMILL_BANNER!r}) is on the page")
    if static:
        for out in probe["stderr"]:
            if not error_allowed(out["tags"]):
                found.append(f"error/stderr output in code cell {out['cell']} (tags {out['tags']}): {out['text']}")
    else:
        if facts.banner_cells:
            found.append(f"the notebook has {facts.banner_cells} papermill banner cell(s) "
                         f"(tagged {PAPERMILL_BANNER_TAG})")
        found.extend(f"error output in {e}" for e in facts.errors)
    for err in probe["widgetErrors"]:
        found.append(f"a widget failed to render: {err}")
    if probe["widgetsLoading"]:
        found.append(f"{probe['widgetsLoading']} widget(s) still say 'Loading widget...'")
    for rep in probe["widgetReprs"]:
        found.append(f"a widget is shown as its text repr instead of drawn: {rep}")
    if probe["widgetsDrawn"] < facts.widget_outputs:
        found.append(f"{probe['widgetsDrawn']} widget(s) drawn, the notebook displays {facts.widget_outputs}")
    for err in probe["mermaidFailed"]:
        found.append(f"a mermaid diagram failed to render: {err}")
    if probe["mermaidDrawn"] < facts.mermaid_fences:
        found.append(
            f"{probe['mermaidDrawn']} mermaid diagram(s) drawn as SVG, the notebook has {facts.mermaid_fences} "
            f"mermaid fence(s) ({probe['mermaidSources']} left as source text)"
        )
    return found


# A whole-page screenshot of a long notebook costs Chromium seconds (a 30,000-pixel raster, encoded):
# taken where a person needs it, when a check found a problem; a passing page gets its first screen.
# WIF_LAB_SCREENSHOTS=full takes whole pages always.
FULL_SCREENSHOTS = os.environ.get("WIF_LAB_SCREENSHOTS", "").strip().lower() == "full"


def screenshot(page: Any, scroller: str | None, path: Path, *, problems: bool) -> None:
    """The whole page when something is wrong (or always, with WIF_LAB_SCREENSHOTS=full), else the first screen."""
    if problems or FULL_SCREENSHOTS:
        screenshot_whole(page, scroller, path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))


def screenshot_whole(page: Any, scroller: str | None, path: Path) -> None:
    """Screenshot the whole notebook: JupyterLab scrolls inside a panel, so grow the viewport to fit it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if scroller is None:
        page.screenshot(path=str(path), full_page=True)
        return
    size = page.viewport_size
    extra = page.evaluate(
        "(sel) => { const el = document.querySelector(sel); if (!el) return 0; el.scrollTop = 0;"
        " return el.scrollHeight - el.clientHeight; }",
        scroller,
    )
    try:
        page.set_viewport_size({"width": size["width"], "height": min(size["height"] + max(extra, 0), 30000)})
        page.wait_for_function("(sel) => document.querySelector(sel)?.scrollTop === 0", arg=scroller, timeout=5000)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)


# --- the browser ---------------------------------------------------------------------------------------

VIEWPORT = {"width": 1280, "height": 900}


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
    import pytest

    if isinstance(thing, Unavailable):
        pytest.fail(thing.problem, pytrace=False)
    return thing


@contextmanager
def browser_or_problem() -> Iterator[Any]:
    """A Chromium for a module's tests, or the :class:`Unavailable` each of them fails with."""
    with contextlib.ExitStack() as stack:
        try:
            handle = stack.enter_context(chromium())
        except AssertionError as exc:  # no Chromium, or it would not start: the message says how to fix it
            handle = Unavailable(str(exc))
        yield handle



def chromium_path() -> str:
    """Debian's chromium (or WIF_LAB_CHROMIUM), or an AssertionError saying how to install it."""
    path = os.environ.get("WIF_LAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise AssertionError(
            "The browser tests need Debian's Chromium and it is not installed. Install it with:\n"
            f"    {CHROMIUM_INSTALL}\n"
            "(as root; .ci/run does this), or point WIF_LAB_CHROMIUM at a Chromium binary."
        )
    return path


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium driven by Playwright; never Playwright's own browser download."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=path, args=["--disable-gpu"])
        except PlaywrightError as exc:
            detail = "\n".join(str(exc).splitlines()[:15])  # Playwright quotes the browser's own log
            raise AssertionError(
                f"Chromium at {path} did not start:\n{detail}\nReinstall it with: {CHROMIUM_INSTALL}"
            ) from exc
        try:
            yield browser
        finally:
            browser.close()


# --- JupyterLab ------------------------------------------------------------------------------------------

# Per-user settings for the throw-away lab: no news prompt, every cell attached to the DOM (so the
# probe sees all of them), the notebook's kernel started without the "Select Kernel" dialog, and a
# closed notebook's kernel shut down (each notebook starts its own mock stack).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none", "kernelShutdown": True,
                                                                   "autoStartDefaultKernel": True},
}


@dataclass
class LabServer:
    url: str  # base URL, ends with "/"
    token: str
    notebooks: Path  # the temporary copy JupyterLab serves
    log: Path
    started_in: float  # seconds from launch until the server answered

    def api(self, path: str) -> Any:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())


def without_outputs(nb: dict[str, Any]) -> dict[str, Any]:
    """The notebook as a person opens it to run it: no outputs or counts. Opening a notebook renders its
    outputs, hundreds of kilobytes of tables for the lab's, which the run clears before anything is checked."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb


@contextmanager
def jupyterlab(workdir: Path, *, extra: dict[str, dict[str, Any]] | None = None,
               timeout: float = 90) -> Iterator[LabServer]:
    """JupyterLab on 127.0.0.1 with a token, serving a copy of notebooks/ without outputs (the committed ones stay
    as they are) plus any ``extra`` notebooks (name → notebook JSON)."""
    notebooks = workdir / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks, ignore=shutil.ignore_patterns(".*"))
    for copy in notebooks.glob("*.ipynb"):
        copy.write_text(json.dumps(without_outputs(json.loads(copy.read_text()))))
    for name, nb in (extra or {}).items():
        (notebooks / name).write_text(json.dumps(nb))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "WIF_LAB_CONNECTION"))}
    dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data", "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTERLAB_SETTINGS_DIR": "settings", "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
            "WIF_LAB_STATE_DIR": "wif-lab-state"}
    for var, sub in dirs.items():
        (workdir / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(workdir / sub)
    for rel, value in LAB_SETTINGS.items():
        target = workdir / "settings" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))
    token = secrets.token_hex(24)
    log = workdir / "jupyterlab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", "--port=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}",
           "--ServerApp.open_browser=False", "--LabApp.news_url=None"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=notebooks, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        server = _wait_for_lab(proc, workdir / "runtime", token, notebooks, log, t0, timeout)
        yield server
    finally:
        _stop(proc)


def _wait_for_lab(proc: subprocess.Popen, runtime: Path, token: str, notebooks: Path, log: Path, t0: float,
                  timeout: float) -> LabServer:
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited with code {proc.returncode}:\n{_tail(log)}")
        for info_file in runtime.glob("jpserver-*.json"):
            try:
                url = json.loads(info_file.read_text())["url"]
                server = LabServer(url, token, notebooks, log, 0.0)
                server.api("api/status")
            except (OSError, ValueError, KeyError):
                continue
            server.started_in = time.perf_counter() - t0
            return server
        time.sleep(0.1)
    raise AssertionError(f"JupyterLab did not answer within {timeout:.0f} s:\n{_tail(log)}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM lets the server shut its kernels down; SIGKILL the group only if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# What a person watches in JupyterLab, as page-side conditions.
_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
KERNEL_READY = f"""
() => {{
  const panel = document.querySelector("{_PANEL}");
  const status = [...document.querySelectorAll("#jp-main-statusbar .jp-StatusBar-TextItem")]
    .map((e) => e.textContent.trim()).find((t) => / \\| \\w+$/.test(t));
  return !!panel && panel.querySelector(".jp-Notebook-ExecutionIndicator")?.dataset.status === "idle"
    && !!status && !status.startsWith("No Kernel") && status.endsWith("| Idle");
}}
"""
RUN_FINISHED = f"""
() => {{
  const panel = document.querySelector("{_PANEL}");
  const status = [...document.querySelectorAll("#jp-main-statusbar .jp-StatusBar-TextItem")]
    .map((e) => e.textContent.trim()).find((t) => / \\| \\w+$/.test(t)) || "";
  const prompts = [...panel.querySelectorAll(".jp-CodeCell .jp-InputPrompt")].map((e) => e.textContent.trim());
  return status.endsWith("| Idle") && !prompts.some((p) => p === "[*]:")
    && prompts.some((p) => /^\\[\\d+\\]:$/.test(p));
}}
"""
PROMPTS = f"""
() => [...document.querySelectorAll("{_PANEL} .jp-CodeCell .jp-InputPrompt")].map((e) => e.textContent.trim())
"""
WIDGETS_SETTLED = f"""
() => ![...document.querySelectorAll("{_PANEL} .jp-OutputArea-output")]
  .some((el) => (el.textContent || "").trim() === "Loading widget...")
"""


def menu(page: Any, top: str, item: str) -> None:
    """Click a main-menu entry the way a person does (Run → Run All Cells)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$")).click()
    page.locator(".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel",
                 has_text=re.compile(f"^{re.escape(item)}$")).click()


@dataclass
class LabRun:
    name: str
    seconds_open: float
    seconds_run: float
    saved: dict[str, Any]  # the notebook as JupyterLab saved it after the run
    probe: dict[str, Any]
    problems: list[str]  # what ``judge`` found on the page
    screenshot: Path
    seconds_screenshot: float
    seconds_total: float  # open to closed


def run_in_lab(page: Any, server: LabServer, name: str, judge: Callable[[dict[str, Any], dict[str, Any]], list[str]],
               *, run_timeout: float = 240) -> LabRun:
    """Open ``name`` from the file browser, clear it, Run All Cells, wait, save, probe, judge, screenshot, close.

    ``judge(saved, probe)`` lists the problems; the screenshot shows the whole notebook when it found any.
    A wait that runs out becomes an AssertionError saying what was awaited, with the cells' prompts and
    the end of JupyterLab's log; the tab is closed either way, so the next notebook starts clean.
    """
    shot = SHOTS / f"lab-{Path(name).stem}.png"
    scroller = f"{_PANEL} .jp-WindowedPanel-outer"
    t0 = time.perf_counter()
    try:
        label = page.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$"))
        page.locator(".jp-DirListing-item", has=label).dblclick()
        _wait(page, server, f"() => !!document.querySelector('{_PANEL} .jp-Notebook')", 60, f"{name} to open")
        _wait(page, server, KERNEL_READY, 90, f"{name}'s kernel to start and report Idle")
        opened = time.perf_counter() - t0

        # Cleared first, so every count and output checked below comes from this run, not the committed file.
        menu(page, "Edit", "Clear Outputs of All Cells")
        _wait(page, server, f"() => ({PROMPTS})().every((p) => p === '[ ]:')", 10, "the outputs to clear")
        t1 = time.perf_counter()
        menu(page, "Run", "Run All Cells")
        _wait(page, server, RUN_FINISHED, run_timeout, "Run All Cells to finish")
        ran = time.perf_counter() - t1

        saved = _save(page, server.notebooks / name)
        facts = notebook_facts(saved, name)
        # Widgets and diagrams draw after their output arrives; a stuck one is reported by page_problems.
        _settle(page, WIDGETS_SETTLED)
        _settle(page, f"() => document.querySelectorAll('{_PANEL} .jp-RenderedMermaid').length"
                      f" >= {facts.mermaid_fences}")
        probe = page.evaluate(PROBE, page.query_selector(_PANEL))
        problems = judge(saved, probe)
        t2 = time.perf_counter()
        screenshot(page, scroller, shot, problems=bool(problems))
        shot_seconds = time.perf_counter() - t2
    except BaseException:
        with contextlib.suppress(Exception):
            screenshot_whole(page, scroller, shot)
        with contextlib.suppress(Exception):
            _close(page)
        raise
    _close(page)
    return LabRun(name, opened, ran, saved, probe, problems, shot, shot_seconds, time.perf_counter() - t0)


def _wait(page: Any, server: LabServer, condition: str, seconds: float, what: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(condition, timeout=seconds * 1000, polling=100)
    except PlaywrightTimeout:
        prompts = page.evaluate(PROMPTS) if page.query_selector(_PANEL) else "(no notebook open)"
        raise AssertionError(
            f"JupyterLab: waited {seconds:.0f} s for {what}. Cell prompts: {prompts}\n"
            f"JupyterLab's log ends:\n{_tail(server.log)}"
        ) from None


def _settle(page: Any, condition: str, seconds: float = 30) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(condition, timeout=seconds * 1000, polling=100)


def _save(page: Any, path: Path) -> dict[str, Any]:
    """Ctrl+S, then the file as JupyterLab saved it (read once the server has answered the save)."""
    with page.expect_response(
        lambda r: r.request.method == "PUT" and f"/api/contents/{path.name}" in r.url, timeout=30_000
    ) as saved:
        page.keyboard.press("Control+s")
    assert saved.value.ok, f"JupyterLab could not save {path.name}: HTTP {saved.value.status}"
    return json.loads(path.read_text())


def _close(page: Any) -> None:
    """Close the notebook's tab (its kernel shuts down). A notebook that changed again after the save
    (seen once in testing) asks "Save your work"; the copy is throw-away, so the answer is Discard."""
    if not page.query_selector(_PANEL):
        return
    page.locator(".lm-TabBar-tab.jp-mod-current .lm-TabBar-tabCloseIcon").click(timeout=10_000)
    page.wait_for_function(f"() => !document.querySelector('{_PANEL}') || !!document.querySelector('.jp-Dialog')",
                           timeout=30_000, polling=100)
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        dialog.locator("button", has_text=re.compile("^Discard$")).click()
    page.wait_for_selector(_PANEL, state="detached", timeout=30_000)


# --- the static site -----------------------------------------------------------------------------------


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve a built site on 127.0.0.1 (a random port) from a thread; yields the base URL."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(directory)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def site_page(site: Path, stem: str) -> Path | None:
    """The built page of one notebook: <stem>/index.html (directory URLs) or <stem>.html, anywhere."""
    for pattern in (f"**/{stem}/index.html", f"**/{stem}.html"):
        found = sorted(site.glob(pattern))
        if found:
            return found[0]
    return None
