"""Strict JSON parsing for everything the lab reads from a caller or an upstream.

Python's ``json.loads`` is lenient where a service must not be: it accepts ``NaN`` and
``Infinity``, turns ``1e309`` into ``inf``, builds integers of any size, keeps lone surrogates
(``"\\ud800"``) that no encoder can write back out, and recurses until ``RecursionError``. Each of
those, once stored or echoed, later becomes a 5xx (a ``JSONResponse`` refuses NaN and surrogates)
or a silent "no limit" (an ``exp`` of infinity). :func:`loads` refuses them all up front, with a
reason a service can put in its own error shape.

Bounds (lab choices, generous for real documents): numbers must be finite; integers must fit in a
signed 64-bit integer, as in the Go and Java services that usually read these documents; nesting
at most :data:`MAX_DEPTH` levels; every string (keys included) must be encodable as UTF-8.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_MAX_INT_DIGITS = 19  # 2**63 has 19 digits: anything longer is out of range before int() runs

__all__ = ["INT_MAX", "INT_MIN", "MAX_DEPTH", "JSONRejected", "check_text", "loads"]


class JSONRejected(ValueError):
    """The document was refused; ``reason`` completes the sentence "the document …"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _constant(name: str) -> Any:
    raise JSONRejected(f"contains {name}, which is not a JSON number")


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise JSONRejected(f"contains an integer outside the 64-bit range ({_shown(text)})")
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise JSONRejected(f"contains an integer outside the 64-bit range ({_shown(text)})")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONRejected(f"contains a number too large to represent ({_shown(text)})")
    return value


def _shown(text: str) -> str:
    return text if len(text) <= 24 else text[:20] + "…"


def check_text(value: str) -> str | None:
    """Why ``value`` cannot be stored or echoed (a lone surrogate), or None when it is fine."""
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains {value[exc.start]!r}, a lone surrogate that cannot be encoded as UTF-8"
    return None


def _check_tree(value: Any, max_depth: int) -> None:
    """Depth and text checks without recursion (the tree may be up to the parser's own limit deep)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            problem = check_text(item)
            if problem:
                raise JSONRejected(problem)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise JSONRejected(f"nests deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    problem = check_text(key)
                    if problem:
                        raise JSONRejected(f"has a member name that {problem}")
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def loads(data: bytes | bytearray | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse one JSON document under the bounds above; :class:`JSONRejected` says what is wrong."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise JSONRejected("is not valid UTF-8") from None
    else:
        text = data
    try:
        value = json.loads(text, parse_constant=_constant, parse_int=_integer, parse_float=_float)
    except JSONRejected:
        raise
    except RecursionError:
        raise JSONRejected(f"nests deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError, and int()'s digit limit
        raise JSONRejected(f"is not valid JSON ({str(exc).split(':')[0]})") from None
    # A lone surrogate needs a \u escape (or a str handed in with one: UTF-8 bytes cannot carry it), and
    # nesting deeper than max_depth needs more brackets than that: without either, the walk finds nothing.
    from_bytes = isinstance(data, bytes | bytearray)
    if not (from_bytes or text.isascii()) or "\\u" in text or text.count("{") + text.count("[") > max_depth:
        _check_tree(value, max_depth)
    return value
