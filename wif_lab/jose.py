"""Strict reading of a compact JWS (a JWT) before anything trusts or stores what it says.

pyjwt parses header and payload with Python's lenient ``json.loads``; a token whose ``exp`` is
``Infinity`` or ``1e309``, whose claims nest a thousand levels deep or carry a lone surrogate would
pass its decoding and break a service later (a 5xx when the claims are logged or echoed, "no
limit" when a time is compared). :func:`parse_compact` applies :mod:`wif_lab.strict_json` to both
segments first, then pyjwt's own structural checks, so what it returns is safe to keep.

:func:`numeric_date` is the RFC 7519 NumericDate test every service applies to ``exp``, ``iat``
and ``nbf``: a finite number of seconds between the epoch and the end of year 9999 (the range a
calendar can show; a lab bound).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import jwt

from .strict_json import JSONRejected, loads

MAX_TOKEN_BYTES = 64 * 1024  # bigger than any real JWT; callers may set their own, smaller, limit
MAX_NUMERIC_DATE = 253_402_300_799  # 9999-12-31T23:59:59Z
_SEGMENT = re.compile(rb"[A-Za-z0-9_-]*")


class MalformedJWT(ValueError):
    """The token is not a well-formed compact JWS; ``reason`` says which part."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Compact:
    header: dict[str, Any]
    claims: dict[str, Any]


def _segment(raw: bytes, name: str) -> bytes:
    if not _SEGMENT.fullmatch(raw) or len(raw) % 4 == 1:
        raise MalformedJWT(f"the {name} segment is not base64url")
    try:
        return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise MalformedJWT(f"the {name} segment is not base64url") from None


def _object(raw: bytes, name: str) -> dict[str, Any]:
    try:
        value = loads(raw)
    except JSONRejected as exc:
        raise MalformedJWT(f"the {name} {exc.reason}") from None
    if not isinstance(value, dict):
        raise MalformedJWT(f"the {name} is not a JSON object")
    return value


def parse_compact(token: Any, *, max_bytes: int = MAX_TOKEN_BYTES) -> Compact:
    """Header and claims of ``token`` (signature not checked), or :class:`MalformedJWT`."""
    if not isinstance(token, str):
        raise MalformedJWT("the token is not a string")
    if not token.isascii():
        raise MalformedJWT("the token contains characters outside base64url")
    raw = token.encode("ascii")
    if len(raw) > max_bytes:
        raise MalformedJWT(f"the token is longer than {max_bytes} bytes")
    parts = raw.split(b".")
    if len(parts) != 3:
        raise MalformedJWT(f"the token has {len(parts)} dot-separated segments, not 3")
    header = _object(_segment(parts[0], "header"), "header")
    claims = _object(_segment(parts[1], "payload"), "payload")
    _segment(parts[2], "signature")
    try:  # pyjwt's own rules too (canonical base64, b64 header…), so later pyjwt calls agree with us
        jwt.get_unverified_header(token)
        jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise MalformedJWT(str(exc)) from None
    return Compact(header, claims)


def numeric_date(value: Any) -> float | None:
    """``value`` as seconds since the epoch when it is a valid NumericDate, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not 0 <= value <= MAX_NUMERIC_DATE:  # NaN fails this comparison too
        return None
    return float(value)
