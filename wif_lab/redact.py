"""The one place secrets are shortened for display.

Rules:
- a JWT keeps its header and claims segments (anyone can decode those) but never its signature,
  so a redacted token can be recognised and inspected but not replayed;
- an Anthropic token (``sk-ant-…``) keeps its kind prefix and four characters;
- a PEM private key keeps only its type;
- anything else secret keeps four characters and its length.

``short=True`` trims the JWT segments too, for one-line displays.
"""

from __future__ import annotations

import re

_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_ANTHROPIC = re.compile(r"^(sk-ant-[a-z]+\d+-)([A-Za-z0-9_-]+)$")
_PEM_KEY = re.compile(r"-----BEGIN ([A-Z ]*PRIVATE KEY)-----.*?-----END \1-----", re.S)
# Secrets embedded in longer text (error messages, logs, reprs).
_JWT_IN_TEXT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+")
_ANTHROPIC_IN_TEXT = re.compile(r"sk-ant-[a-z]+\d+-[A-Za-z0-9_-]+")

SIGNATURE_MARK = "‹signature redacted›"


def redact(value: str | None, *, short: bool = False) -> str:
    """Return a display-safe form of a token, assertion, key or other secret."""
    if value is None:
        return "None"
    value = value.strip()
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
    text = _PEM_KEY.sub(lambda m: f"‹{m.group(1).lower()} redacted›", text)
    text = _JWT_IN_TEXT.sub(lambda m: redact(m.group(0), short=True), text)
    return _ANTHROPIC_IN_TEXT.sub(lambda m: redact(m.group(0)), text)


class Secret(str):
    """A str that never shows itself in repr/str-formatting contexts meant for humans.

    It still behaves as the real value when passed to libraries (it *is* a str), but ``repr()``
    and ``format()`` with the ``!r`` conversion show the redacted form.
    """

    def __repr__(self) -> str:
        return f"Secret({redact(str.__str__(self), short=True)!r})"
