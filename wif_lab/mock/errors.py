"""One base for every wire refusal a mock sends, and the one handler that writes it.

Endpoints raise a :class:`MockRefusal` subclass (Okta's ``OAuthError``, Entra's ``EntraError``, the
IMDS and hosting-endpoint refusals, and each new provider's own) and the app turns it into a response
in one place, as starlette's ``exception_handlers`` and moto's ``ServiceException`` do. A refusal is a
wire answer, not a user's mistake, so it stays outside :class:`~wif_lab.errors.WifLabError`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class MockRefusal(Exception):
    """A refusal as the real service sends it: status, JSON body and any extra headers."""

    def __init__(self, status: int, body: Any, *, headers: dict[str, str] | None = None) -> None:
        message = body.get("error_description") or body.get("error") if isinstance(body, dict) else body
        super().__init__(f"{status} {message}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


async def refusal_response(request: Request, exc: Exception) -> Response:
    """The exception handler each mock's app registers: ``exception_handlers=EXCEPTION_HANDLERS``."""
    assert isinstance(exc, MockRefusal)
    return exc.response()


EXCEPTION_HANDLERS = {MockRefusal: refusal_response}
