"""What every mock service is given and what it must provide to the stack.

A mock is built by a factory from a :class:`LabContext` once every mock's socket is bound, so each
knows its own base URL (and its peers') before it builds issuer URLs and discovery documents.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from starlette.types import ASGIApp

from .keys import KeyStore
from .tls import LabTLS

# A shared lab's attendee, as wif_lab.attendee reduces a name (a-z, 0-9, '-'): the mocks' attendee routes take this.
ATTENDEE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


def seeded_guid(seed: int, label: str) -> str:
    """A stable GUID for ``label`` in this lab (same seed, same IDs in every notebook run).

    Shared by every mock that names things with GUIDs (tenants, identities, clusters), so none of them
    has to import another to agree on an ID scheme.
    """
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


@dataclass
class LabContext:
    state_dir: Path
    keys: KeyStore
    tls: LabTLS
    base_urls: dict[str, str]
    clock: Callable[[], float] = time.time
    seed: int = 20260617
    mocks: dict[str, Mock] = field(default_factory=dict)
    run_dir: Path | None = None  # this stack's own files (token files); state_dir holds what labs share

    @property
    def runtime_dir(self) -> Path:
        """Where a mock writes files that belong to this running stack only.

        Keys and the CA are shared by every lab using a state dir; token files are not: two labs
        (two notebooks' kernels) each run a kubelet signing for its own issuer URL.
        """
        return self.run_dir or self.state_dir

    def base_url(self, name: str) -> str:
        return self.base_urls[name]

    def outbound_client(self, *, extra_ca_pem: str | None = None, timeout: float = 5.0) -> httpx.AsyncClient:
        """An async client for mock-to-mock calls (a mock fetching another's JWKS).

        In the lab the lab CA plays the part of the public web PKI, so it is always trusted;
        an issuer's ``ca_cert_pem`` is trusted in addition, as the real service does.
        """
        import ssl

        ctx = ssl.create_default_context(cafile=str(self.tls.ca_bundle))
        if extra_ca_pem:
            ctx.load_verify_locations(cadata=extra_ca_pem)
        return httpx.AsyncClient(verify=ctx, timeout=timeout, follow_redirects=False)


class Mock(Protocol):
    """A running mock: its ASGI app and its section of the connection file.

    Every section names the mock's ``base_url`` (the stack refuses one without), so tools list the
    running services without guessing which key holds a URL.
    """

    name: str

    def asgi(self) -> ASGIApp: ...

    def connection(self) -> dict[str, Any]: ...


def start_mock(mock: Mock) -> None:
    """Start what a mock serves beside its HTTP app (e.g. a gRPC server on a Unix socket), if it has a
    ``start()``. The stack calls it once every HTTP server is up, and :func:`close_mock` on stop."""
    start = getattr(mock, "start", None)
    if callable(start):
        start()


def close_mock(mock: Mock) -> None:
    """Release what a mock runs beside its server (e.g. a kubelet thread), if it has a ``close()``."""
    close = getattr(mock, "close", None)
    if callable(close):
        close()


@dataclass(frozen=True)
class MockSpec:
    """How the stack builds one mock: its name, whether it serves https, its factory, and the mocks it
    reads while being built (``requires``: they must come before it in the stack's order).

    Each mock module exports one as ``SPEC``; :mod:`wif_lab.mock.registry` lists them.
    """

    name: str
    scheme: str
    factory: Callable[[LabContext], Mock]
    requires: tuple[str, ...] = ()


def check_order(specs: Sequence[MockSpec]) -> None:
    """Refuse a start order in which a mock comes before one it requires (or one is missing)."""
    seen: set[str] = set()
    for spec in specs:
        missing = [name for name in spec.requires if name not in seen]
        if missing:
            raise ValueError(f"mock {spec.name!r} requires {', '.join(map(repr, missing))} to be built before it; "
                             f"order given: {', '.join(s.name for s in specs)}")
        seen.add(spec.name)
