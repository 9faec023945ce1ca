"""Readable tables for notebooks: claims, rule verdicts, authentication events, results.

Every table renders twice, as HTML (JupyterLab) and as aligned text (``repr``, papermill logs, nbval
comparisons). Values are redacted where they are secrets and nothing random or clock-dependent is
shown that the nbval sanitize file does not normalise.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from .redact import redact, redact_text
from .rules import Evaluation
from .tokens import DecodedToken, claim_rows, decode, relative

MAX_CELL = 160


def _cut(text: str, limit: int = MAX_CELL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ShownAsTable:
    """For results a notebook shows as their :meth:`table` (text and HTML), never as raw fields that
    could hold a token. Dataclasses using it need ``repr=False`` so their generated repr stays out."""

    def table(self) -> Table:
        raise NotImplementedError

    def __repr__(self) -> str:
        return repr(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


class Table:
    """A small table with a title; ``_repr_html_`` for Jupyter, ``repr`` for plain text."""

    def __init__(self, title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        self.title = title
        self.columns = list(columns)
        self.rows = [[_cut(str(c)) for c in row] for row in rows]

    def __repr__(self) -> str:
        widths = [max([len(c), *(len(r[i]) for r in self.rows)]) for i, c in enumerate(self.columns)]
        line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
        out = [self.title, line(self.columns), line(["-" * w for w in widths])]
        out.extend(line(r) for r in self.rows)
        return "\n".join(out)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in r) + "</tr>"
            for r in self.rows
        )
        return (f"<p><b>{html.escape(self.title)}</b></p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _mark(matched: bool | None) -> str:
    return {None: "", True: "✓ matches rule", False: "✗ fails rule"}[matched]


def claims_table(token: str | DecodedToken | None, evaluation: Evaluation | None = None, *,
                 title: str = "Claims", now: float | None = None) -> Table:
    """The token's claims, times in UTC plus relative, and which ones the rule reads (✓/✗)."""
    if token is None:
        return Table(title, ["claim", "value"], [("(no token: lab-only step skipped)", "")])
    decoded = token if isinstance(token, DecodedToken) else decode(token)
    matched = evaluation.matched_claims() if evaluation is not None else None
    rows = [(r.name, r.value, r.note, _mark(r.matched)) for r in claim_rows(decoded, matched=matched, now=now)]
    columns = ["claim", "value", "meaning", "rule"] if evaluation is not None else ["claim", "value", "meaning"]
    if evaluation is None:
        rows = [r[:3] for r in rows]
    return Table(title, columns, rows)


def header_table(token: str | DecodedToken) -> Table:
    decoded = token if isinstance(token, DecodedToken) else decode(token)
    return Table("Header", ["field", "value"], [(k, json.dumps(v) if not isinstance(v, str) else v)
                                                for k, v in decoded.header.items()])


def verdicts_table(evaluation: Evaluation, *, title: str = "Preflight: the rule against this token") -> Table:
    rows = [("PASS" if v.passed else "FAIL", v.matcher, v.reason) for v in evaluation.verdicts]
    verdict = "would be accepted" if evaluation.passed else f"would be refused ({len(evaluation.failures)} failing)"
    return Table(f"{title} — {verdict}", ["result", "matcher", "why"], rows)


def events_table(events: Sequence[dict[str, Any]], *, title: str = "Authentication events (newest first)",
                 now: float | None = None) -> Table:
    """The Console-style history: outcome, reason code and the detail the caller never sees."""
    from datetime import datetime

    now = time.time() if now is None else now
    rows = []
    for e in events:
        status = e.get("status", {})
        created = datetime.fromisoformat(e["created_at"].replace("Z", "+00:00")).timestamp()
        rows.append((
            relative(created - now).replace("in 0 s", "now"),
            status.get("outcome", ""),
            status.get("reason") or "",
            redact_text(status.get("detail") or ""),
        ))
    return Table(title, ["when", "outcome", "reason", "detail"], rows)


def event_summary(event: dict[str, Any] | None) -> Table:
    """One event in full: what was presented, which step failed, and why."""
    if event is None:
        return Table("Latest authentication event", ["field", "value"], [("(none)", "")])
    status = event.get("status", {})
    data = event.get("event_data", {})
    claims = (data.get("oidc_token") or {}).get("claims") or {}
    rows = [
        ("outcome", status.get("outcome")),
        ("reason", status.get("reason") or "—"),
        ("detail", redact_text(status.get("detail") or "—")),
        ("federation rule", data.get("federation_rule_id")),
        ("issuer", data.get("issuer_id")),
        ("token iss", claims.get("iss", "—")),
        ("token sub", claims.get("sub", "—")),
        ("token aud", claims.get("aud", "—")),
    ]
    failed = [v for v in data.get("verdicts", []) if not v.get("passed")]
    rows.extend((f"failed: {v['matcher']}", v["reason"]) for v in failed)
    return Table("Latest authentication event (what the Console's history page shows)", ["field", "value"],
                 [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in rows])


def summary(title: str, fields: dict[str, Any]) -> Table:
    """A two-column table for a result object; secrets must already be redacted by the caller."""
    return Table(title, ["field", "value"], [(k, v if isinstance(v, str) else json.dumps(v))
                                             for k, v in fields.items()])


def token_line(token: str) -> str:
    """One safe line to print for a token (kind, size, redacted form)."""
    shown = redact(token, short=True)
    return f"{shown}  ({len(token)} chars)"
