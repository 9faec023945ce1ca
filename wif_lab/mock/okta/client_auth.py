"""Client authentication at Okta's token endpoint (OAuth 2.0 §2.3, RFC 7523 ``private_key_jwt`` and
``client_secret_jwt``).

Follows Okta's "Build a JWT for client authentication" and the token endpoint reference: exactly one
credential source (Basic header, post body, or ``client_assertion``); a ``private_key_jwt``
assertion must be signed (RS256/384/512, ES256/384/512) by a key registered on the app, a
``client_secret_jwt`` one with HS256/384/512 and the app's secret (at least 32 characters); both with
``iss`` = ``sub`` = client id, ``aud`` = the token endpoint invoked, ``exp`` at most one hour ahead,
``iat`` not in the future, and a ``jti`` that is single-use when present.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from jwt.exceptions import InvalidSignatureError, PyJWTError
from jwt.warnings import InsecureKeyLengthWarning

from ...jose import Compact, MalformedJWT, numeric_date, parse_compact, verify_signature
from ..jwk_keys import key_from_jwk
from ..replay import ReplayLedger
from . import errors as E
from .console import ASSERTION_ALGS, HMAC_ASSERTION_ALGS, MIN_HMAC_SECRET, SECRET_METHODS, ServiceApp

JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Okta verifies HS384/HS512 assertions with its 40-character secrets; pyjwt would warn on every one.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning, module=__name__)
MAX_ASSERTION_LIFETIME = 3600  # exp may be at most one hour after the request
IAT_SKEW = 60  # [inferred] a small forward iat skew is tolerated; the exact leeway is undocumented


@dataclass(frozen=True)
class Authenticated:
    app: ServiceApp
    method: str  # client_secret_basic | client_secret_post | client_secret_jwt | private_key_jwt


class AssertionLedger:
    """The ``jti`` values already used per client, kept until their assertion expires."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._ledger = ReplayLedger()

    def use(self, client_id: str, jti: str, exp: float) -> bool:
        """Record ``jti``; False when it was used before."""
        return self._ledger.use((client_id, jti), exp, self._clock())


def authenticate(
    apps: Mapping[str, ServiceApp],
    headers: Mapping[str, str],
    form: Mapping[str, str],
    query: Mapping[str, str],
    *,
    token_endpoint: str,
    now: float,
    ledger: AssertionLedger,
) -> Authenticated:
    """Identify and authenticate the calling app, or raise Okta's error for the first problem."""
    if any(name in query for name in ("client_id", "client_secret", "client_assertion")):
        raise E.credentials_in_query()
    authorization = headers.get("authorization")
    has_assertion = "client_assertion" in form
    has_secret = "client_secret" in form
    body_id_only = "client_id" in form and not has_secret and not has_assertion
    sources = sum([authorization is not None, has_secret or body_id_only, has_assertion])
    if sources > 1 or (has_assertion and has_secret):
        raise E.multiple_credentials()
    if authorization is not None:
        client_id, secret = _basic(authorization)
        return _secret_auth(apps, client_id, secret, "client_secret_basic")
    if has_secret:
        return _secret_auth(apps, form.get("client_id", ""), form["client_secret"], "client_secret_post")
    if has_assertion:
        if form.get("client_assertion_type") != JWT_BEARER_ASSERTION:
            raise E.assertion_type_invalid()
        app = verify_assertion(
            apps, form["client_assertion"], form.get("client_id"), token_endpoint=token_endpoint, now=now, ledger=ledger
        )
        return Authenticated(app, app.token_endpoint_auth_method)
    if body_id_only:
        # A public-client request (method "none"); service apps always authenticate.
        raise E.client_auth_failed()
    raise E.no_credentials()


