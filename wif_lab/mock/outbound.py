"""Fetching a JSON document from another server (discovery, JWKS) with a total deadline and a size cap.

httpx's ``timeout`` bounds each network operation, not the request: an upstream that sends one
byte a second never trips a 5 s read timeout and holds the caller for as long as it likes, and a
body is downloaded whole before anyone looks at its length. Here the whole fetch (connect, headers,
body) runs under one deadline, and the body is streamed and abandoned as soon as it passes the cap.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from ..strict_json import JSONRejected, loads

FETCH_DEADLINE = 5.0  # seconds for one whole document, connect to last byte
MAX_DOCUMENT_BYTES = 512 * 1024
# identity: the cap counts bytes as they arrive, and a compressed body could expand far past it per chunk.
_HEADERS = {"accept": "application/json", "accept-encoding": "identity"}


class FetchFailed(Exception):
    """The document could not be had; ``detail`` says which step failed, for the service's log."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


async def fetch_json(
    client: httpx.AsyncClient,
    url: str,
    what: str,
    *,
    deadline: float = FETCH_DEADLINE,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> Any:
    """GET ``url`` and parse it strictly; :class:`FetchFailed` names the problem (``what`` names the document)."""
    try:
        async with asyncio.timeout(deadline):
            body = await _download(client, url, what, max_bytes)
    except TimeoutError:
        raise FetchFailed(f"the {what} at {url} did not arrive within {deadline:g} s") from None
    except httpx.HTTPError as exc:
        raise FetchFailed(f"fetching the {what} at {url} failed: {type(exc).__name__}: {exc}") from exc
    try:
        return loads(body)
    except JSONRejected as exc:
        raise FetchFailed(f"the {what} at {url} is not usable JSON: it {exc.reason}") from None


async def _download(client: httpx.AsyncClient, url: str, what: str, max_bytes: int) -> bytes:
    async with client.stream("GET", url, headers=_HEADERS) as response:
        if response.status_code != 200:
            raise FetchFailed(f"the {what} at {url} answered HTTP {response.status_code}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchFailed(f"the {what} at {url} is larger than {max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise FetchFailed(f"the {what} at {url} is larger than {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
