"""The ``[okta]`` part of a setup file, checked (and the public key read) before anything is sent."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from ..errors import ConfigurationError
from .config import Section, document

ANTHROPIC_AUDIENCE = "https://api.anthropic.com"


@dataclass(frozen=True)
class OktaConfig:
    source: Path
    org_url: str
    ca_bundle: Path | None
    app_label: str
    jwk: dict[str, Any]  # the public key registered on the app (kid: RFC 7638 thumbprint unless given)
    require_dpop: bool
    server_name: str
    audience: str
    server_description: str
    scope: str
    scope_description: str
    policy_name: str
    policy_description: str
    rule_name: str
    token_minutes: int


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 over the required members, sorted, no spaces (what Okta shows as a key's id)."""
    members = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({k: jwk[k] for k in members}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def public_jwk(pem_path: Path, kid: str | None, where: Section) -> dict[str, Any]:
    """The public JWK of a PEM file holding a public key or a private key (only the public half is used)."""
    try:
        data = pem_path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the key file {pem_path}: {exc.strerror or exc}",
                                 hint="public_key in [okta.app] must name a PEM file (relative to the setup file)"
                                 ) from exc
    key: Any
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"{pem_path} holds no usable PEM key ({exc})",
                                     hint="an unencrypted RSA or EC (P-256) key in PEM, e.g. from `openssl genpkey`"
                                     ) from exc
    if isinstance(key, rsa.RSAPublicKey):
        jwk = json.loads(RSAAlgorithm.to_jwk(key))
        jwk["alg"] = "RS256"
    elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        jwk = json.loads(ECAlgorithm.to_jwk(key))
        jwk["alg"] = "ES256"
    else:
        raise where.fail("public_key", "an RSA or P-256 EC key (what Okta accepts for private_key_jwt)",
                         str(pem_path))
    jwk.update({"kid": kid or thumbprint(jwk), "use": "sig"})
    return jwk


def load_okta(path: str | Path) -> OktaConfig:
    top = document(path, "okta")
    org_url = top.text("org_url").rstrip("/")
    if not org_url.startswith("https://") or "/oauth2" in org_url:
        raise top.fail("org_url", "the org's https:// URL without a path (https://acme.okta.com)", org_url)
    ca = top.path("ca_bundle", None)

    app = top.table("app")
    assert app is not None
    label = app.text("label")
    key_file = app.path("public_key")
    jwk = public_jwk(key_file, app.text("key_id", None), app)
    require_dpop = app.flag("require_dpop")
    app.done()

    server = top.table("authorization_server")
    assert server is not None
    server_name = server.text("name")
    audience = server.text("audience", ANTHROPIC_AUDIENCE)
    server_description = server.text("description", "Tokens for Workload Identity Federation to the Claude API")
    server.done()

    scope = top.table("scope")
    assert scope is not None
    scope_name = scope.value("name", lambda v: isinstance(v, str) and bool(v) and " " not in v,
                             "a scope name without spaces")
    scope_description = scope.text("description", "Exchange for Claude API access")
    scope.done()

    policy = top.table("policy")
    assert policy is not None
    policy_name = policy.text("name")
    policy_description = policy.text("description", "Workloads that call the Claude API")
    rule = policy.table("rule")
    assert rule is not None
    rule_name = rule.text("name")
    minutes = rule.integer("access_token_lifetime_minutes", 60, low=5, high=1440)
    rule.done()
    policy.done()
    top.done()
    return OktaConfig(top.source, org_url, ca, label, jwk, require_dpop, server_name, audience, server_description,
                      scope_name, scope_description, policy_name, policy_description, rule_name, minutes)
