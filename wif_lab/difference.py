"""Point at the first character where two values part ways, inside the sentence that compares them.

A refusal such as ``iss 'https://…/c35e…/' != issuer_url 'https://…/c35e…/v2.0'`` is only useful if
a learner can see *where* the two strings differ. :func:`mark_mismatch` finds the two compared values
in a verdict reason or event detail (by the reason code, which fixes the sentence's shape) and returns
:class:`Marked` text: the full sentence, with the first differing character of each value marked as
``⟦x⟧`` in plain text and ``<mark>x</mark>`` in HTML. When one value is the other plus more, the
shorter one is marked ``⟦end⟧`` where it stops.
"""

from __future__ import annotations

import ast
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

END = "end"  # the mark shown where the shorter of two values stops
OPEN, CLOSE = "⟦", "⟧"

# A Python repr of a string, as the reasons quote values (f"{value!r}").
_LITERAL = r"""(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
_LIST = r"\[[^\]\n]*\]"

# Per reason code: a pattern whose groups "a" and "b" are the two compared values, quoted.
_SHAPES: dict[str, re.Pattern[str]] = {
    # rules.py: iss 'A' is not byte-for-byte the issuer's issuer_url 'B'; the mock: token iss 'A' != issuer_url 'B'
    "issuer_mismatch": re.compile(rf"\biss (?P<a>{_LITERAL}).*?\bissuer_url (?P<b>{_LITERAL})"),
    # sub 'A' is not exactly 'B' / does not start with 'B' / differs from subject_prefix 'B' only in letter case
    "subject_mismatch": re.compile(
        rf"\bsub (?P<a>{_LITERAL}) (?:is not exactly|does not start with|differs from subject_prefix) "
        rf"(?P<b>{_LITERAL})"),
    # aud 'A' (or a list) does not contain the rule's audience 'B' / Anthropic's expected audience 'B'
    "audience_mismatch": re.compile(rf"\baud (?P<a>{_LIST}|{_LITERAL}) does not contain .*?audience (?P<b>{_LITERAL})"),
    # claim 'name' is 'A', not 'B'
    "claim_mismatch": re.compile(rf"\bclaim {_LITERAL} is (?P<a>{_LITERAL}), not (?P<b>{_LITERAL})"),
}


@dataclass(frozen=True)
class Marked:
    """Text with marked spans; renders as ``⟦x⟧`` in plain text and ``<mark>x</mark>`` in HTML."""

    parts: tuple[tuple[str, bool], ...]

    @property
    def plain(self) -> str:
        return "".join(text for text, marked in self.parts if not marked or text != END)

    def text(self) -> str:
        return "".join(f"{OPEN}{text}{CLOSE}" if marked else text for text, marked in self.parts)

    def html(self) -> str:
        return "".join(f"<mark>{html.escape(text)}</mark>" if marked else html.escape(text)
                       for text, marked in self.parts)

    def map_text(self, change: Callable[[str], str]) -> Marked:
        """The same marks, with ``change`` applied to the unmarked text (e.g. redaction)."""
        return Marked(tuple((text if marked else change(text), marked) for text, marked in self.parts))

    def __str__(self) -> str:
        return self.text()


def first_difference(a: str, b: str) -> int | None:
    """Index of the first character where ``a`` and ``b`` differ (``None`` if they are equal)."""
    if a == b:
        return None
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


def mark_pair(text: str, a: str, b: str) -> Marked | str:
    """Mark the first difference of ``a`` and ``b`` where ``text`` quotes them (``repr``)."""
    index = first_difference(a, b)
    if index is None:
        return text
    marks: list[tuple[int, int, str]] = []  # (start, end) in text, replaced by the marked span
    taken = 0
    for value in (a, b):
        quoted = repr(value)
        if quoted[1:-1] != value:  # escapes in the repr: positions would not line up; leave it unmarked
            continue
        at = text.find(quoted, taken)
        if at < 0:
            continue
        taken = at + len(quoted)
        position = at + 1 + index
        if index < len(value):
            marks.append((position, position + 1, value[index]))
        else:
            marks.append((position, position, END))
    return _apply(text, marks)


def mark_values(a: str, b: str) -> tuple[Marked | str, Marked | str]:
    """``a`` and ``b`` each with their first difference marked, for tables that show them in two cells."""
    index = first_difference(a, b)
    if index is None:
        return a, b
    def marked(value: str) -> Marked | str:
        return _apply(value, [(index, index + 1, value[index]) if index < len(value) else (index, index, END)])

    return marked(a), marked(b)


def _apply(text: str, marks: Sequence[tuple[int, int, str]]) -> Marked | str:
    if not marks:
        return text
    parts: list[tuple[str, bool]] = []
    cursor = 0
    for start, end, shown in sorted(marks):
        parts += [(text[cursor:start], False), (shown, True)]
        cursor = end
    parts.append((text[cursor:], False))
    return Marked(tuple(p for p in parts if p[0]))


def compared_values(code: str | None, text: str) -> tuple[str, str] | None:
    """The two values a reason of kind ``code`` compares, as written in ``text`` (``None``: not a mismatch)."""
    shape = _SHAPES.get(code or "")
    match = shape.search(text) if shape else None
    if match is None:
        return None
    try:
        a, b = ast.literal_eval(match["a"]), ast.literal_eval(match["b"])
    except (ValueError, SyntaxError):
        return None
    if isinstance(a, list):  # an aud list: compare with the entry closest to the expected audience
        candidates = [item for item in a if isinstance(item, str)]
        if not candidates or not isinstance(b, str):
            return None
        a = max(candidates, key=lambda item: (first_difference(item, b) or 0, -len(item)))
    if not isinstance(a, str) or not isinstance(b, str):
        return None
    return a, b


def mark_mismatch(code: str | None, text: str) -> Marked | str:
    """``text`` (a verdict reason or event detail of kind ``code``) with the first difference marked."""
    values = compared_values(code, text)
    return mark_pair(text, *values) if values else text
