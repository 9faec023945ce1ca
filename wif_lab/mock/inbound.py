"""What every mock reads from a request, read strictly: bodies with a size cap, JSON through
:mod:`wif_lab.strict_json`, forms and query strings as UTF-8 only.

Starlette is forgiving on purpose (a form or query with invalid UTF-8 becomes U+FFFD; a body is
read whole, however large). A mock must refuse what its service refuses, so each helper raises
:class:`Rejected` with a sentence, and the mock answers in its own service's error shape.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from ..strict_json import JSONRejected, loads

MAX_BODY_BYTES = 1024 * 1024  # far above any token request or Admin API body the lab sends
MAX_FIELDS = 100


class Rejected(ValueError):
    """The request could not be read; ``reason`` is the sentence to put in the error body."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, streamed and given up on past ``limit`` bytes (never buffered whole first)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Rejected(f"the request body is larger than {limit} bytes", too_large=True)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(f"the request body is larger than {limit} bytes", too_large=True)
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: Request, *, empty_ok: bool = False, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """A JSON object body; ``empty_ok`` lets an empty body stand for ``{}``."""
    raw = await read_body(request, limit)
    if empty_ok and not raw.strip():
        return {}
    try:
        data = loads(raw)
    except JSONRejected as exc:
        raise Rejected(f"request body {exc.reason}") from None
    if not isinstance(data, dict):
        raise Rejected("request body must be a JSON object")
    return data


def pairs(text: bytes, what: str, *, max_fields: int = MAX_FIELDS) -> list[tuple[str, str]]:
    """``application/x-www-form-urlencoded`` pairs; bytes and percent-escapes must be UTF-8."""
    try:
        decoded = text.decode("utf-8")
        found = parse_qsl(decoded, keep_blank_values=True, errors="strict", max_num_fields=max_fields)
    except UnicodeDecodeError:
        raise Rejected(f"the {what} is not valid UTF-8") from None
    except ValueError:  # more than max_fields fields
        raise Rejected(f"the {what} has more than {max_fields} fields") from None
    return found  # strict UTF-8 decoding cannot yield a lone surrogate: every pair can be echoed


async def form_pairs(request: Request, limit: int = MAX_BODY_BYTES) -> list[tuple[str, str]]:
    return pairs(await read_body(request, limit), "request body")


def query_pairs(request: Request) -> list[tuple[str, str]]:
    return pairs(request.scope.get("query_string", b""), "query string")
