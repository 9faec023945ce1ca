"""Mock of Google's OpenID issuer as a relying party meets it: ``https://accounts.google.com``'s
discovery document and the signing keys it names, plus the minting of service-account ID tokens that
the metadata server hands out.

Follows ``shared/reference/providers.md`` §2.3: tokens are RS256 with a 40-hex ``kid``; ``iss`` is
``https://accounts.google.com``; ``sub`` and ``azp`` are the service account's numeric unique ID; with
``format=full`` they also carry ``email``, ``email_verified: true`` and the ``google.compute_engine``
object; ``exp - iat`` is 3600; there is no ``jti`` and no ``nbf``.

Lab deviation: the lab cannot answer for ``accounts.google.com`` or ``www.googleapis.com``. Tokens still
say ``iss: https://accounts.google.com`` (so Claude's rule checks, including the shared-issuer one, see
Google's real issuer), and the discovery document and JWKS are served on this mock's loopback host,
with ``jwks_uri`` pointing here instead of ``https://www.googleapis.com/oauth2/v3/certs``. The lab's
Anthropic finds them because the lab registers the issuer with ``jwks.discovery_base`` set to this
host (a documented issuer setting); a real registration uses plain ``discovery``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..base import LabContext, MockSpec
from ..keys import public_jwk
from .model import GoogleCloud, Host

ISSUER = "https://accounts.google.com"
REAL_JWKS_URI = "https://www.googleapis.com/oauth2/v3/certs"
DISCOVERY_PATH = "/.well-known/openid-configuration"
CERTS_PATH = "/oauth2/v3/certs"
TOKEN_LIFETIME = 3600
SIGNING_KEYS = ("google-1", "google-2")  # both published, the first signs (Google publishes two or three)
FORMATS = ("standard", "full")


def _kid(key: Any) -> str:
    """40 hex digits, the shape of Google's key IDs (here: SHA-1 of the public key)."""
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha1(der).hexdigest()


class GoogleAccounts:
    """Google's issuer: publishes the keys, and signs the ID tokens the metadata server hands out."""

    name = "google"

    def __init__(self, ctx: LabContext) -> None:
        self.ctx = ctx
        self.base_url = ctx.base_url(self.name)
        self.cloud = GoogleCloud(ctx.seed)
        self._keys = [ctx.keys.private_key(name) for name in SIGNING_KEYS]
        self.kid = _kid(self._keys[0])
        self.jwks_fetches = 0

    @property
    def jwks_uri(self) -> str:
        return self.base_url + CERTS_PATH

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(key, _kid(key), "RS256") for key in self._keys]}

    def discovery(self) -> dict[str, Any]:
        """Google's discovery document, with the JWKS on the lab's host (the one lab deviation)."""
        return {
            "issuer": ISSUER,
            "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
            "device_authorization_endpoint": "https://oauth2.googleapis.com/device/code",
            "token_endpoint": "https://oauth2.googleapis.com/token",
            "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
            "revocation_endpoint": "https://oauth2.googleapis.com/revoke",
            "jwks_uri": self.jwks_uri,
            "response_types_supported": ["code", "token", "id_token", "code token", "code id_token",
                                         "token id_token", "code token id_token", "none"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "email", "email_verified", "exp", "family_name", "given_name", "iat",
                                 "iss", "name", "picture", "sub"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "grant_types_supported": ["authorization_code", "refresh_token",
                                      "urn:ietf:params:oauth:grant-type:device_code",
                                      "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        }

    def claims(self, host: Host, audience: str, *, full: bool, licenses: bool = False) -> dict[str, Any]:
        """The ID token's claims for ``host``'s service account, in Google's member order."""
        now = int(self.ctx.clock())
        account = host.service_account
        claims: dict[str, Any] = {"aud": audience, "azp": account.unique_id}
        if full:
            claims |= {"email": account.email, "email_verified": True}
        claims["exp"] = now + TOKEN_LIFETIME
        if full:
            vm = host.instance
            engine: dict[str, Any] = {
                "instance_creation_timestamp": vm.creation_timestamp, "instance_id": vm.instance_id,
                "instance_name": vm.name, "project_id": vm.project.project_id,
                "project_number": vm.project.project_number, "zone": vm.zone,
            }
            if licenses:
                engine["license_id"] = []  # the lab's images carry no licences
            claims["google"] = {"compute_engine": engine}
        claims |= {"iat": now, "iss": ISSUER, "sub": account.unique_id}
        return claims

    def mint(self, host: Host, audience: str, *, full: bool, licenses: bool = False) -> str:
        claims = self.claims(host, audience, full=full, licenses=licenses)
        return jwt.encode(claims, self._keys[0], algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})

    # -- HTTP

    async def discovery_endpoint(self, request: Request) -> JSONResponse:
        return JSONResponse(self.discovery(), headers={"cache-control": "public, max-age=3600"})

    async def certs(self, request: Request) -> JSONResponse:
        self.jwks_fetches += 1
        return JSONResponse(self.jwks(), headers={"cache-control": "public, max-age=21600, must-revalidate, "
                                                                   "no-transform"})

    def asgi(self) -> Starlette:
        return Starlette(routes=[
            Route(DISCOVERY_PATH, self.discovery_endpoint, methods=["GET"]),
            Route(CERTS_PATH, self.certs, methods=["GET"]),
        ])

    def connection(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "issuer": ISSUER,
            "discovery_base": self.base_url,
            "discovery_url": self.base_url + DISCOVERY_PATH,
            "jwks_uri": self.jwks_uri,
            "real_jwks_uri": REAL_JWKS_URI,
        }


SPEC = MockSpec("google", "https", factory=GoogleAccounts)
