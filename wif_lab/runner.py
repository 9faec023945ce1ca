"""Run notebooks headless with papermill, and regenerate the committed reference outputs.

One process, the papermill Python API, a fresh kernel per notebook (no state leaks) and, in mock mode, a
fresh lab per notebook that this process hosts (no kernel pays for starting one); one fork server for the
shipped programs the notebooks run (:mod:`wif_lab.forkserver`), a cell timeout, immediate kernel shutdown
(graceful shutdown sometimes stalls seconds), and one summary line per notebook. A failed run keeps its
executed notebook for reading.
"""

from __future__ import annotations

import ast
import difflib
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import forkserver, hosted_lab
from .errors import ConfigurationError
from .widgetstate import stabilise

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
BUILD_DIR = PROJECT_ROOT / "build" / "notebooks"
DEFAULT_TIMEOUT = 120


@dataclass(frozen=True)
class RunResult:
    notebook: Path
    output: Path
    ok: bool
    seconds: float
    error: str = ""

    def line(self) -> str:
        status = "ok    " if self.ok else "FAILED"
        rel = _rel(self.output)
        text = f"{status} {self.notebook.name:<40} {self.seconds:6.1f} s  → {rel}"
        return text + (f"\n       {self.error}" if self.error else "")


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def find_notebooks(names: Sequence[str] = (), directory: Path = NOTEBOOK_DIR) -> list[Path]:
    all_nbs = sorted(p for p in directory.glob("*.ipynb") if not p.name.startswith("."))
    if not names:
        return all_nbs
    chosen = []
    for name in names:
        given = Path(name)
        if given.suffix == ".ipynb" and given.is_file():  # a notebook anywhere, by path (e.g. a benchmark's)
            given = given.resolve()
            chosen.extend([given] if given not in chosen else [])
            continue
        matches = [p for p in all_nbs if p.name == name or p.stem == name or p.name.startswith(name)]
        if not matches:
            raise SystemExit(f"no notebook matches {name!r} in {directory}")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def _describe(exc: BaseException) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    first = str(evalue).strip().splitlines()[0] if str(evalue).strip() else ""
    return f"{ename}: {first}"[:300]


def execute(notebook: Path, output: Path, parameters: dict[str, Any], timeout: int,
            on_start: Callable[..., Any] | None = None) -> RunResult:
    """Run one notebook in a fresh kernel; ``on_start`` is called once the kernel is ready, before any cell."""
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from .kernel import SlicedPollKernelManager

    output.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(
            str(notebook), str(output), parameters=parameters, kernel_name="python3",
            cwd=str(notebook.parent), execution_timeout=timeout, progress_bar=False,
            request_save_on_cell_execute=False, shutdown_kernel="immediate", log_output=False,
            extra_arguments=["--IPKernelApp.log_level=ERROR"],  # quiet the kernel's own start-up warnings
            kernel_manager_class=SlicedPollKernelManager,  # no minute-long stalls on a missed wake-up
            on_notebook_start=on_start,
        )
    except pm.PapermillExecutionError as exc:
        # Expected failures are shown as outcomes, never raised: any error output is a failure.
        errors = _errors(output)
        return RunResult(notebook, output, False, time.perf_counter() - t0, errors[0] if errors else _describe(exc))
    except (CellTimeoutError, DeadKernelError) as exc:
        return RunResult(notebook, output, False, time.perf_counter() - t0, _describe(exc))
    return RunResult(notebook, output, True, time.perf_counter() - t0)


def _code_cells(path: Path) -> list[dict[str, Any]]:
    return [c for c in json.loads(path.read_text()).get("cells", []) if c.get("cell_type") == "code"]


def _errors(path: Path) -> list[str]:
    found = []
    for cell in _code_cells(path):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"{out.get('ename')}: {str(out.get('evalue', '')).splitlines()[0][:240]}")
    return found


