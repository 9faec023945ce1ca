"""The side-by-side benchmark runs end to end (tiny counts, no peer, no timing asserted: it only prints)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_runs_with_tiny_counts() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/benchmark.py", "--inside", "--no-peer", "--skip-startup", "--reps", "1",
         "--requests", "12", "--threads", "2", "--flat", "30", "--window", "10", "--generator", "httpx"],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "peer: not measured — --no-peer given" in out
    assert "load generator: httpx client threads" in out
    for name in ("| floor | 2 |", "| okta | 2 |", "| anthropic | 2 |"):
        assert name in out, out
    assert "non-200 answers: none" in out, out  # every signed request was accepted: the setup is right
    assert "| okta | " in out.split("## Flat cost")[1] and "## Memory" in out


def test_asking_for_wrk_where_it_is_missing_says_how_to_install_it() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/benchmark.py", "--inside", "--no-peer", "--generator", "wrk"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={"PATH": str(Path(sys.executable).parent)})
    assert done.returncode != 0
    assert "wrk is not installed: apt-get install wrk" in done.stderr
