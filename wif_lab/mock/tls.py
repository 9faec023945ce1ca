"""The lab's own certificate authority and the server certificate every https mock serves.

Made once with trustme and cached as PEM files in the state dir, so a warm start reads three
files instead of generating keys. Clients trust the CA explicitly (``verify=<ca_bundle>``);
nothing in the lab turns verification off.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme

SERVER_NAMES = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class LabTLS:
    ca_bundle: Path
    server_cert_chain: Path
    server_key: Path

    @property
    def ca_pem(self) -> str:
        return self.ca_bundle.read_text()


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write via a temp file and rename, so concurrent starts never read half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def state_lock(directory: Path) -> Iterator[None]:
    """Serialise first-time creation across processes (two notebooks starting labs at once)."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: atomic renames only
        yield
        return
    with open(directory / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_lab_tls(state_dir: Path, host: str | None = None) -> LabTLS:
    """Return the cached lab CA and server certificate, creating them on first use.

    The certificate names the loopback addresses. A stack served on another address (``host``, the
    one its clients use) gets a CA and certificate of its own in ``tls/<host>/`` that name it too,
    so labs on loopback sharing the state dir keep theirs untouched.
    """
    host = host.lower() if host else None
    names = SERVER_NAMES if host in (None, *SERVER_NAMES) else (*SERVER_NAMES, str(host))
    d = state_dir / "tls" if names == SERVER_NAMES else state_dir / "tls" / _dir_name(str(host))
    tls = LabTLS(d / "lab-ca.pem", d / "server-chain.pem", d / "server-key.pem")
    files = (tls.ca_bundle, tls.server_cert_chain, tls.server_key)
    if all(p.exists() for p in files):
        return tls
    with state_lock(d):
        if all(p.exists() for p in files):  # another process made them while we waited
            return tls
        _create(tls, names)
    return tls


def _dir_name(host: str) -> str:
    return "host-" + "".join(c if c.isalnum() or c in ".-" else "_" for c in host.lower())


def _create(tls: LabTLS, names: tuple[str, ...]) -> None:
    ca = trustme.CA(organization_name="wif-lab", organization_unit_name="wif-lab local CA")
    leaf = ca.issue_cert(*names)
    write_atomic(tls.server_key, leaf.private_key_pem.bytes(), 0o600)
    write_atomic(tls.server_cert_chain, b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    write_atomic(tls.ca_bundle, ca.cert_pem.bytes())
