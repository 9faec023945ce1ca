"""Entra's own signing keys (RSA keys with self-signed certificates, ``kid == x5t``) and the issuer
facts published with them: ``iss``, the JWKS and the OpenID discovery documents.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ..base import LabContext, seeded_guid
from .tenant import MULTI_TENANT_ALIASES

SIGNING_KEYS = ("entra-1", "entra-2")  # both published; the first signs (Entra publishes spares)
CLOUD_INSTANCE = "microsoftonline.com"


@dataclass(frozen=True)
class SigningKey:
    """An RSA key with the self-signed certificate Entra publishes for it."""

    private_key: rsa.RSAPrivateKey
    cert_der: bytes

    @property
    def kid(self) -> str:
        """``kid`` and ``x5t``: the base64url SHA-1 thumbprint of the certificate."""
        return base64.urlsafe_b64encode(hashlib.sha1(self.cert_der).digest()).rstrip(b"=").decode()

    def jwk(self, issuer: str | None) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        entry: dict[str, Any] = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
            "x5c": [base64.b64encode(self.cert_der).decode()],
        }
        if issuer is not None:  # the v2.0 keys carry these two members, the v1 keys do not
            entry["cloud_instance_name"] = CLOUD_INSTANCE
            entry["issuer"] = issuer
        return entry


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _self_signed(key: rsa.RSAPrivateKey, serial: int) -> bytes:
    """Entra's key certificates: self-signed, CN=accounts.accesscontrol.windows.net. Fixed dates and
    serial make the DER (and so the kid) a pure function of the key."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.accesscontrol.windows.net")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)



class IssuerFacts:
    """What the tenant publishes about itself as an issuer, mixed into :class:`EntraMock`."""

    ctx: LabContext
    base_url: str
    tenant_id: str
    _keys: list[SigningKey]

    def _signing_key(self, name: str) -> SigningKey:
        key = self.ctx.keys.private_key(name)
        assert isinstance(key, rsa.RSAPrivateKey)
        serial = uuid.UUID(seeded_guid(self.ctx.seed, f"cert:{name}")).int >> 1  # positive, < 2**159
        return SigningKey(key, _self_signed(key, serial))


    def issuer(self, version: int = 2) -> str:
        """The ``iss`` of this tenant's tokens: ``<base>/<tid>/v2.0`` (v2) or ``<base>/<tid>/`` (v1)."""
        root = f"{self.base_url}/{self.tenant_id}"
        return f"{root}/v2.0" if version == 2 else f"{root}/"

    @property
    def kid(self) -> str:
        return self._keys[0].kid

    def jwks(self, version: int = 2) -> dict[str, Any]:
        template = f"{self.base_url}/{{tenantid}}/v2.0" if version == 2 else None
        return {"keys": [key.jwk(template) for key in self._keys]}

    def discovery(self, version: int = 2, tenant_segment: str | None = None) -> dict[str, Any]:
        """The OpenID configuration for the tenant (or the ``{tenantid}`` template for common)."""
        t = tenant_segment or self.tenant_id
        iss_tid = "{tenantid}" if t in MULTI_TENANT_ALIASES else self.tenant_id
        base = f"{self.base_url}/{t}"
        if version == 2:
            return {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                          "client_secret_basic"],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{self.base_url}/{iss_tid}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                                     "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat",
                                     "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
                                     "at_hash", "c_hash", "email"],
                "kerberos_endpoint": f"{base}/kerberos",
                "tenant_region_scope": "WW",
                "cloud_instance_name": CLOUD_INSTANCE,
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            }
        return {
            "token_endpoint": f"{base}/oauth2/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "scopes_supported": ["openid"],
            "issuer": f"{self.base_url}/{iss_tid}/",
            "microsoft_multi_refresh_token": True,
            "authorization_endpoint": f"{base}/oauth2/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/logout",
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                                 "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time",
                                 "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"],
            "check_session_iframe": f"{base}/oauth2/checksession",
            "userinfo_endpoint": f"{base}/openid/userinfo",
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "WW",
            "cloud_instance_name": CLOUD_INSTANCE,
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
