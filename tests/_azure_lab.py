"""Helpers shared by the Azure managed-identity tests: an in-process Entra + IMDS pair (and the hosting
services' identity endpoint) on a settable clock, and token verification the way a relying party does it
(discovery → JWKS → signature)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx
import jwt

from wif_lab.mock.app_service_identity import AppServiceIdentityMock
from wif_lab.mock.azure_imds import ImdsMock
from wif_lab.mock.base import LabContext
from wif_lab.mock.entra import EntraMock
from wif_lab.mock.keys import KeyStore
from wif_lab.mock.registry import default_specs
from wif_lab.mock.tls import ensure_lab_tls

START = 1_800_000_000.0
ENTRA_BASE = "https://entra.test"


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


_KEYSTORES: dict[Path, KeyStore] = {}


def azure_context(state_dir: Path, clock: FakeClock | None = None, seed: int = 20260617) -> LabContext:
    """A context for in-process tests; keys and CA are cached under ``state_dir`` (and in memory)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    keys = _KEYSTORES.setdefault(state_dir, KeyStore(state_dir))
    return LabContext(
        state_dir, keys, ensure_lab_tls(state_dir),
        {"entra": ENTRA_BASE, "imds": "http://imds.test", "app_service": "http://app-service.test"},
        clock=clock or FakeClock(), seed=seed,
    )


def build_pair(ctx: LabContext) -> tuple[EntraMock, ImdsMock]:
    entra = EntraMock(ctx)
    ctx.mocks["entra"] = entra
    imds = ImdsMock(ctx)
    ctx.mocks["imds"] = imds
    return entra, imds


def build_app_service(ctx: LabContext) -> AppServiceIdentityMock:
    """The hosting services' identity endpoint beside an Entra mock already in ``ctx.mocks``."""
    app_service = AppServiceIdentityMock(ctx)
    ctx.mocks["app_service"] = app_service
    return app_service


def azure_specs(*extra: str) -> list[Any]:
    """Only the managed-identity mocks, from the registry (Entra first: IMDS finds it in ctx.mocks)."""
    return [spec for spec in default_specs() if spec.name in ("entra", "imds", *extra)]


def verify_via_discovery(token: str, issuer: str, audience: str, ca_bundle: Path) -> dict[str, Any]:
    """Verify ``token`` as a relying party would: issuer discovery doc → jwks_uri → kid → RS256."""
    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca_bundle))) as client:
        doc = client.get(issuer.rstrip("/") + "/.well-known/openid-configuration").raise_for_status().json()
        assert doc["issuer"] == issuer
        keys = client.get(doc["jwks_uri"]).raise_for_status().json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [k for k in keys if k["kid"] == kid]
    return jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=audience, issuer=issuer,
                      options={"verify_iat": True})
