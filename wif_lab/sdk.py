"""The official ``anthropic`` client on ``WorkloadIdentityCredentials``.

The SDK owns caching and refresh: it calls the identity-token provider for a *fresh* token each
time its own access token needs replacing, exchanges it, and retries once on a 401. We only build
its two ``httpx2`` clients (the exchange's and the API calls') so that both trust the right CA and
carry an overall deadline: the SDK's own timeouts are per read, so a server dripping one byte at a
time would otherwise hold a call for as long as it likes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
from anthropic.lib.credentials import StaticToken, WorkloadIdentityCredentials

from . import http
from .errors import ProviderUnreachable
from .http import Verify

IdentityTokenProvider = Callable[[], str]
API_DEADLINE = 120.0  # one API call, answer included (pass more for long generations, or stream)
EXCHANGE_DEADLINE = 30.0  # the jwt-bearer exchange; the SDK's own limit is 30 s per read


class DeadlineExceeded(anthropic.APITimeoutError, ProviderUnreachable):
    """An SDK request got no complete answer within its deadline.

    Still an ``anthropic.APITimeoutError``, so the SDK retries it like any timeout and existing
    ``except`` clauses keep working; also a :class:`~wif_lab.errors.WifLabError`, so it reads as one
    line naming the URL, plus what to check.
    """

    hint = ("that base_url is the Claude API and reachable from here, and that no proxy or firewall holds the "
            "connection open; a long generation needs a larger deadline= (or streaming)")

    def __init__(self, request: httpx2.Request, deadline: float) -> None:
        message = f"no complete answer from {request.method} {request.url} within the {deadline:g} s deadline"
        anthropic.APIConnectionError.__init__(self, message=message, request=request)
        self.deadline = deadline


def _http_client(verify: Verify, *, deadline: float, api: bool) -> Any:
    """The SDK's defaults for API calls (keep-alive probes, environment proxies); a plain client for the
    exchange, as the SDK builds it itself. Both with the deadline."""
    v = http.ssl_verify(verify)
    built = anthropic.DefaultHttpxClient(verify=v) if api else httpx2.Client(verify=v, timeout=deadline)
    return http.bound(built, deadline=deadline, expired=DeadlineExceeded)


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
    deadline: float = API_DEADLINE,
    exchange_deadline: float = EXCHANGE_DEADLINE,
) -> anthropic.Anthropic:
    """An ``anthropic.Anthropic`` that federates: provider → jwt-bearer exchange → bearer calls.

    ``deadline`` bounds each API request and ``exchange_deadline`` each exchange, answers included;
    the SDK retries a timed-out request ``max_retries`` times.
    """
    credentials = WorkloadIdentityCredentials(
        identity_token_provider=identity_token_provider,
        federation_rule_id=federation_rule_id,
        organization_id=organization_id,
        service_account_id=service_account_id,
        workspace_id=workspace_id,
        http_client=_http_client(verify, deadline=exchange_deadline, api=False),
    )
    return anthropic.Anthropic(
        base_url=base_url,
        credentials=credentials,
        http_client=_http_client(verify, deadline=deadline, api=True),
        max_retries=max_retries,
    )


def admin_client(
    *, base_url: str, admin_token: str, verify: Verify = True, deadline: float = API_DEADLINE, max_retries: int = 2
) -> anthropic.Anthropic:
    """A client for the Admin API with an ``org:admin`` OAuth bearer token (no API keys there)."""
    return anthropic.Anthropic(
        base_url=base_url,
        credentials=StaticToken(admin_token),
        http_client=_http_client(verify, deadline=deadline, api=True),
        max_retries=max_retries,
    )
