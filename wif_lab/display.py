"""Readable tables for notebooks: claims, rule verdicts, authentication events, results.

Every table renders twice, as HTML (JupyterLab) and as aligned text (``repr``, papermill logs, nbval
comparisons). Nothing is cut: a long value wraps onto more lines, and where a row compares two values
(issuer, audience, subject, claim mismatches) the first differing character is marked, ``⟦x⟧`` in text
and ``<mark>`` in HTML (:mod:`wif_lab.difference`). Secrets show redacted (a :class:`~wif_lab.redact.Secret`
cell, and any token-looking text), and nothing random or clock-dependent is shown that the nbval
sanitize file does not normalise.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

from . import glossary
from .difference import CLOSE, OPEN, Marked, mark_mismatch
from .redact import Secret, masked, redact, redact_text
from .rules import Evaluation
from .tokens import DecodedToken, claim_rows, decode, relative

WIDTH = 100  # a text column wraps beyond this many characters (HTML wraps to the page)

Cell = str | Marked


def _cell(value: Any) -> Cell:
    """What a table shows for ``value``: secrets redacted, marks kept, everything else as text."""
    if isinstance(value, Marked):
        return value.map_text(redact_text)
    if isinstance(value, Secret):
        return value.redacted(short=True)
    if not isinstance(value, str):
        value = json.dumps(masked(value)) if isinstance(value, dict | list | tuple) else str(value)
    return redact_text(value)


def _json(value: Any) -> Any:
    """Strings (secrets and marked text included) as they are; anything else as JSON, secrets masked."""
    return value if isinstance(value, str | Marked) else json.dumps(masked(value))


def _text(cell: Cell) -> str:
    return cell.text() if isinstance(cell, Marked) else cell


def _html(cell: Cell) -> str:
    return cell.html() if isinstance(cell, Marked) else html.escape(cell)


def wrap(text: str, width: int = WIDTH) -> list[str]:
    """``text`` as lines of at most ``width`` characters.

    Lines break at spaces, and inside a long URL or path only after a ``/``, so a host:port, an ID or a
    UUID is never split (the nbval sanitize rules must still recognise them); a mark ``⟦x⟧`` is never
    split either. Only a run longer than ``width`` with neither is cut hard.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap_paragraph(paragraph, width))
    return lines


# What a line may break between: runs of spaces; a URL's scheme and host:port (kept together); path
# segments (a break only ever follows a "/"); any other run of non-space characters.
_PIECES = re.compile(r"\s+|[^\s/]*://[^\s/]*/?|[^\s/]*/+|[^\s/]+")


def _wrap_paragraph(paragraph: str, width: int) -> list[str]:
    if len(paragraph) <= width:
        return [paragraph]
    lines: list[str] = []
    current = ""
    for piece in _PIECES.findall(paragraph):
        if piece.isspace():
            if current:
                current += piece
            continue
        if len(current) + len(piece) > width and current.strip():
            lines.append(current.rstrip())
            current = ""
        current += piece
        while len(current) > width:  # a single run longer than a line: cut it, but not inside a mark
            cut = width
            if current[:cut].count(OPEN) > current[:cut].count(CLOSE):
                cut = current.rindex(OPEN, 0, cut) or width
            lines.append(current[:cut])
            current = current[cut:]
    if current.strip():
        lines.append(current.rstrip())
    return _marks_whole(lines)


