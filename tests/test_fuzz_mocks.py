"""scripts/fuzz_mocks.py, run small: every mock answers every hostile request, and none with a 5xx.

A correctness check on the script and the mocks together; the script's timings and the full
10,000-per-mock run are figures for the report, not assertions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "fuzz_mocks.py"
MOCKS = {"anthropic", "okta", "entra", "imds", "app_service", "kubernetes", "oidc", "github_actions", "google",
         "gce_metadata", "kubernetes_cluster", "aws"}


def test_a_small_fuzz_run_finds_no_server_errors() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--inside", "--requests", "30", "--json", "--seed", "7"],
        capture_output=True, text=True, timeout=600, cwd=SCRIPT.parent.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report) == MOCKS
    for mock, figures in report.items():
        assert figures["sent"] == 30, (mock, figures)
        assert sum(figures["statuses"].values()) == 30, (mock, figures)
        assert figures["server_errors"] == 0, (mock, figures["examples_5xx"])
        assert figures["hangs"] == figures["dropped"] == 0, (mock, figures["transport_errors"])
        assert not any(code.startswith("5") for code in figures["statuses"]), (mock, figures)
