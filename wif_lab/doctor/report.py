"""What the doctor found: one :class:`Check` per step, a :class:`Report` shown as a table or JSON.

Every text a check carries is passed through :func:`~wif_lab.redact.redact_text` when it is made, so
neither the table nor the JSON can hold a token, an assertion or a key, whatever an error message
quoted. The exit code is 0 only when no check failed (``strict``: and none warned or was skipped).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from typing import Any

from ..display import ShownAsTable, Table
from ..redact import redact_text

OK, WARN, FAIL, SKIPPED, LAB_NOTE = "ok", "warn", "FAIL", "skipped", "lab note"
STATUSES = (OK, WARN, FAIL, SKIPPED, LAB_NOTE)
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Check:
    """One step: what was found, and when it is not ``ok``, what to fix."""

    id: str
    title: str
    status: str
    found: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")
        object.__setattr__(self, "found", redact_text(self.found))
        object.__setattr__(self, "fix", redact_text(self.fix))
        object.__setattr__(self, "data", json.loads(redact_text(json.dumps(self.data, default=str))))

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "status": self.status.lower(), "found": self.found,
                "fix": self.fix, "data": self.data}


@dataclass(frozen=True, repr=False)
class Report(ShownAsTable):
    """The checks in the order they ran."""

    checks: tuple[Check, ...]
    strict: bool = False

    def __getitem__(self, check_id: str) -> Check:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def counts(self) -> dict[str, int]:
        return {status: sum(c.status == status for c in self.checks) for status in STATUSES}

    @property
    def ok(self) -> bool:
        bad = (FAIL, WARN, SKIPPED) if self.strict else (FAIL,)
        return not any(c.status in bad for c in self.checks)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_FAILED

    def headline(self) -> str:
        counts = self.counts()
        parts = [f"{counts[OK]} ok"] + [f"{counts[s]} {name}" for s, name in
                                        ((FAIL, "failed"), (WARN, "warned"), (SKIPPED, "skipped"),
                                         (LAB_NOTE, "lab notes")) if counts[s]]
        return f"wif-lab doctor: {', '.join(parts)}"

    def table(self) -> Table:
        if not any(c.fix for c in self.checks):  # nothing to fix: no column of dashes
            return Table(self.headline(), ["check", "result", "found"], [(c.title, c.status, c.found)
                                                                          for c in self.checks])
        rows = [(c.title, c.status, c.found, c.fix or "—") for c in self.checks]
        return Table(self.headline(), ["check", "result", "found", "fix"], rows)

    def lines(self, width: int = 100) -> str:
        """The report for a terminal: one block per check, what to fix under each one that is not ok."""
        out = [self.headline(), ""]
        for check in self.checks:
            out.append(f"{check.status:<9} {check.title}")
            out.extend(textwrap.wrap(check.found, width, initial_indent=" " * 10, subsequent_indent=" " * 10))
            if check.fix and check.status != OK:
                out.extend(textwrap.wrap("fix: " + check.fix, width, initial_indent=" " * 10,
                                         subsequent_indent=" " * 15))
        return "\n".join(out)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "exit_code": self.exit_code, "strict": self.strict,
                "counts": {k.lower().replace(" ", "_"): v for k, v in self.counts().items()},
                "checks": [c.as_dict() for c in self.checks]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)
