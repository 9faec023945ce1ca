"""Verification keys built from JWKs, kept for reuse.

Turning a JWK into a key object (``jwt.PyJWK``) costs more than checking an RSA signature with it, and
the token endpoints see the same few registered keys on every request. Keys are cached by the JWK's
canonical JSON and the algorithm, so a changed JWK is a new entry; the cache is bounded, so JWKs a
caller makes up (a DPoP proof carries its own) cannot grow it. Errors are not cached: a JWK pyjwt
refuses is refused again, the same way, every time.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import jwt


def key_from_jwk(jwk: Mapping[str, Any], alg: str) -> Any:
    """``jwt.PyJWK(jwk, algorithm=alg).key``, built once per distinct JWK and algorithm."""
    return _build(json.dumps(jwk, sort_keys=True, separators=(",", ":")), alg)


@functools.lru_cache(maxsize=256)
def _build(canonical: str, alg: str) -> Any:
    return jwt.PyJWK(json.loads(canonical), algorithm=alg).key
