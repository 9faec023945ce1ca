"""The plain ``papermill IN OUT`` CLI — what docs teams and schedulers run — passes every notebook.

papermill fails a run on any error output, tagged or not, so this is the proof that expected failures
are shown as outcomes rather than raised.

``--no-request-save-on-cell-execute`` and ``--no-progress-bar`` are papermill's own options too. By default the
CLI rewrites the whole output notebook after every cell (validating it against the nbformat schema each time):
for notebook 03 that was 7 of its 24 seconds, and it changes nothing the test looks at.

``--execution-timeout`` is papermill's own option, here only as a hang guard: nbclient's asyncio client can
miss the kernel's reply (see wif_lab/kernel.py; an ipywidgets Output widget in a cell made it happen about
once per run, which is why the lab's widgets use none) and, with no cell timeout, would wait forever; at
the timeout its last poll finds the reply and the run goes on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PAPERMILL = Path(sys.executable).with_name("papermill")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_plain_papermill_cli_exits_0(notebook: Path, tmp_path: Path) -> None:
    out = tmp_path / notebook.name
    run = subprocess.run([str(PAPERMILL), str(notebook), str(out), "--log-level", "ERROR",
                          "--execution-timeout", "30",
                          "--no-request-save-on-cell-execute", "--no-progress-bar"],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    cells = json.loads(out.read_text())["cells"]
    assert not [c for c in cells if "papermill-error-cell-tag" in c.get("metadata", {}).get("tags", [])]
    errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    assert all(c.get("execution_count") for c in cells if c["cell_type"] == "code")
