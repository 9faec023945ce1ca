#!/usr/bin/env python3
"""Print what a workshop costs per attendee (a benchmark, not a test: it asserts nothing).

For each count of attendees, a notebook runs once per attendee, all at once, in two modes:
- embedded: every kernel starts a lab of its own (laptops, Binder, JupyterHub with per-user labs);
- shared: one `wif-lab mock serve --shared` (a separate process), every kernel attached as its own attendee.
It prints the notebook wall time (median / max), the peak memory (PSS) per kernel and of the shared server,
and how many attendees' outputs differ from one attendee alone after sanitizing (the same rules as nbval's).

Run: python3 scripts/benchmark_workshop.py [--attendees 1,5,20] [--modes embedded,shared] [--notebook 01_okta]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _bootstrap import ROOT, answer_help, ensure, run


class PeakMemory:
    """Samples the PSS of the kernels this process started (and of ``extra`` pids) every 0.25 s.

    A kernel counts with the programs it runs (the examples), summed per sample: an attendee's footprint.
    """

    def __init__(self, extra: tuple[int, ...] = ()) -> None:
        self.extra = extra
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        def pss(proc: psutil.Process) -> int:
            try:
                info = proc.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                return 0
            return int(getattr(info, "pss", info.rss))

        me = psutil.Process()
        while not self._stop.wait(0.25):
            groups: dict[int, int] = {pid: pss(psutil.Process(pid)) for pid in self.extra}
            for proc in me.children():
                try:
                    if "ipykernel" not in " ".join(proc.cmdline()):
                        continue
                    family = [proc, *proc.children(recursive=True)]
                except psutil.NoSuchProcess:
                    continue
                groups[proc.pid] = sum(pss(p) for p in family)
            for pid, total in groups.items():
                self.peaks[pid] = max(self.peaks.get(pid, 0), total)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def serve(state_dir: Path) -> tuple[subprocess.Popen[str], Path]:
    run_dir = state_dir / "run"
    proc = subprocess.Popen([sys.executable, "-m", "wif_lab.cli", "mock", "serve", "--shared", "--state-dir",
                             str(state_dir), "--run-dir", str(run_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    connection = run_dir / "connection.json"
    deadline = time.monotonic() + 60
    while not connection.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"serve did not start: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.1)
    return proc, connection


def measure(counts: list[int], modes: list[str], notebook: Path) -> None:
    from wif_lab import workshop

    rules = workshop.sanitizers(ROOT / "tests" / "nbval_sanitize.cfg")
    mb = 1024 * 1024
    print(f"notebook {notebook.name}, {os.cpu_count()} CPUs; memory is peak PSS")
    print(f"{'mode':<9} {'attendees':>9}  {'wall median / max (s)':>22}  {'per kernel (MB)':>16}  "
          f"{'server (MB)':>11}  {'differing':>9}")
    with tempfile.TemporaryDirectory(prefix="wif-lab-workshop-") as tmp:
        state = Path(tmp) / "state"
        for mode in modes:
            server, connection = serve(state) if mode == "shared" else (None, None)
            try:
                width = len(str(max(counts)))
                solo_name = "attendee-" + "0" * max(2, width)
                (solo,) = workshop.run_attendees(notebook, connection, [solo_name], key_root=Path(tmp) / "keys")
                expected = workshop.shown(solo.notebook, rules, names={solo_name: "<ATTENDEE>", tmp: "<TMP>"})
                for count in counts:
                    names = [f"attendee-{i:0{max(2, width)}d}" for i in range(1, count + 1)]
                    with PeakMemory((server.pid,) if server else ()) as memory:
                        runs = workshop.run_attendees(notebook, connection, names, key_root=Path(tmp) / "keys")
                    walls = [r.seconds for r in runs]
                    kernels = [v for pid, v in memory.peaks.items() if server is None or pid != server.pid]
                    differing = sum(
                        1 for r in runs if r.error or workshop.shown(
                            r.notebook, rules, names={r.attendee: "<ATTENDEE>", tmp: "<TMP>"}) != expected)
                    server_mb = f"{memory.peaks.get(server.pid, 0) / mb:.0f}" if server else "—"
                    print(f"{mode:<9} {count:>9}  {statistics.median(walls):>10.1f} / {max(walls):<9.1f}  "
                          f"{statistics.median(kernels) / mb if kernels else 0:>16.0f}  {server_mb:>11}  "
                          f"{differing:>4} of {count}", flush=True)
                    errors = [f"{r.attendee}: {r.error}" for r in runs if r.error]
                    if errors:
                        print("  errors: " + json.dumps(errors[:3]))
            finally:
                if server is not None:
                    server.terminate()
                    server.wait(10)


USAGE = __doc__ or ""

if __name__ == "__main__":
    answer_help(sys.argv[1:], USAGE)
    parser = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attendees", default="1,5,20", help="comma-separated counts (default 1,5,20)")
    parser.add_argument("--modes", default="embedded,shared", help="embedded, shared or both (default both)")
    parser.add_argument("--notebook", default="01_okta", help="the notebook's stem (default 01_okta)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        measure([int(n) for n in args.attendees.split(",")], args.modes.split(","),
                ROOT / "notebooks" / f"{args.notebook}.ipynb")
    else:
        py = ensure([])
        sys.exit(run(py, [__file__, "--inside", "--attendees", args.attendees, "--modes", args.modes,
                          "--notebook", args.notebook]))
