"""Checks over committed notebooks: they are published evidence and nbval's reference.

- kernelspec ``python3`` (nbval and papermill start the kernel it names);
- the first code cell is tagged ``parameters`` (papermill injects runbook values after it);
- every code cell was executed (nbval never compares a cell whose execution_count is null);
- no error output at all, and no papermill error banner: expected failures are *shown* as outcome
  tables, never raised, so the plain ``papermill`` CLI exits 0 and a reader sees no red banner;
- no stderr output (a leaked log line or kernel warning is noise in published evidence, and varies);
- no unredacted secret in any output: a JWT with its signature, an ``sk-ant-oat01-`` token, a PEM
  private key; saved widget state counts as output (an Output widget keeps what it displayed there);
- when widget state is saved, every widget a cell shows has its model in it (else the static page
  shows the widget's text fallback only).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .widgetstate import saved_state, views

SECRET_PATTERNS = {
    "JWT with signature": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{20,}"),
    "Anthropic access token": re.compile(r"sk-ant-oat01-[A-Za-z0-9_-]{12,}"),
    "PEM private key": re.compile(r"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----"),
}
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"


def problems(nb: dict[str, Any], name: str = "notebook") -> list[str]:
    found: list[str] = []
    kernelspec = nb.get("metadata", {}).get("kernelspec", {})
    if kernelspec.get("name") != "python3":
        found.append(f"{name}: kernelspec name is {kernelspec.get('name')!r}, expected 'python3'")
    for i, cell in enumerate(nb.get("cells", [])):
        if PAPERMILL_ERROR_TAG in cell.get("metadata", {}).get("tags", []):
            found.append(f"{name} cell {i}: a papermill error banner (the notebook was saved from a failed run)")
    code_cells = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    if not code_cells or "parameters" not in code_cells[0].get("metadata", {}).get("tags", []):
        found.append(f"{name}: the first code cell must be tagged 'parameters'")
    for i, cell in enumerate(code_cells):
        where = f"{name} code cell {i}"
        if cell.get("execution_count") is None:
            found.append(f"{where}: not executed (nbval would compare nothing)")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                found.append(f"{where}: stderr output {''.join(out.get('text', ''))[:80]!r} (a log line or warning "
                             "leaked into published evidence; regenerate)")
            if out.get("output_type") == "error":
                found.append(f"{where}: error output {out.get('ename')} (show expected failures as outcomes instead)")
        found.extend(_secrets(f"{where}: output", cell.get("outputs", [])))
    state = saved_state(nb)
    found.extend(_secrets(f"{name}: saved widget state", state))
    if state:
        for i, view in views(nb):
            if view["model_id"] not in state:
                found.append(f"{name} cell {i}: shows widget {view['model_id']!r}, which the saved widget state lacks")
    return found


def _secrets(where: str, value: Any) -> list[str]:
    blob = json.dumps(value, ensure_ascii=False)
    return [f"{where} contains an unredacted {what}" for what, rx in SECRET_PATTERNS.items() if rx.search(blob)]


def check_files(paths: list[Path]) -> list[str]:
    found: list[str] = []
    for path in paths:
        found.extend(problems(json.loads(path.read_text()), path.name))
    return found
