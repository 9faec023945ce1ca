"""Checking a request's Signature Version 4, as STS does before it looks at the action.

Only the check is written here; the canonical request, the string to sign and the signing key are
botocore's own (:class:`botocore.auth.SigV4Auth`), given the headers the *client* says it signed. So the
lab verifies with the very code that signs for boto3 and the AWS CLI, and a request the real service
would refuse for its signature is refused here too:

- no ``Authorization`` header → ``MissingAuthenticationToken`` (403);
- a header that is not ``AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…``, or no
  ``X-Amz-Date`` → ``IncompleteSignature`` (400);
- an unknown access key, or a session key without its (right) ``X-Amz-Security-Token`` →
  ``InvalidClientTokenId`` (403); an expired session → ``ExpiredToken`` (400);
- a scope for another service or region, a scope date that is not the request's, a clock more than
  15 minutes off, an unsigned ``host`` header, or a signature that does not verify → ``SignatureDoesNotMatch`` (403).

Lab deviations: presigned URLs (the signature in the query string) and SigV4A are not accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from . import errors

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "sts"
MAX_SKEW = timedelta(minutes=15)
AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AUTH = re.compile(r"^AWS4-HMAC-SHA256 (?P<params>.*)$", re.DOTALL)


@dataclass(frozen=True, repr=False)
class SigningKey:
    """What STS knows about one access key: its secret, its session token (temporary keys) and expiry."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None
    expires_at: float | None  # epoch seconds; None for a long-term key

    def __repr__(self) -> str:
        return f"SigningKey({self.access_key_id!r}, session={self.session_token is not None})"


