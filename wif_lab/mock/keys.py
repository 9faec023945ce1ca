"""Signing keys for the mock issuers, cached in the state dir so warm starts are fast.

Each key has a stable name (``okta-default``, ``entra``, …); the public half is published as a
JWK with a ``kid`` chosen by the mock that owns it.

A state dir baked into an image (``wif-lab mock init``) may be read-only: the keys a start needs are
already there, and a key first made at run time (a rotation) goes to the running stack's own folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from .tls import state_lock, write_atomic

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class KeyStore:
    def __init__(self, state_dir: Path, spill_dir: Path | None = None) -> None:
        self.dir = state_dir / "keys"
        self.spill_dir = spill_dir  # where new keys go when the state dir is read-only
        self._cache: dict[str, PrivateKey] = {}
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        """Where the named key lives: the state dir, or the spill dir for a key made while it was read-only."""
        shared = self.dir / f"{name}.pem"
        if self.spill_dir is not None and not shared.exists() and not self._writable():
            return self.spill_dir / f"{name}.pem"
        return shared

    def _writable(self) -> bool:
        probe = self.dir if self.dir.is_dir() else self.dir.parent
        return os.access(probe, os.W_OK | os.X_OK)

    def private_key(self, name: str, kind: str = "rsa") -> PrivateKey:
        """Load the named key, generating it (RSA 2048, EC P-256, or ``ec-p384``: EC P-384) the first time."""
        with self._lock:
            if name not in self._cache:
                path = self.path(name)
                if not path.exists():
                    with state_lock(path.parent):  # another process may be creating the same key
                        if not path.exists():
                            write_atomic(path, _new_key_pem(kind), 0o600)
                self._cache[name] = _load_own_key(path.read_bytes())
            return self._cache[name]

    def private_pem(self, name: str, kind: str = "rsa") -> str:
        self.private_key(name, kind)
        return self.path(name).read_text()


def _load_own_key(pem: bytes) -> PrivateKey:
    """Load a key this store generated and wrote itself (mode 0600 in the lab's state dir).

    cryptography checks an RSA private key's mathematical consistency on every load (~36 ms each: most
    of a warm start). That check guards against keys from elsewhere, damaged or crafted to leak the
    private exponent through faulty signatures; these keys were made by ``rsa.generate_private_key``
    and only read back, so skipping it is safe here — and only here: no key from outside the state
    dir ever goes through this function.
    """
    return serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)  # type: ignore[return-value]


def _new_key_pem(kind: str) -> bytes:
    curves = {"ec": ec.SECP256R1, "ec-p384": ec.SECP384R1}
    key = ec.generate_private_key(curves[kind]()) if kind in curves else rsa.generate_private_key(65537, 2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_jwk(key: PrivateKey, kid: str, alg: str | None = None) -> dict[str, Any]:
    """The public JWK for ``key`` with ``kid``, ``use`` and ``alg`` set."""
    pub = key.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        jwk = json.loads(RSAAlgorithm.to_jwk(pub))
        jwk["alg"] = alg or "RS256"
    else:
        jwk = json.loads(ECAlgorithm.to_jwk(pub))
        jwk["alg"] = alg or "ES256"
    jwk.update({"kid": kid, "use": "sig"})
    return jwk


_thumbprints: dict[int, tuple[PrivateKey, str]] = {}  # id(key) → (key, thumbprint); the key is held, so ids stay


def thumbprint(key: PrivateKey) -> str:
    """RFC 7638 thumbprint of the public key (base64url SHA-256): a stable, key-derived id.

    Remembered per key object (the store hands out the same ones): Okta names its signing key by it on
    every token it mints, and rebuilding the JWK each time cost a tenth of a token request.
    """
    hit = _thumbprints.get(id(key))
    if hit is not None and hit[0] is key:
        return hit[1]
    value = _thumbprint(key)
    if len(_thumbprints) >= 256:
        _thumbprints.clear()
    _thumbprints[id(key)] = (key, value)
    return value


def _thumbprint(key: PrivateKey) -> str:
    jwk = public_jwk(key, kid="x")
    members = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({k: jwk[k] for k in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
