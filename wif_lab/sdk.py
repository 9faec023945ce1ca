"""The official ``anthropic`` client on ``WorkloadIdentityCredentials``.

The SDK owns caching and refresh: it calls the identity-token provider for a *fresh* token each
time its own access token needs replacing, exchanges it, and retries once on a 401. We only build
the client so that both the exchange and the API calls trust the right CA.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anthropic
import httpx2
from anthropic.lib.credentials import StaticToken, WorkloadIdentityCredentials

from .tokens import Verify, ssl_context

IdentityTokenProvider = Callable[[], str]


def _http_verify(verify: Verify) -> object:
    return ssl_context(verify) if isinstance(verify, str | Path) else verify


def federated_client(
    *,
    identity_token_provider: IdentityTokenProvider,
    base_url: str,
    federation_rule_id: str,
    organization_id: str,
    service_account_id: str | None = None,
    workspace_id: str | None = None,
    verify: Verify = True,
    max_retries: int = 2,
) -> anthropic.Anthropic:
    """An ``anthropic.Anthropic`` that federates: provider → jwt-bearer exchange → bearer calls."""
    v = _http_verify(verify)
    credentials = WorkloadIdentityCredentials(
        identity_token_provider=identity_token_provider,
        federation_rule_id=federation_rule_id,
        organization_id=organization_id,
        service_account_id=service_account_id,
        workspace_id=workspace_id,
        http_client=httpx2.Client(verify=v, timeout=30.0),  # type: ignore[arg-type]
    )
    return anthropic.Anthropic(
        base_url=base_url,
        credentials=credentials,
        http_client=anthropic.DefaultHttpxClient(verify=v),  # type: ignore[arg-type]
        max_retries=max_retries,
    )


def admin_client(*, base_url: str, admin_token: str, verify: Verify = True) -> anthropic.Anthropic:
    """A client for the Admin API with an ``org:admin`` OAuth bearer token (no API keys there)."""
    return anthropic.Anthropic(
        base_url=base_url,
        credentials=StaticToken(admin_token),
        http_client=anthropic.DefaultHttpxClient(verify=_http_verify(verify)),  # type: ignore[arg-type]
    )
