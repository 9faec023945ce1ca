"""The mock Anthropic API: OAuth token exchange, Admin API (federation), Messages.

Routes follow the real paths (platform.claude.com docs: wif-reference, wif-admin-api; and the
``anthropic`` 2.10 SDK's resources). Lab-only routes live under ``/lab/`` and are never used by a
real client.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..base import LabContext, MockSpec
from ..issuer_keys import IssuerKeys
from .store import Grant, Store

DEFAULT_AUDIENCE = "https://api.anthropic.com"
# Fetched key sets are kept a minute (a key used right after publication can fail until then, as the docs
# warn); an unknown kid re-fetches early at most every ten seconds per issuer.
JWKS_CACHE_SECONDS = 60.0
JWKS_REFETCH_SECONDS = 10.0
_ERROR_TYPES = {404: "not_found_error", 405: "invalid_request_error"}


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer in the API's error shape, as the real service does."""
    from .http import api_error

    assert isinstance(exc, HTTPException)
    message = "Not Found" if exc.status_code == 404 else f"Method {request.method} not allowed for this path"
    return api_error(request, exc.status_code, _ERROR_TYPES.get(exc.status_code, "api_error"), message)


class AnthropicMock:
    name = "anthropic"

    def __init__(self, ctx: LabContext, *, default_audience: str = DEFAULT_AUDIENCE) -> None:
        self.ctx = ctx
        self.base_url = ctx.base_url(self.name)
        self.default_audience = default_audience
        self.store = Store(clock=ctx.clock, seed=ctx.seed)
        self.admin_service_account = self._create_lab_admin()
        self.admin_token = self.store.mint_grant(
            Grant(self.admin_service_account["id"], None, "org:admin", expires_at=None)
        )
        self.jwks = IssuerKeys(ctx.outbound_client, time.monotonic, cache_seconds=JWKS_CACHE_SECONDS,
                               refetch_seconds=JWKS_REFETCH_SECONDS)

    def _create_lab_admin(self) -> dict[str, Any]:
        now = self.store.now_iso()
        sa = {
            "id": self.store.ids.new("svac"),
            "type": "service_account",
            "name": "lab-admin",
            "description": "The lab's administrator (stands in for a Console admin session).",
            "organization_role": "admin",
            "created_at": now,
            "updated_at": now,
            "archived_at": None,
            "archived_by_actor_id": None,
            "created_by_actor_id": None,
            "updated_by_actor_id": None,
        }
        self.store.service_accounts[sa["id"]] = sa
        return sa

    def asgi(self) -> Starlette:
        from .admin import admin_routes
        from .lab_routes import lab_routes
        from .messages import messages_routes
        from .token import token_routes

        routes: list[Route] = [*token_routes(self), *admin_routes(self), *messages_routes(self), *lab_routes(self)]
        app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
        app.state.store = self.store
        app.state.mock = self
        return app

    def connection(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "organization_id": self.store.organization_id,
            "admin_token": self.admin_token,
            "default_workspace_id": self.store.default_workspace_id,
            "default_audience": self.default_audience,
            "events_url": f"{self.base_url}/lab/events",
        }


SPEC = MockSpec("anthropic", "https", factory=AnthropicMock)