def _marks_whole(lines: list[str]) -> list[str]:
    """Move a mark that a line break split (``⟦`` at the end of one line) whole onto the next line."""
    fixed: list[str] = []
    carry = ""
    for line in lines:
        line = carry + line
        carry = ""
        if line.count(OPEN) > line.count(CLOSE):
            cut = line.rindex(OPEN)
            if cut:
                line, carry = line[:cut], line[cut:]
        fixed.append(line)
    if carry:
        fixed.append(carry)
    return fixed


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
    """A small table with a title; ``_repr_html_`` for Jupyter, ``repr`` for plain text.

    Cells may be strings, :class:`~wif_lab.difference.Marked` text, secrets (shown redacted) or other
    values (JSON for containers). Long cells wrap at :data:`WIDTH` characters in text.
    """

    def __init__(self, title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        self.title = title
        self.columns = list(columns)
        self.rows: list[list[Cell]] = [[_cell(c) for c in row] for row in rows]

    def __repr__(self) -> str:
        wrapped = [[wrap(_text(c)) for c in row] for row in self.rows]
        widths = [max([len(c), *(len(line) for r in wrapped for line in r[i])]) for i, c in enumerate(self.columns)]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

        out = [self.title, line(self.columns), line(["-" * w for w in widths])]
        for row in wrapped:
            height = max(len(lines) for lines in row)
            out.extend(line([lines[i] if i < len(lines) else "" for lines in row]) for i in range(height))
        return "\n".join(out)

    def _repr_html_(self) -> str:
        style = "text-align:left; vertical-align:top; white-space:pre-wrap; overflow-wrap:anywhere"
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td style='{style}'>{_html(c)}</td>" for c in r) + "</tr>"
            for r in self.rows
        )
        return (f"<p><b>{html.escape(self.title)}</b></p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _mark(read: Sequence[Any]) -> str:
    """``✓ issuer`` / ``✗ claims.oid``: which matchers read the claim and whether they passed."""
    return ", ".join(f"{'✓' if r.passed else '✗'} {r.matcher}" for r in read)


def claims_table(token: str | DecodedToken | None, evaluation: Evaluation | None = None, *,
                 title: str = "Claims", now: float | None = None) -> Table:
    """The token's claims with what each one means (times in UTC plus relative).

    With an ``evaluation``: exactly the claims the rule reads (its matchers, and claims its CEL condition
    names), each with the matchers that read it and whether they passed; a claim the rule reads but the
    token lacks shows as absent.
    """
    if token is None:
        return Table(title, ["claim", "value"], [("(no token: lab-only step skipped)", "")])
    decoded = token if isinstance(token, DecodedToken) else decode(token)
    kind = glossary.token_kind(decoded.claims)
    rows = {r.name: r for r in claim_rows(decoded, now=now)}

    def meaning(name: str) -> str:
        text = glossary.meaning(name, decoded.claims, kind=kind)
        note = rows[name].note if name in rows else ""
        return f"{text}: {note}" if note else text

    if evaluation is None:
        return Table(title, ["claim", "value", "meaning"], [(r.name, r.value, meaning(r.name)) for r in rows.values()])
    read: dict[str, list[Any]] = {}
    for entry in evaluation.claims_read():
        read.setdefault(entry.claim, []).append(entry)
    shown = [(name, rows[name].value if name in rows else glossary.ABSENT, meaning(name), _mark(entries))
             for name, entries in read.items()]
    return Table(title, ["claim", "value", "meaning", "rule"], shown)


def header_table(token: str | DecodedToken) -> Table:
    decoded = token if isinstance(token, DecodedToken) else decode(token)
    return Table("Header", ["field", "value"], [(k, _json(v)) for k, v in decoded.header.items()])


def verdicts_table(evaluation: Evaluation, *, title: str = "Preflight: the rule against this token") -> Table:
    """One row per matcher; a failed comparison shows both values in full with the first difference marked."""
    rows = [("PASS" if v.passed else "FAIL", v.matcher, mark_mismatch(v.code, v.reason)) for v in evaluation.verdicts]
    verdict = "would be accepted" if evaluation.passed else f"would be refused ({len(evaluation.failures)} failing)"
    return Table(f"{title} — {verdict}", ["result", "matcher", "why"], rows)


def event_detail(status: dict[str, Any]) -> Marked | str:
    """An event's detail, redacted, with the first difference marked when it compares two values."""
    return mark_mismatch(status.get("reason"), redact_text(status.get("detail") or ""))


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
            event_detail(status),
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
        ("detail", event_detail(status) if status.get("detail") else "—"),
        ("federation rule", data.get("federation_rule_id")),
        ("issuer", data.get("issuer_id")),
        ("token iss", claims.get("iss", "—")),
        ("token sub", claims.get("sub", "—")),
        ("token aud", claims.get("aud", "—")),
    ]
    failed = [v for v in data.get("verdicts", []) if not v.get("passed")]
    rows.extend((f"failed: {v['matcher']}", mark_mismatch(v.get("code"), v["reason"])) for v in failed)
    return Table("Latest authentication event (what the Console's history page shows)", ["field", "value"],
                 [(k, _json(v)) for k, v in rows])


def summary(title: str, fields: dict[str, Any]) -> Table:
    """A two-column table for a result object (secrets in it show redacted)."""
    return Table(title, ["field", "value"], [(k, _json(v)) for k, v in fields.items()])


def token_line(token: str) -> str:
    """One safe line to print for a token (kind, size, redacted form)."""
    shown = redact(token, short=True)
    return f"{shown}  ({len(token)} chars)"