@dataclass(frozen=True)
class SignedRequest:
    """What the verifier needs of an HTTP request (the raw parts, as received)."""

    method: str
    url: str  # scheme://host/path?query exactly as received
    headers: Sequence[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


@cache
def _verifier_class() -> Any:
    """botocore's signer, told which headers the client signed instead of choosing them itself (botocore is
    imported on the first signed request, not when the lab starts)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import HTTPHeaders
    from botocore.credentials import Credentials

    class Verifier(SigV4Auth):
        def __init__(self, key: SigningKey, region: str, signed: list[str], service: str) -> None:
            super().__init__(Credentials(key.access_key_id, key.secret_access_key, key.session_token), service,
                             region)
            self._signed = signed

        def headers_to_sign(self, request: Any) -> Any:
            chosen = HTTPHeaders()
            for name, value in request.headers.items():
                if name.lower() in self._signed:
                    chosen[name.lower()] = value
            return chosen

    return Verifier


def _parse(authorization: str) -> dict[str, str]:
    match = _AUTH.match(authorization.strip())
    if not match:
        raise errors.IncompleteSignature(
            f"Authorization header requires existence of the {ALGORITHM} algorithm with 'Credential', "
            f"'SignedHeaders' and 'Signature' parameters. Authorization={authorization[:200]}")
    params: dict[str, str] = {}
    for part in match.group("params").split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            params[name] = value
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not params.get(name)]
    if missing:
        raise errors.IncompleteSignature(
            " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
            + f" Authorization={authorization[:200]}")
    return params


def _timestamp(request: SignedRequest, now: datetime) -> str:
    stamp = request.header("x-amz-date")
    if not stamp:
        raise errors.IncompleteSignature("Authorization header requires existence of either a 'X-Amz-Date' or a "
                                         "'Date' header.")
    try:
        when = datetime.strptime(stamp, AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise errors.IncompleteSignature(f"Date must be in ISO-8601 'basic format'. Got '{stamp[:40]}'.") from None
    fmt = now.strftime(AMZ_DATE)
    if when < now - MAX_SKEW:
        raise errors.SignatureDoesNotMatch(f"Signature expired: {stamp} is now earlier than "
                                           f"{(now - MAX_SKEW).strftime(AMZ_DATE)} ({fmt} - 15 min.)")
    if when > now + MAX_SKEW:
        raise errors.SignatureDoesNotMatch(f"Signature not yet current: {stamp} is still later than "
                                           f"{(now + MAX_SKEW).strftime(AMZ_DATE)} ({fmt} + 15 min.)")
    return stamp


def verify(request: SignedRequest, *, region: str, keys: Callable[[str], SigningKey | None],
           now: float, services: Sequence[str] = (SERVICE,)) -> tuple[SigningKey, str]:
    """The access key that signed ``request`` and the service it signed for (one of ``services``), or the
    :class:`~.errors.StsError` STS answers with."""
    authorization = request.header("authorization")
    if not authorization:
        raise errors.MissingAuthenticationToken(errors.MISSING_AUTH)
    params = _parse(authorization)
    scope = params["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise errors.IncompleteSignature(f"Credential should have exactly 5 parts separated by '/', ending in "
                                         f"'aws4_request'. Got '{params['Credential'][:200]}'.")
    access_key_id, day, scope_region, service, _ = scope
    stamp = _timestamp(request, datetime.fromtimestamp(now, UTC))
    key = keys(access_key_id)
    if key is None:
        raise errors.InvalidClientTokenId(errors.BAD_TOKEN)
    if key.session_token is not None:
        given = request.header("x-amz-security-token") or ""
        if not hmac.compare_digest(given.encode(), key.session_token.encode()):
            raise errors.InvalidClientTokenId(errors.BAD_TOKEN)
        if key.expires_at is not None and now >= key.expires_at:
            raise errors.ExpiredToken(errors.EXPIRED_TOKEN)
    if service not in services:
        raise errors.SignatureDoesNotMatch(f"Credential should be scoped to correct service: '{services[0]}'. ")
    if scope_region != region:
        raise errors.SignatureDoesNotMatch(f"Credential should be scoped to a valid region, not '{scope_region}'. ")
    if day != stamp[:8]:
        raise errors.SignatureDoesNotMatch(f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                                           f"of date from HTTP: '{day}' != '{stamp[:8]}', from '{stamp}'.")
    signed = params["SignedHeaders"].split(";")
    if "host" not in signed:
        raise errors.SignatureDoesNotMatch("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    declared = request.header("x-amz-content-sha256")
    if declared is not None and declared != hashlib.sha256(request.body).hexdigest():
        raise errors.SignatureDoesNotMatch(errors.SIGNATURE_MISMATCH)
    expected = _signature(request, key, region, signed, stamp, service)
    if not hmac.compare_digest(expected.encode(), params["Signature"].encode()):
        raise errors.SignatureDoesNotMatch(errors.SIGNATURE_MISMATCH)
    return key, service


def _signature(request: SignedRequest, key: SigningKey, region: str, signed: list[str], stamp: str,
               service: str) -> str:
    from botocore.awsrequest import AWSRequest, HTTPHeaders

    headers = HTTPHeaders()
    for name, value in request.headers:
        if name.lower() != "authorization":
            headers.add_header(name.lower(), value)
    aws = AWSRequest(method=request.method, url=request.url, headers=headers, data=request.body)
    aws.context["timestamp"] = stamp
    aws.context["payload_signing_enabled"] = True
    verifier = _verifier_class()(key, region, signed, service)
    canonical = verifier.canonical_request(aws)
    return verifier.signature(verifier.string_to_sign(aws, canonical), aws)


def sign(method: str, url: str, body: bytes, headers: Mapping[str, str], *, key: SigningKey, region: str,
         timestamp: datetime | None = None, service: str = SERVICE) -> dict[str, str]:
    """Lab helper for tests of the checks above: the headers botocore's own signer adds for ``key``."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    aws = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    signer = SigV4Auth(Credentials(key.access_key_id, key.secret_access_key, key.session_token), service, region)
    if timestamp is None:
        signer.add_auth(aws)
    else:
        aws.context["timestamp"] = timestamp.strftime(AMZ_DATE)
        signer._modify_request_before_signing(aws)
        canonical = signer.canonical_request(aws)
        signer._inject_signature_to_request(aws, signer.signature(signer.string_to_sign(aws, canonical), aws))
    return dict(aws.headers.items())
