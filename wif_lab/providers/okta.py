"""Workload side of Okta: get an access token from a custom authorization server with client_credentials.

As the Claude docs' Okta guide does it: ``POST <issuer>/v1/token`` form-encoded with
``grant_type=client_credentials``, ``scope`` and client authentication, normally ``private_key_jwt``
(an RFC 7523 client assertion signed with the workload's key: ``iss`` = ``sub`` = client id,
``aud`` = the token endpoint, a fresh ``jti``, a short ``exp``). Client secrets (Basic header or
post body) work too. For apps that require DPoP, pass ``dpop_key`` and a proof (RFC 9449) is sent,
with the one nonce round trip Okta asks for.

Okta does not place a token inside the workload's runtime, so the workload calls Okta itself;
:func:`okta_token_provider` turns that call into the ``identity_token_provider`` the Anthropic SDK
expects.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from .. import http
from ..errors import ConfigurationError, ProviderError
from ..http import Verify
from ..oauth import CLIENT_ASSERTION_TYPE
from ..redact import Secret, redact, redact_text, secret
from ..tokens import jwk_thumbprint

DEFAULT_SCOPE = "anthropic.access"
# Okta refuses an assertion whose exp is more than one hour ahead; a few minutes also survives clock skew.
ASSERTION_LIFETIME = 300
DEFAULT_TIMEOUT = 10.0
AUTH_METHODS = ("private_key_jwt", "client_secret_jwt", "client_secret_basic", "client_secret_post")
ASSERTION_METHODS = ("private_key_jwt", "client_secret_jwt")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True, repr=False)
class OktaToken:
    """Okta's token response; the access token never shows in repr or str."""

    access_token: Secret
    token_type: str
    expires_in: int
    scope: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "access_token", Secret(self.access_token))

    def claims(self) -> dict[str, Any]:
        """The access token's claims, *unverified* (for display; verifying is the relying party's job)."""
        return jwt.decode(self.access_token, options={"verify_signature": False})

    def __repr__(self) -> str:
        return (
            f"OktaToken(token_type={self.token_type!r}, expires_in={self.expires_in}, scope={self.scope!r}, "
            f"access_token={redact(self.access_token, short=True)!r})"
        )

    __str__ = __repr__


# --- building blocks -------------------------------------------------------------------------------


def load_private_key(value: PrivateKey | str | bytes | Path) -> PrivateKey:
    """A private key from a key object, PEM text/bytes, or the path of a PEM file."""
    if isinstance(value, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return value
    if isinstance(value, str) and "-----BEGIN" in value:
        pem = value.encode()
    elif isinstance(value, bytes):
        pem = value
    else:
        path = Path(value).expanduser()
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the private key file {path}: {exc.strerror}",
                hint="the connection file's okta.private_key, or the PEM whose public half is registered on the app",
            ) from exc
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            "the private key is not an unencrypted PEM private key",
            hint="export it as PKCS#8 PEM without a passphrase (-----BEGIN PRIVATE KEY-----)",
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigurationError("Okta accepts RSA or EC keys for private_key_jwt", hint="generate an RSA-2048 key")
    return key


def signing_algorithm(key: PrivateKey) -> str:
    """RS256 for RSA keys; ES256/384/512 by curve for EC keys (the algorithms Okta accepts)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    return {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}[key.curve.name]


def build_client_assertion(
    client_id: str,
    token_endpoint: str,
    private_key: PrivateKey | str,
    *,
    key_id: str | None = None,
    lifetime: int = ASSERTION_LIFETIME,
    now: float | None = None,
) -> Secret:
    """An RFC 7523 client assertion for Okta: single-use (fresh ``jti``) and short-lived.

    ``private_key`` signs it (``private_key_jwt``); a client secret string HMAC-signs it with HS256
    instead (``client_secret_jwt``, which Okta accepts only for secrets of 32 characters or more).
    """
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": str(uuid.uuid4()),
    }
    headers = {"kid": key_id} if key_id else None
    if isinstance(private_key, str):
        return Secret(jwt.encode(claims, private_key.encode(), algorithm="HS256"))
    return Secret(jwt.encode(claims, private_key, algorithm=signing_algorithm(private_key), headers=headers))


def public_jwk(key: PrivateKey) -> dict[str, Any]:
    """The public JWK of ``key`` (what a DPoP proof carries, and what you register on the Okta app)."""
    pub = key.public_key()
    jwk = json.loads(RSAAlgorithm.to_jwk(pub) if isinstance(pub, rsa.RSAPublicKey) else ECAlgorithm.to_jwk(pub))
    jwk.pop("key_ops", None)
    return jwk


def new_dpop_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key for DPoP proofs. Keep it as long as the client: its tokens are bound to it."""
    return ec.generate_private_key(ec.SECP256R1())


