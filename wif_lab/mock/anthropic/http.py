"""Response helpers shared by the mock Anthropic routes: error shapes, request ids, bearer auth.

Every error, the token endpoint's included (current revision of the wif-reference), is the
Anthropic API shape ``{"type":"error","error":{"type","message"},"request_id"}``.
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


def ok(request: Request, body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"request-id": request_id(request)})


def bearer_grant(request: Request) -> tuple[Grant | None, JSONResponse | None]:
    """Resolve ``Authorization: Bearer <sk-ant-oat01-…>`` to its grant, or the 401 to answer with.

    A federation token is accepted with or without ``anthropic-beta: oauth-2025-04-20``: the SDK
    sends the flag, the guides' cURL does not, and the current docs say both work. It is only ever
    a bearer token — in ``x-api-key`` it is refused like any other bad key. Unknown, expired and
    revoked tokens all give 401 ``authentication_error``: that is what makes the SDK drop its
    cached token, re-exchange and retry once.
    """
    store: Store = request.app.state.store
    auth = request.headers.get("authorization", "")
    if not auth and request.headers.get("x-api-key"):
        # Only API keys travel in x-api-key; the lab has none, and a federation token is not one.
        return None, api_error(request, 401, "authentication_error", "invalid x-api-key")
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None, api_error(request, 401, "authentication_error",
                               "x-api-key header is required" if not auth else "invalid authorization header")
    if token.startswith(("sk-ant-api", "sk-ant-admin")):
        return None, api_error(request, 401, "authentication_error", "invalid x-api-key")
    grant = store.grant_for(token)
    if grant is None:
        return None, api_error(request, 401, "authentication_error", "invalid bearer token")
    return grant, None


async def json_body(request: Request) -> tuple[dict[str, Any] | None, str | None]:
    """Parse a JSON object body strictly (:mod:`wif_lab.mock.inbound`); an empty body counts as ``{}``
    (archive calls send none). On refusal, the sentence for the 400 that says what is wrong."""
    try:
        return await json_object(request, empty_ok=True), None
    except Rejected as exc:
        return None, exc.reason
