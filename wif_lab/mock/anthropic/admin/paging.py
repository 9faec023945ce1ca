"""Opaque cursors and list queries for the Admin API's paginated lists."""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

if TYPE_CHECKING:
    pass



# --- paging ------------------------------------------------------------------------------------


from ....strict_json import loads
from .validation import DEFAULT_LIMIT, PAGE_LIMIT, bad_request, integer_field

_INTEGER = re.compile(r"-?[0-9]{1,19}")


def make_cursor(kind: str, position: int | str) -> str:
    """An opaque ``next_page`` value: which list it belongs to and where the last page ended."""
    raw = json.dumps([kind, position], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_value(kind: str, token: str) -> Any:
    """Decode a cursor of this list's kind; anything else is a 400 (never a 5xx)."""
    try:
        found_kind, value = loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError) as exc:
        raise bad_request("page: not a pagination cursor from this list") from exc
    if found_kind != kind:
        raise bad_request("page: not a pagination cursor from this list")
    return value


@dataclass(frozen=True)
class ListQuery:
    include_archived: bool
    limit: int
    page: str | None


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw not in ("true", "false"):
        raise bad_request(f"{name}: must be true or false")
    return raw == "true"


def query_limit(request: Request, bounds: tuple[int, int]) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    # ASCII digits only: int() would also take " 5", "1_0" and other scripts' digits ("١٢").
    if not _INTEGER.fullmatch(raw):
        raise bad_request(f"limit: must be an integer from {bounds[0]} to {bounds[1]}")
    return integer_field(int(raw), "limit", bounds)


def list_query(request: Request) -> ListQuery:
    page = request.query_params.get("page") or None
    return ListQuery(query_bool(request, "include_archived"), query_limit(request, PAGE_LIMIT), page)


def cursor_page(
    kind: str, records: dict[str, dict[str, Any]], query: ListQuery, keep: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Newest first. Records are never deleted, so a record's insertion position is a stable cursor."""
    rows = [
        (position, record)
        for position, record in enumerate(records.values())
        if keep(record) and (query.include_archived or record.get("archived_at") is None)
    ]
    rows.reverse()
    if query.page is not None:
        after = cursor_value(kind, query.page)
        if type(after) is not int:
            raise bad_request("page: not a pagination cursor from this list")
        rows = [row for row in rows if row[0] < after]
    chunk = rows[: query.limit]
    next_page = make_cursor(kind, chunk[-1][0]) if len(rows) > query.limit else None
    return {"data": [copy.deepcopy(record) for _, record in chunk], "next_page": next_page}


def keyed_page(kind: str, rows: list[dict[str, Any]], key: str, limit: int, page: str | None) -> dict[str, Any]:
    """A page of rows that can disappear (memberships): the cursor is the last row's ``key``, and a
    cursor whose row is gone is a 400 telling the caller to start over."""
    start = 0
    if page is not None:
        after = cursor_value(kind, page)
        keys = [row[key] for row in rows]
        if after not in keys:
            raise bad_request("page: the cursor does not match an active membership; restart from the first page")
        start = keys.index(after) + 1
    chunk = rows[start : start + limit]
    more = start + limit < len(rows)
    return {
        "data": copy.deepcopy(chunk),
        "next_page": make_cursor(kind, chunk[-1][key]) if more and chunk else None,
    }