def build_dpop_proof(
    key: PrivateKey, url: str, *, method: str = "POST", nonce: str | None = None, now: float | None = None
) -> Secret:
    """A DPoP proof JWT (RFC 9449 §4.2) for one request: ``typ: dpop+jwt``, the public ``jwk``, fresh ``jti``."""
    claims: dict[str, Any] = {
        "htm": method,
        "htu": url,
        "iat": int(time.time() if now is None else now),
        "jti": str(uuid.uuid4()),
    }
    if nonce:
        claims["nonce"] = nonce
    headers = {"typ": "dpop+jwt", "jwk": public_jwk(key)}
    return Secret(jwt.encode(claims, key, algorithm=signing_algorithm(key), headers=headers))


# --- what to check next, per Okta error --------------------------------------------------------------

_ASSERTION_HINTS = {
    "audience claim": "the assertion's aud must be exactly the token endpoint you call: {token_endpoint} "
    "(not the issuer, not the org URL)",
    "kid is invalid": "the kid header ({key_id}) must equal the kid of a public key registered on the app "
    "(app → General → Client Credentials → Public keys)",
    "signature is invalid": "the private key must be the pair of the public key registered on the app under "
    "that kid (was the key regenerated?); for client_secret_jwt, the app's current client secret",
    "signature algorithm": "match the app's client authentication: RS256/384/512 or ES256/384/512 with a private "
    "key (private_key_jwt), HS256/384/512 with the client secret (client_secret_jwt)",
    "too short to verify a JWT HMAC": "client_secret_jwt needs a client secret of at least 32 characters: "
    "regenerate the app's secret, or switch the app to private_key_jwt",
    "issuer claim": "iss and sub must both be the app's client ID ({client_id}), an app in this Okta org",
    "subject claim": "iss and sub must both be the app's client ID ({client_id})",
    "already been used": "build a new assertion (fresh jti) for every token request; never replay one",
    "expired": "this host's clock, and build the assertion right before the request",
    "too far into the future": "keep the assertion short-lived (Okta refuses exp more than 1 hour ahead; "
    "5 minutes leaves room for clock skew) and check this host's clock",
    "issued before the current time": "this host's clock: the assertion's iat is in the future",
    "'exp' claim": "the assertion needs an exp claim (seconds since epoch)",
    "parsing": "client_assertion must be a compact signed JWT",
    "JWKSet": "register the workload's public key on the app (Client Credentials → Public keys)",
    "client secret supplied": "the app's client secret (app → General → Client Credentials): copy it again",
    "No client credentials": "send a client_assertion (private_key_jwt) or the client secret",
    "Org Authorization Server": "the org server takes private_key_jwt only; use a custom authorization server "
    "(<org>/oauth2/<id>) for tokens you federate",
}

_ERROR_HINTS = {
    "invalid_client": "the client ID ({client_id}) exists in this Okta org and the app's client authentication "
    "(public key / client secret) matches what is sent ({auth_method})",
    "invalid_scope": "the scope ({scope}) exists on this authorization server (Security → API → "
    "Authorization Servers → Scopes) and is requested with scope=…",
    "access_denied": "an access policy on this authorization server is assigned to this app and has a rule "
    "allowing grant type Client Credentials and every requested scope ({scope}) (Access Policies tab)",
    "invalid_dpop_proof": "the app requires DPoP: untick \"Require Demonstrating Proof of Possession (DPoP) "
    "header in token requests\" on the app, or pass dpop_key= so a proof is sent",
    "use_dpop_nonce": "retry with the nonce from the dpop-nonce response header (OktaClient does when "
    "dpop_key is set)",
    "unauthorized_client": "enable the Client Credentials grant on the app and send grant_type=client_credentials",
    "unsupported_grant_type": "send grant_type=client_credentials",
    "consent_required": "grant the Okta API scope to the app (Okta API Scopes tab); org-server tokens cannot "
    "be federated anyway",
    "E0000007": "the authorization server id in the issuer URL ({issuer}); the issuer must be "
    "<org>/oauth2/<id> with an id listed under Security → API → Authorization Servers",
    "E0000047": "Okta's rate limit: wait for X-Rate-Limit-Reset and retry",
}


def _hint(error: str | None, description: str, context: Mapping[str, str], status: int) -> str:
    text = description or ""
    if error == "invalid_client":
        for fragment, hint in _ASSERTION_HINTS.items():
            if fragment in text:
                return hint.format(**context)
    if error == "invalid_request":
        if "multiple client credentials" in text:
            return "send exactly one credential: a Basic header, client_secret in the body, or a client_assertion"
        if "client_assertion_type" in text:
            return f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}"
        if "grant_type" in text:
            return "send grant_type=client_credentials"
        if "query parameters" in text:
            return "send credentials in the form body (POST), never in the URL"
        return "the form fields of the token request"
    if error == "invalid_scope" and "'openid'" in text:
        return "client_credentials cannot request openid/profile/email…; request your custom scope only"
    if error == "invalid_scope" and "default scopes" in text:
        return "pass scope=… (e.g. anthropic.access): this authorization server has no default scope"
    if error in _ERROR_HINTS:
        return _ERROR_HINTS[error].format(**context)
    if status == 429:
        return _ERROR_HINTS["E0000047"]
    if status >= 500:
        return "Okta had a problem; retry with backoff"
    return "the Okta System Log entry for this request (Reports → System Log)"


