"""SPIFFE IDs parsed as go-spiffe parses them (``spiffeid.FromString``), with its error sentences.

SPIRE checks a requested SPIFFE ID with that function and puts its sentence into the gRPC error
(``invalid requested SPIFFE ID: <sentence>``), so the lab must fail on the same inputs with the same words.
"""

from __future__ import annotations

SCHEME = "spiffe://"
_TRUST_DOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")
_PATH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")


class InvalidSpiffeId(ValueError):
    """Not a SPIFFE ID; the message is go-spiffe's."""


def validate_path(path: str) -> None:
    if not path:
        return
    if not path.startswith("/"):
        raise InvalidSpiffeId("path must have a leading slash")
    segments = path[1:].split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "":
            raise InvalidSpiffeId("path cannot have a trailing slash" if last else "path cannot contain empty segments")
        if segment in (".", ".."):
            raise InvalidSpiffeId("path cannot contain dot segments")
        if not set(segment) <= _PATH_CHARS:
            raise InvalidSpiffeId("path segment characters are limited to letters, numbers, dots, dashes, and "
                                  "underscores")


def parse(value: str) -> tuple[str, str]:
    """``(trust_domain, path)`` of a SPIFFE ID, or :class:`InvalidSpiffeId`."""
    if value == "":
        raise InvalidSpiffeId("cannot be empty")
    if not value.startswith(SCHEME):
        raise InvalidSpiffeId("scheme is missing or invalid")
    rest = value[len(SCHEME):]
    trust_domain, slash, path = rest.partition("/")
    if not set(trust_domain) <= _TRUST_DOMAIN_CHARS:
        raise InvalidSpiffeId("trust domain characters are limited to lowercase letters, numbers, dots, dashes, "
                              "and underscores")
    if not trust_domain:
        raise InvalidSpiffeId("trust domain is missing")
    validate_path(slash + path)
    return trust_domain, slash + path


def trust_domain_id(trust_domain: str) -> str:
    """``spiffe://<trust domain>``: how SPIRE keys a trust domain's bundle in ``FetchJWTBundles``."""
    return SCHEME + trust_domain