def uses_wif_lab(notebook: Path) -> bool:
    """Whether a notebook's code imports wif_lab (only such a notebook can open the lab a runner hosts for it)."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return True  # unreadable here: papermill reports it; hosting a lab costs nothing then
    return any(c.get("cell_type") == "code" and "wif_lab" in "".join(c.get("source", [])) for c in cells)


def run(
    names: Sequence[str] = (),
    *,
    parameters: dict[str, Any] | None = None,
    output_dir: Path = BUILD_DIR,
    timeout: int = DEFAULT_TIMEOUT,
    directory: Path = NOTEBOOK_DIR,
    host_labs: bool | None = None,
) -> int:
    """Run ``names`` (default: all) one after another, each in a fresh kernel.

    In mock mode the runner hosts each kernel's lab (:mod:`wif_lab.hosted_lab`: a fresh one per notebook)
    unless ``WIF_LAB_CONNECTION`` names the user's own; ``host_labs=False`` lets every kernel start its own.
    """
    notebooks = find_notebooks(names, directory)
    if not notebooks:
        print(f"No notebooks found in {_rel(directory)}/ — nothing to run.")
        return 0
    typed = {nb: typed_parameters(nb, parameters or {}) for nb in notebooks}  # every name checked before any run
    mode = (parameters or {}).get("mode", "mock")
    print(f"Running {len(notebooks)} notebook(s) headless (mode={mode}); executed copies in {_rel(output_dir)}/")
    hosting = hosted_lab.wanted(mode) if host_labs is None else host_labs
    hosted = {nb for nb in notebooks if hosting and uses_wif_lab(nb)}
    results = []
    with forkserver.shared(), hosted_lab.HostedLabs() if hosted else nullcontext() as labs:
        for nb in notebooks:
            with labs.lab() if nb in hosted else nullcontext() as lab:  # the lab starts while the kernel does
                result = execute(nb, output_dir / nb.name, typed[nb], timeout, lab.ready if lab else None)
            print(result.line(), flush=True)
            results.append(result)
    failed = [r for r in results if not r.ok]
    total = sum(r.seconds for r in results)
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed in {total:.1f} s")
    if failed:
        print("Open the executed copies above to read the failing cell's output.")
    return 1 if failed else 0


# --- regenerating committed outputs -----------------------------------------------------------

_VOLATILE_NB_METADATA = ("papermill",)
_VOLATILE_CELL_METADATA = ("papermill", "execution", "ExecuteTime", "collapsed", "scrolled")


def normalise(nb: dict[str, Any]) -> dict[str, Any]:
    """Drop metadata that changes on every run so diffs show only real output changes.

    Widget state stays (static pages render widgets from it), with model ids named after the cells.
    (No papermill error banner can reach here: a run with any error output is a failed run.)
    """
    meta = nb.setdefault("metadata", {})
    for key in _VOLATILE_NB_METADATA:
        meta.pop(key, None)
    meta.get("language_info", {}).pop("version", None)
    meta["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    for i, cell in enumerate(nb.get("cells", [])):
        cell["id"] = f"cell-{i:02d}"
        for key in _VOLATILE_CELL_METADATA:
            cell.get("metadata", {}).pop(key, None)
    return stabilise(nb)


def regen(names: Sequence[str] = (), *, timeout: int = DEFAULT_TIMEOUT, directory: Path = NOTEBOOK_DIR) -> int:
    """Execute each notebook in place against the embedded mocks, then normalise it."""
    notebooks = find_notebooks(names, directory)
    if not notebooks:
        print("No notebooks found — nothing to regenerate.")
        return 0
    failed = 0
    with forkserver.shared():
        for nb in notebooks:
            failed += not _regen_one(nb, timeout)
    if not failed:
        print("Review the change with `git diff notebooks/` before committing.")
    return 1 if failed else 0


def _regen_one(nb: Path, timeout: int) -> bool:
    tmp = nb.with_name(f".{nb.stem}.regen.ipynb")
    result = execute(nb, tmp, {}, timeout)
    if not result.ok:
        print(f"FAILED {nb.name}: {result.error} (executed copy kept at {_rel(tmp)})")
        return False
    data = normalise(json.loads(tmp.read_text()))
    nb.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    tmp.unlink()
    print(f"regenerated {nb.name} in {result.seconds:.1f} s")
    return True


def parse_parameters(pairs: Iterable[Sequence[str]]) -> dict[str, str]:
    """``-p name value`` pairs, values kept as typed: each notebook's parameters cell decides their types."""
    return {name: raw for name, raw in pairs}


# --- parameters, checked against each notebook's parameters cell before anything runs ---------------


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """The parameters cell's names and default values (papermill's inspection, defaults evaluated)."""
    import papermill as pm

    declared: dict[str, Any] = {}
    for name, info in pm.inspect_notebook(str(notebook)).items():
        try:
            declared[name] = ast.literal_eval(str(info.get("default")))
        except (ValueError, SyntaxError):  # an expression, not a literal: its type is unknown
            declared[name] = None
    return declared


def typed_parameters(notebook: Path, given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` checked against the notebook's parameters cell and typed after its defaults.

    An unknown name is an error (a typo such as ``mdoe`` would otherwise be injected, ignored, and the
    run would go on in the default mode). A string from the command line stays a string where the
    default is a string — an ID like ``1`` or ``0012`` must not become a number — and is read as JSON
    (numbers, true/false) where the default is not.
    """
    declared = declared_parameters(notebook)
    unknown = [name for name in given if name not in declared]
    if unknown:
        guesses = {name: difflib.get_close_matches(name, list(declared), n=1) for name in unknown}
        shown = ", ".join(f"{name!r}" + (f" (did you mean {guesses[name][0]!r}?)" if guesses[name] else "")
                          for name in unknown)
        raise ConfigurationError(
            f"{notebook.name} has no parameter {shown}",
            hint=f"its parameters cell declares: {', '.join(declared)}; nothing was run",
        )
    return {name: _typed(value, declared[name]) for name, value in given.items()}


def _typed(value: Any, default: Any) -> Any:
    if not isinstance(value, str) or isinstance(default, str):
        return value
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return json.loads(value)
    except ValueError:
        return value


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