def refusal(response: httpx.Response, context: Mapping[str, str]) -> ProviderError:
    """One :class:`ProviderError` from any refusal: OAuth shape or Okta's management-API shape."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error: str | None = None
    description = ""
    if isinstance(body, dict) and "error" in body:
        error = str(body["error"])
        description = str(body.get("error_description") or "")
    elif isinstance(body, dict) and "errorCode" in body:
        error = str(body["errorCode"])
        description = str(body.get("errorSummary") or "")
    summary = f"{error}: {description}" if error else redact_text(response.text[:200]) or response.reason_phrase
    return ProviderError(
        f"Okta refused the token request ({response.status_code} {summary})",
        status=response.status_code,
        error=error,
        description=description or None,
        hint=_hint(error, description, context, response.status_code),
    )


# --- the client ------------------------------------------------------------------------------------------


class OktaClient:
    """Requests client_credentials access tokens from one Okta authorization server for one app."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        *,
        private_key: PrivateKey | str | bytes | Path | None = None,
        key_id: str | None = None,
        client_secret: str | None = None,
        auth_method: str | None = None,
        scope: str = DEFAULT_SCOPE,
        token_endpoint: str | None = None,
        verify: Verify = True,
        timeout: float = DEFAULT_TIMEOUT,
        assertion_lifetime: int = ASSERTION_LIFETIME,
        dpop_key: PrivateKey | str | bytes | Path | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not issuer or not client_id:
            raise ConfigurationError("issuer and client_id are required",
                                     hint="the Okta issuer https://<domain>/oauth2/<id> and the app's client ID")
        method = auth_method or ("private_key_jwt" if private_key is not None else "client_secret_basic")
        if method not in AUTH_METHODS:
            raise ConfigurationError(f"unknown auth_method {method!r}", hint=f"one of {', '.join(AUTH_METHODS)}")
        if method == "private_key_jwt" and private_key is None:
            raise ConfigurationError("private_key_jwt needs the workload's private key",
                                     hint="pass private_key=<PEM path> (and key_id=<kid registered on the app>)")
        if method != "private_key_jwt" and not client_secret:
            raise ConfigurationError(f"{method} needs the app's client secret", hint="pass client_secret=…")
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.auth_method = method
        self.key_id = key_id
        self.scope = scope
        self.token_endpoint = token_endpoint or f"{self.issuer}/v1/token"
        self.assertion_lifetime = assertion_lifetime
        # Keys are parsed once: re-reading a PEM per request costs more than the request itself.
        self._private_key = load_private_key(private_key) if private_key is not None else None
        self._client_secret = secret(client_secret)
        self._dpop_key = load_private_key(dpop_key) if dpop_key is not None else None
        self._dpop_nonce: str | None = None
        self.timeout = timeout  # the overall deadline of each token request
        self._http = http.client(verify, deadline=timeout, transport=transport)

    @classmethod
    def from_connection(
        cls,
        section: Mapping[str, Any],
        ca_bundle: str | Path | None = None,
        *,
        app: str | None = None,
        authorization_server: str | None = None,
        **overrides: Any,
    ) -> OktaClient:
        """A client from the connection file's ``okta`` section (``ca_bundle``: the file's ``ca_bundle``).

        ``app="second_app"`` uses the second service app; ``authorization_server="default"`` asks the
        ``default`` server instead of the lab's ``aus…`` server. ``overrides`` go to the constructor.
        """
        creds = section if app is None else section.get(app)
        if not isinstance(creds, Mapping) or "client_id" not in creds:
            raise ConfigurationError(f"no app {app!r} in the okta section of the connection file",
                                     hint="app=None (the workload app) or app='second_app'")
        issuer = section["issuer"]
        if authorization_server is not None:
            servers = section.get("authorization_servers", {})
            if authorization_server not in servers:
                raise ConfigurationError(f"no authorization server {authorization_server!r} in the connection file",
                                         hint=f"one of: {', '.join(servers)}")
            issuer = servers[authorization_server]
        kwargs: dict[str, Any] = {
            "private_key": creds["private_key"],
            "key_id": creds.get("key_id"),
            "scope": section.get("scope", DEFAULT_SCOPE),
            "verify": ca_bundle if ca_bundle is not None else True,
        }
        kwargs.update(overrides)
        return cls(kwargs.pop("issuer", issuer), creds["client_id"], **kwargs)

    @property
    def dpop_key_thumbprint(self) -> str | None:
        """The RFC 7638 thumbprint of the DPoP key: what a bound token's ``cnf.jkt`` must equal."""
        return jwk_thumbprint(public_jwk(self._dpop_key)) if self._dpop_key is not None else None

    # --- requests ----------------------------------------------------------------------------------
    def client_assertion(self) -> Secret:
        """A fresh signed client assertion for this app and token endpoint."""
        if self.auth_method not in ASSERTION_METHODS:
            raise ConfigurationError(f"this client authenticates with {self.auth_method}, not an assertion")
        signer = self._private_key if self.auth_method == "private_key_jwt" else self._client_secret
        assert signer is not None  # checked in __init__
        return build_client_assertion(self.client_id, self.token_endpoint, signer, key_id=self.key_id,
                                      lifetime=self.assertion_lifetime)

    def _request(self) -> httpx.Response:
        data = {"grant_type": "client_credentials", "scope": self.scope}
        headers = {"accept": "application/json"}
        auth: httpx.Auth | None = None
        if self.auth_method in ASSERTION_METHODS:
            data.update(client_assertion_type=CLIENT_ASSERTION_TYPE, client_assertion=self.client_assertion())
        elif self.auth_method == "client_secret_post":
            data.update(client_id=self.client_id, client_secret=self._client_secret or "")
        else:
            auth = httpx.BasicAuth(self.client_id, self._client_secret or "")
        if self._dpop_key is not None:
            headers["DPoP"] = build_dpop_proof(self._dpop_key, self.token_endpoint, nonce=self._dpop_nonce)
        with http.failures(self.token_endpoint, what="Okta", deadline=self.timeout,
                           hint="the issuer URL (https://<your Okta domain>/oauth2/<server id>), that it is reachable "
                           "from here, and the CA bundle used for TLS"):
            return self._http.post(self.token_endpoint, data=data, headers=headers, auth=auth)

    def fetch_token(self) -> OktaToken:
        """One client_credentials request (two when Okta first asks for a DPoP nonce). Never cached."""
        response = self._request()
        nonce = response.headers.get("dpop-nonce")
        if self._dpop_key is not None and nonce and _error_of(response) == "use_dpop_nonce":
            # Okta's first answer to a DPoP client: retry once with its nonce (and a fresh assertion).
            self._dpop_nonce = nonce
            response = self._request()
        if response.status_code != 200:
            raise refusal(response, self._context())
        try:
            body = response.json()
            return OktaToken(
                access_token=str(body["access_token"]),
                token_type=str(body.get("token_type", "Bearer")),
                expires_in=int(body.get("expires_in", 0)),
                scope=str(body.get("scope", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(
                f"Okta answered {response.status_code} without an access token", status=response.status_code,
                hint=f"that {self.token_endpoint} is an Okta token endpoint (issuer + /v1/token)",
            ) from exc

    def _context(self) -> dict[str, str]:
        return {
            "token_endpoint": self.token_endpoint,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "key_id": self.key_id or "none sent",
            "auth_method": self.auth_method,
            "scope": self.scope,
        }

    def token_provider(self) -> OktaTokenProvider:
        return OktaTokenProvider(self)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OktaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"OktaClient(issuer={self.issuer!r}, client_id={self.client_id!r}, auth_method={self.auth_method!r}, "
                f"scope={self.scope!r})")


def _error_of(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


class OktaTokenProvider:
    """An ``identity_token_provider`` for the Anthropic SDK: a *fresh* Okta access token per call.

    No caching, on purpose. The SDK calls the provider only when its own Claude API token needs
    (re)minting, and each Okta access token carries a unique ``jti``: Anthropic treats a second
    exchange of the same token as a replay, and an older token may have expired. ``calls`` counts
    the fetches, so a notebook can show that each exchange got its own token.
    """

    def __init__(self, client: OktaClient) -> None:
        self.client = client
        self.calls = 0
        self.last: OktaToken | None = None

    def __call__(self) -> Secret:
        token = self.client.fetch_token()
        self.calls += 1
        self.last = token
        return token.access_token

    def __repr__(self) -> str:
        return f"OktaTokenProvider({self.client!r}, calls={self.calls})"


def okta_token_provider(client: OktaClient) -> Callable[[], str]:
    """The ``identity_token_provider`` to hand the Anthropic SDK: every call fetches a new Okta token.

    Deliberately no cache: the SDK calls it only when its own Claude API token must be minted or
    refreshed, so each call is an exchange, and Anthropic refuses an Okta token whose ``jti`` it has
    already seen (or that has expired meanwhile). See :class:`OktaTokenProvider`.
    """
    return OktaTokenProvider(client)
