"""The one place secrets are shortened for display, and the string type that does it by itself.

Rules for the shortened form:
- a JWT keeps its header and claims segments (anyone can decode those) but never its signature,
  so a redacted token can be recognised and inspected but not replayed;
- an Anthropic token (``sk-ant-…``) keeps its kind prefix and four characters;
- a PEM private key keeps only its type;
- anything else secret keeps four characters and its length.

``short=True`` trims the JWT segments too, for one-line displays.

:class:`Secret` is what ``wif_lab`` hands a notebook for every token, assertion, proof and key: a
``str`` whose echo, ``print`` and f-strings *in the notebook* show the redacted form, while libraries
(httpx, json, pyjwt, the ``anthropic`` SDK, azure-identity) still get the real value.
"""

from __future__ import annotations

import re
import sys
from typing import Any

_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_ANTHROPIC = re.compile(r"^(sk-ant-[a-z]+\d+-)([A-Za-z0-9_-]+)$")
_PEM_KEY = re.compile(r"-----BEGIN ([A-Z ]*PRIVATE KEY)-----.*?-----END \1-----", re.S)
# Secrets embedded in longer text (error messages, logs, reprs).
_JWT_IN_TEXT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+")
_ANTHROPIC_IN_TEXT = re.compile(r"sk-ant-[a-z]+\d+-[A-Za-z0-9_-]+")

SIGNATURE_MARK = "‹signature redacted›"
_REDACTION_MARKS = (SIGNATURE_MARK, " redacted›", "‹redacted›")


def redact(value: str | None, *, short: bool = False) -> str:
    """Return a display-safe form of a token, assertion, key or other secret."""
    if value is None:
        return "None"
    value = str.strip(value)  # str.strip: a Secret's own methods are never asked for the raw value here
    if not value:
        return "''"
    m = _ANTHROPIC.match(value)
    if m:
        return f"{m.group(1)}{m.group(2)[:4]}…"
    if _JWT.match(value) and value.startswith("eyJ"):
        header, payload, _sig = value.split(".")
        if short:
            return f"{header[:10]}….{payload[:10]}….{SIGNATURE_MARK}"
        return f"{header}.{payload}.{SIGNATURE_MARK}"
    m = _PEM_KEY.search(value)
    if m:
        return f"‹{m.group(1).lower()} redacted›"
    if len(value) <= 8:
        return "‹redacted›"
    return f"{value[:4]}…‹{len(value)} chars redacted›"


def redact_text(text: str) -> str:
    """Redact every token-looking secret inside free text (error bodies, log lines)."""
    text = _PEM_KEY.sub(lambda m: f"‹{m.group(1).lower()} redacted›", str.__str__(text))
    text = _JWT_IN_TEXT.sub(lambda m: redact(m.group(0), short=True), text)
    return _ANTHROPIC_IN_TEXT.sub(lambda m: redact(m.group(0)), text)


def is_redacted(value: str) -> bool:
    """Whether ``value`` is a redacted form (what a notebook shows), not a usable secret."""
    return any(mark in value for mark in _REDACTION_MARKS)


# Modules whose str()/format() calls put text in front of people: the notebook or script itself
# (``__main__``: IPython runs cells there) and the standard places that print, log or pretty-print.
PEOPLE_FACING_MODULES = ("__main__", "IPython", "ipykernel", "logging", "pprint", "reprlib", "traceback",
                         "warnings")


def _caller_faces_people(depth: int) -> bool:
    module = sys._getframe(depth).f_globals.get("__name__") or ""
    return any(module == name or module.startswith(name + ".") for name in PEOPLE_FACING_MODULES)


class Secret(str):
    """A token, assertion, proof or key that shows itself redacted and hands libraries the real value.

    - ``repr()``, notebook echo and ``display()`` always show ``Secret('<short redacted form>')``;
    - ``str()``, ``print()``, ``format()`` and f-strings show the redacted form (:func:`redact`) when
      called from the notebook or script itself (module ``__main__``) or from logging/pprint/traceback;
    - called from any other module (httpx's form encoder calls ``str(value)``, SDKs build headers with
      f-strings) they return the real value, as for a plain ``str``;
    - everything else is ``str`` behaviour on the real value: ``json.dumps``, ``.encode()``, ``==``,
      ``len``, ``in``, file writes, ``os.environ``, and ``"Bearer " + token``;
    - slicing, concatenation and string methods (``.strip()``, ``.split()``) return plain ``str``;
    - :meth:`reveal` (or :attr:`value`) returns the raw string on purpose, e.g. to build a header in a
      notebook cell by f-string, or to write a token file.
    """

    def __new__(cls, value: str) -> Secret:
        if isinstance(value, Secret):
            return value
        if not isinstance(value, str):
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        return super().__new__(cls, value)

    def reveal(self) -> str:
        """The raw value as a plain ``str`` (shows in full wherever you put it)."""
        return str.__str__(self)

    @property
    def value(self) -> str:
        return str.__str__(self)

    def redacted(self, *, short: bool = False) -> str:
        return redact(str.__str__(self), short=short)

    def __repr__(self) -> str:
        return f"Secret({self.redacted(short=True)!r})"

    def __str__(self) -> str:
        if _caller_faces_people(2):
            return self.redacted()
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        if _caller_faces_people(2):
            return format(self.redacted(), spec)
        return str.__format__(self, spec)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def secret(value: str | None) -> Secret | None:
    """``Secret(value)``, passing ``None`` through (optional fields)."""
    return None if value is None else Secret(value)


def masked(value: Any) -> Any:
    """``value`` with every :class:`Secret` inside (dicts, lists, tuples) replaced by its short redacted
    form: for ``json.dumps`` in displays, which would otherwise write the raw value."""
    if isinstance(value, Secret):
        return value.redacted(short=True)
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(masked(v) for v in value)
    return value
