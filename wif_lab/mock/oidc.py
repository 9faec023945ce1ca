"""A generic OIDC test issuer: discovery, JWKS, and a lab-only way to mint tokens with chosen claims.

It stands in for "any OIDC provider" so the exchange can be tested end to end before (and apart
from) the provider-specific mocks. Discovery follows OpenID Connect Discovery 1.0 §4; the JWKS
follows RFC 7517. ``POST /lab/mint`` exists only in the lab: a real issuer decides claims itself.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .base import LabContext, MockSpec
from .inbound import Rejected, json_object
from .keys import public_jwk

DEFAULT_AUDIENCE = "https://api.anthropic.com"
MINT_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256")  # what its two keys can sign
MINT_LIFETIME = (-604_800, 604_800)  # a week either way: negative lifetimes make expired tokens on purpose


def _bad_request(description: str) -> JSONResponse:
    return JSONResponse({"error": "invalid_request", "error_description": description}, status_code=400)


class OidcIssuer:
    name = "oidc"

    def __init__(self, ctx: LabContext) -> None:
        self.ctx = ctx
        self.issuer = ctx.base_url(self.name)
        self._lock = threading.Lock()
        self._generation = 1
        self._keys = {"rsa": self._key_name(1), "ec": "oidc-ec-1"}
        ctx.keys.private_key(self._keys["rsa"])
        ctx.keys.private_key(self._keys["ec"], "ec")
        self.fetches = 0  # how often the JWKS was served (the exchange caches it)

    def _key_name(self, generation: int) -> str:
        return f"oidc-rsa-{generation}"

    @property
    def kid(self) -> str:
        return self._keys["rsa"]

    def rotate(self) -> str:
        """Publish a new RSA signing key (the old one stays published) and sign with it from now on."""
        with self._lock:
            self._generation += 1
            self._keys["rsa"] = self._key_name(self._generation)
            self.ctx.keys.private_key(self._keys["rsa"])
            return self._keys["rsa"]

    def jwks(self) -> dict[str, Any]:
        keys = [
            public_jwk(self.ctx.keys.private_key(self._key_name(g)), self._key_name(g))
            for g in range(1, self._generation + 1)
        ]
        keys.append(public_jwk(self.ctx.keys.private_key(self._keys["ec"], "ec"), self._keys["ec"]))
        return {"keys": keys}

    def mint(
        self,
        claims: dict[str, Any] | None = None,
        *,
        lifetime: int = 300,
        alg: str = "RS256",
        kid: str | None = None,
        headers: dict[str, Any] | None = None,
        omit: tuple[str, ...] = (),
    ) -> str:
        """Sign a token from this issuer; defaults give a valid, short-lived, single-use token.

        ``claims`` override the defaults; ``omit`` drops default claims (to build bad tokens).
        """
        now = int(self.ctx.clock())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "lab-workload",
            "aud": DEFAULT_AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
        }
        body.update(claims or {})
        for name in omit:
            body.pop(name, None)
        if alg.startswith("ES"):
            key, default_kid = self.ctx.keys.private_key(self._keys["ec"], "ec"), self._keys["ec"]
        else:
            key, default_kid = self.ctx.keys.private_key(self._keys["rsa"]), self._keys["rsa"]
        hdr = {"kid": kid or default_kid, **(headers or {})}
        return jwt.encode(body, key, algorithm=alg, headers=hdr)

    # --- HTTP ------------------------------------------------------------------------------

    async def discovery(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            }
        )

    async def jwks_endpoint(self, request: Request) -> JSONResponse:
        self.fetches += 1
        return JSONResponse(self.jwks(), headers={"cache-control": "max-age=300"})

    async def lab_mint(self, request: Request) -> JSONResponse:
        usage = "body must be {claims: {...}, lifetime: int, alg: one of " + ", ".join(MINT_ALGORITHMS) + "}"
        try:
            body = await json_object(request)
        except Rejected as exc:
            return _bad_request(f"{exc.reason}; {usage}")
        claims = body.get("claims") or {}
        lifetime = body.get("lifetime", 300)
        alg = body.get("alg", "RS256")
        low, high = MINT_LIFETIME
        if not isinstance(claims, dict) or type(lifetime) is not int or not low <= lifetime <= high \
                or alg not in MINT_ALGORITHMS:
            return _bad_request(f"{usage}; lifetime from {low} to {high} seconds")
        token = self.mint(claims, lifetime=lifetime, alg=alg)
        return JSONResponse({"token": token, "token_id": secrets.token_hex(4)})

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery, methods=["GET"]),
                Route("/jwks", self.jwks_endpoint, methods=["GET"]),
                Route("/lab/mint", self.lab_mint, methods=["POST"]),
            ]
        )

    def connection(self) -> dict[str, Any]:
        return {
            "base_url": self.issuer,  # the issuer is the host itself
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/jwks",
            "mint_url": f"{self.issuer}/lab/mint",
            "audience": DEFAULT_AUDIENCE,
        }


SPEC = MockSpec("oidc", "https", factory=OidcIssuer)
