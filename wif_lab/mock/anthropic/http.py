"""Response helpers shared by the mock Anthropic routes: error shapes, request ids, bearer auth.

Two error shapes exist on the real API:
- the Anthropic API shape ``{"type":"error","error":{"type","message"},"request_id"}`` for the
  Messages and Admin APIs;
- the RFC 6749 §5.2 shape ``{"error","error_description"}`` on the OAuth token endpoint.
Every response carries a ``request-id`` header, which is where the SDK reads it from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ..inbound import Rejected, json_object
from .store import Grant

if TYPE_CHECKING:
    from .store import Store

OAUTH_BETA = "oauth-2025-04-20"


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        store: Store = request.app.state.store
        rid = store.ids.request_id()
        request.state.request_id = rid
    return rid


def api_error(
    request: Request,
    status: int,
    error_type: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    rid = request_id(request)
    hdrs = {"request-id": rid, **(headers or {})}
    if status == 409 or status == 429 or status >= 500:
        # Deliberate answers: stop the SDK from silently retrying them twice.
        hdrs.setdefault("x-should-retry", "false")
    return JSONResponse(
        {"type": "error", "error": {"type": error_type, "message": message}, "request_id": rid},
        status_code=status,
        headers=hdrs,
    )


def oauth_error(request: Request, status: int, error: str, description: str) -> JSONResponse:
    rid = request_id(request)
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"request-id": rid, "cache-control": "no-store", "pragma": "no-cache"},
    )


def ok(request: Request, body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"request-id": request_id(request)})


def beta_flags(request: Request) -> set[str]:
    raw = request.headers.get("anthropic-beta", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def bearer_grant(request: Request) -> tuple[Grant | None, JSONResponse | None]:
    """Resolve ``Authorization: Bearer <sk-ant-oat01-…>`` to its grant, or the 401 to answer with.

    Unknown, expired and revoked tokens all give 401 ``authentication_error``: that is what makes
    the SDK drop its cached token, re-exchange and retry once.
    """
    store: Store = request.app.state.store
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
    if not token:
        return None, api_error(request, 401, "authentication_error", "missing bearer token")
    if token.startswith(("sk-ant-api", "sk-ant-admin")):
        return None, api_error(request, 401, "authentication_error", "invalid x-api-key")
    grant = store.grant_for(token)
    if grant is None:
        return None, api_error(request, 401, "authentication_error", "invalid bearer token")
    if OAUTH_BETA not in beta_flags(request):
        return None, api_error(
            request,
            401,
            "authentication_error",
            f"OAuth authentication is currently not supported without the '{OAUTH_BETA}' beta header.",
        )
    return grant, None


async def json_body(request: Request) -> tuple[dict[str, Any] | None, str | None]:
    """Parse a JSON object body strictly (:mod:`wif_lab.mock.inbound`); an empty body counts as ``{}``
    (archive calls send none). On refusal, the sentence for the 400 that says what is wrong."""
    try:
        return await json_object(request, empty_ok=True), None
    except Rejected as exc:
        return None, exc.reason
