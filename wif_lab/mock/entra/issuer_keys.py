"""External issuers' keys: what Entra fetches (discovery, then JWKS, over https) to check the
signature of a federated assertion, cached per issuer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..outbound import FETCH_DEADLINE, MAX_DOCUMENT_BYTES, FetchFailed, fetch_json

ISSUER_KEYS_CACHE_SECONDS = 3600.0
ISSUER_KEYS_REFETCH_SECONDS = 30.0


class IssuerMetadataError(Exception):
    """The issuer's discovery document or JWKS could not be fetched; ``detail`` says which step."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ExternalIssuerKeys:
    """Signing keys of the issuers federated credentials name: ``<issuer>/.well-known/openid-configuration``
    → ``jwks_uri`` over https, cached per issuer; an unknown ``kid`` forces one early re-fetch at most
    every :data:`ISSUER_KEYS_REFETCH_SECONDS` (a rotated cluster key is picked up)."""

    def __init__(
        self,
        outbound: Callable[[], httpx.AsyncClient],
        clock: Callable[[], float],
        *,
        cache_seconds: float = ISSUER_KEYS_CACHE_SECONDS,
        refetch_seconds: float = ISSUER_KEYS_REFETCH_SECONDS,
        fetch_deadline: float = FETCH_DEADLINE,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
    ) -> None:
        self._outbound = outbound
        self._clock = clock
        self.cache_seconds = cache_seconds
        self.refetch_seconds = refetch_seconds
        self.fetch_deadline = fetch_deadline  # discovery and JWKS together, connect to last byte
        self.max_document_bytes = max_document_bytes
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._forced: dict[str, float] = {}
        self.fetches = 0

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._forced.clear()

    async def key_for(self, issuer: str, kid: str) -> dict[str, Any] | None:
        now = self._clock()
        with self._lock:
            entry = self._cache.get(issuer)
        if entry is None or now - entry[0] > self.cache_seconds:
            keys = await self._fetch(issuer)
            with self._lock:
                self._cache[issuer] = (now, keys)
            return _find_key(keys, kid)
        found = _find_key(entry[1], kid)
        with self._lock:
            may_refetch = found is None and now - self._forced.get(issuer, float("-inf")) >= self.refetch_seconds
            if may_refetch:
                self._forced[issuer] = now
        if may_refetch:
            keys = await self._fetch(issuer)
            with self._lock:
                self._cache[issuer] = (now, keys)
            found = _find_key(keys, kid)
        return found

    async def _fetch(self, issuer: str) -> list[dict[str, Any]]:
        if urlsplit(issuer).scheme != "https":
            raise IssuerMetadataError(f"issuer {issuer!r} is not an https URL")
        limits = {"deadline": self.fetch_deadline, "max_bytes": self.max_document_bytes}
        try:
            async with asyncio.timeout(self.fetch_deadline), self._outbound() as client:
                doc = await fetch_json(client, issuer.rstrip("/") + "/.well-known/openid-configuration",
                                       "discovery document", **limits)
                jwks_uri = doc.get("jwks_uri") if isinstance(doc, dict) else None
                if not isinstance(jwks_uri, str) or urlsplit(jwks_uri).scheme != "https":
                    raise IssuerMetadataError("the discovery document names no https jwks_uri")
                body = await fetch_json(client, jwks_uri, "JWKS", **limits)
        except FetchFailed as exc:
            raise IssuerMetadataError(exc.detail) from exc
        except TimeoutError:
            raise IssuerMetadataError(f"discovery and JWKS did not arrive within {self.fetch_deadline:g} s") from None
        with self._lock:
            self.fetches += 1
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list):
            raise IssuerMetadataError(f"the JWKS at {jwks_uri} has no keys array")
        return [key for key in keys if isinstance(key, dict)]


def _find_key(keys: list[dict[str, Any]], kid: str) -> dict[str, Any] | None:
    return next((key for key in keys if key.get("kid") == kid), None)
