"""Unpredictable request and error ids, drawn cheaply.

Drawing each character with ``secrets.choice`` costs a call into the random module per character: a
22-character id took ~50 µs, a tenth of a whole token exchange. Bytes from one ``os.urandom`` call,
each kept only when it falls below the largest multiple of the alphabet's size (so every character
stays exactly equally likely), give the same kind of id in ~2 µs.
"""

from __future__ import annotations

import os


def random_chars(alphabet: str, length: int) -> str:
    """``length`` characters drawn uniformly from ``alphabet`` (at most 256 characters) with OS randomness."""
    size = len(alphabet)
    limit = 256 - 256 % size  # bytes at or above this would favour the first characters: draw again
    out: list[str] = []
    while len(out) < length:
        out += [alphabet[b % size] for b in os.urandom(length + 8) if b < limit]
    return "".join(out[:length])