def _basic(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise E.bad_basic_header()
    try:  # ValueError also covers a value with non-ASCII characters, which b64decode refuses
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise E.bad_basic_header() from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        raise E.bad_basic_header()
    # RFC 6749 §2.3.1: both parts are form-urlencoded before joining.
    return unquote_plus(client_id), unquote_plus(secret)


def _secret_auth(apps: Mapping[str, ServiceApp], client_id: str, secret: str, method: str) -> Authenticated:
    app = apps.get(client_id)
    if app is None or app.token_endpoint_auth_method not in SECRET_METHODS or app.client_secret is None:
        raise E.client_auth_failed()
    # [inferred] Okta treats client_secret_basic and client_secret_post as interchangeable for an app.
    if not hmac.compare_digest(secret.encode(), app.client_secret.encode()):
        raise E.bad_client_secret()
    return Authenticated(app, method)


def verify_assertion(
    apps: Mapping[str, ServiceApp],
    assertion: str,
    body_client_id: str | None,
    *,
    token_endpoint: str,
    now: float,
    ledger: AssertionLedger,
) -> ServiceApp:
    """Check a ``private_key_jwt`` or ``client_secret_jwt`` assertion the way Okta does; return its app."""
    try:
        parsed = parse_compact(assertion)
    except MalformedJWT:
        raise E.assertion(E.ASSERTION_PARSE) from None
    header, claims = parsed.header, parsed.claims
    alg = header.get("alg")
    if alg not in (*ASSERTION_ALGS, *HMAC_ASSERTION_ALGS):  # "none" is never accepted
        raise E.assertion(E.ASSERTION_ALG)
    client_id = body_client_id or claims.get("iss")
    app = apps.get(client_id) if isinstance(client_id, str) else None
    if claims.get("iss") != client_id or app is None:
        raise E.assertion(E.ASSERTION_ISS)
    if claims.get("sub") != client_id:
        raise E.assertion(E.ASSERTION_SUB)
    if app.token_endpoint_auth_method == "private_key_jwt":
        if alg not in ASSERTION_ALGS:
            raise E.assertion(E.ASSERTION_ALG)
        _check_signature(parsed, _registered_key(app, header.get("kid")), alg)
    elif app.token_endpoint_auth_method == "client_secret_jwt":
        if alg not in HMAC_ASSERTION_ALGS:
            raise E.assertion(E.ASSERTION_ALG)
        _check_hmac(parsed, app.client_secret or "", alg)
    else:
        raise E.client_auth_failed()
    aud = claims.get("aud")
    if not (aud == token_endpoint or (isinstance(aud, list) and token_endpoint in aud)):
        raise E.assertion(E.ASSERTION_AUD)
    exp = numeric_date(claims.get("exp"))
    if exp is None:  # missing, not a number, or not a date (NaN and 1e309 never get this far)
        raise E.assertion(E.ASSERTION_EXP_MISSING)
    if exp <= now:
        raise E.assertion(E.ASSERTION_EXPIRED)
    if exp > now + MAX_ASSERTION_LIFETIME:
        raise E.assertion(E.ASSERTION_EXP_TOO_FAR)
    iat = claims.get("iat")
    if iat is not None and ((date := numeric_date(iat)) is None or date > now + IAT_SKEW):
        raise E.assertion(E.ASSERTION_IAT_FUTURE)
    jti = claims.get("jti")
    if jti is not None and not ledger.use(app.client_id, str(jti), float(exp)):
        raise E.assertion(E.ASSERTION_REPLAYED)
    return app


def _registered_key(app: ServiceApp, kid: Any) -> dict[str, Any]:
    if not app.jwks:
        raise E.assertion(E.ASSERTION_NO_JWKS)
    if kid is None:
        # Without a kid, only an app with exactly one key can tell which key to use.
        if len(app.jwks) != 1:
            raise E.assertion(E.ASSERTION_KID)
        jwk = app.jwks[0]
    else:
        jwk = next((k for k in app.jwks if k.get("kid") == kid), None)
        if jwk is None:
            raise E.assertion(E.ASSERTION_KID)
    if jwk.get("use", "sig") != "sig":
        raise E.assertion(E.ASSERTION_KEY_USE)
    return jwk


def _check_hmac(parsed: Compact, secret: str, alg: str) -> None:
    if len(secret) < MIN_HMAC_SECRET:
        raise E.assertion(E.ASSERTION_SECRET_TOO_SHORT)
    try:
        verify_signature(parsed, secret.encode(), alg)
    except InvalidSignatureError:
        raise E.assertion(E.ASSERTION_SIGNATURE) from None
    except PyJWTError:
        raise E.assertion(E.ASSERTION_PARSE) from None


def _check_signature(parsed: Compact, jwk: dict[str, Any], alg: str) -> None:
    family = "RSA" if alg.startswith("RS") else "EC"
    if jwk.get("kty") != family:
        raise E.assertion(E.ASSERTION_SIGNATURE)
    try:
        key = key_from_jwk({k: v for k, v in jwk.items() if k != "alg"}, alg)
        verify_signature(parsed, key, alg)
    except InvalidSignatureError:
        raise E.assertion(E.ASSERTION_SIGNATURE) from None
    except PyJWTError:
        raise E.assertion(E.ASSERTION_PARSE) from None
