#!/usr/bin/env python3
"""Print how long the README's notebook command takes, against its own floor (a benchmark: it asserts nothing).

Issue 15, P1: all notebooks run headless through the README command (`python3 scripts/run_notebooks.py`)
should take at most 2.0x the same number of one-cell notebooks run through the same command. Both are
run here in one session, interleaved (notebooks, then empties, REPS times), so a busy machine slows both;
the table gives min and median wall seconds and the ratio of each, and the machine's load average at each
repetition (a shared machine slows both). Where the time goes, per notebook (median over the repetitions): the
seconds the runner printed, split by papermill's per-cell durations into the kernel and papermill's own overhead
(runner seconds minus the cells), the set-up cell (imports and opening the runbook), the cells that run the
shipped example programs (``examples.run``: a process of their own each), and the other cells.

Run: python3 scripts/benchmark_notebooks.py [--reps 3] [NOTEBOOK ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bootstrap import ROOT, ensure

RUNNER = ROOT / "scripts" / "run_notebooks.py"
LINE = re.compile(r"^(ok|FAILED)\s+(\S+)\s+([\d.]+) s")


def empty_notebook(path: Path) -> Path:
    """One code cell that does nothing, in the kernel the lab's notebooks use."""
    path.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
        "cells": [{"cell_type": "code", "id": "only", "metadata": {}, "execution_count": None, "outputs": [],
                   "source": "pass"}],
    }))
    return path


def timed_run(args: list[str], output_dir: Path) -> tuple[float, dict[str, float]]:
    """Wall seconds of one README command run, and the seconds it printed for each notebook."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(RUNNER), *args, "--output-dir", str(output_dir)],
                          cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"the README command failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    per = {m.group(2): float(m.group(3)) for m in map(LINE.match, done.stdout.splitlines()) if m}
    return wall, per


def breakdown(executed: Path, runner_seconds: float) -> dict[str, float]:
    """Where one notebook's seconds went, from papermill's per-cell durations in the executed copy."""
    cells = [c for c in json.loads(executed.read_text())["cells"] if c.get("cell_type") == "code"]
    parts = {"set-up cell": 0.0, "examples.run cells": 0.0, "other cells": 0.0}
    for cell in cells:
        source = "".join(cell.get("source", ""))
        seconds = float(cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0)
        part = ("set-up cell" if "open_runbook(" in source else
                "examples.run cells" if "examples.run(" in source or "run_example(" in source else "other cells")
        parts[part] += seconds
    return {"runner s": runner_seconds, "kernel+overhead": runner_seconds - sum(parts.values()), **parts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="names or prefixes (default: all)")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    args = parser.parse_args()
    ensure([])  # the README command sets up the venv itself; do it once here, outside the timings
    notebooks = sorted(args.notebooks) or sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="wif-lab-nb-bench-") as tmp:
        work = Path(tmp)
        empties = [str(empty_notebook(work / f"empty_{i}.ipynb")) for i in range(len(notebooks))]
        real_walls: list[float] = []
        empty_walls: list[float] = []
        per_notebook: dict[str, list[dict[str, float]]] = {}
        loads: list[float] = []
        timed_run(empties[:1], work / "warm-up")  # first-run costs (bytecode, caches) out of the figures
        for rep in range(args.reps):
            loads.append(os.getloadavg()[0])
            wall, per = timed_run(notebooks, work / "real")
            real_walls.append(wall)
            for name, seconds in per.items():
                per_notebook.setdefault(name, []).append(breakdown(work / "real" / name, seconds))
            empty_wall, _ = timed_run(empties, work / "empty")
            empty_walls.append(empty_wall)
            print(f"rep {rep + 1}: {len(notebooks)} notebooks {wall:6.1f} s, {len(empties)} empty {empty_wall:6.1f} s, "
                  f"ratio {wall / empty_wall:4.2f} (load average {loads[-1]:.1f} at the start)", flush=True)

    print()
    print(f"P1: python3 scripts/run_notebooks.py, {len(notebooks)} notebooks vs {len(notebooks)} one-cell notebooks "
          f"({args.reps} interleaved reps)")
    print(f"{'':28} {'min s':>8} {'median s':>9}")
    print(f"{'notebooks':28} {min(real_walls):8.1f} {statistics.median(real_walls):9.1f}")
    print(f"{'empty notebooks':28} {min(empty_walls):8.1f} {statistics.median(empty_walls):9.1f}")
    print(f"{'ratio (target <= 2.0)':28} {min(real_walls) / min(empty_walls):8.2f} "
          f"{statistics.median(real_walls) / statistics.median(empty_walls):9.2f}")
    print(f"{'load average (1 min)':28} {min(loads):8.1f} {statistics.median(loads):9.1f}  "
          f"(on {os.cpu_count()} cores)")
    print()
    columns = ["runner s", "kernel+overhead", "set-up cell", "examples.run cells", "other cells"]
    print("per notebook, median s (kernel+overhead = the runner's seconds minus papermill's cell durations):")
    print(f"  {'':36}" + "".join(f"{c:>19}" for c in columns))
    for name, runs in sorted(per_notebook.items()):
        print(f"  {name:36}" + "".join(f"{statistics.median(r[c] for r in runs):19.1f}" for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
