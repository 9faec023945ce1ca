"""The metadata server's refusals, as the real one sends them: short text (or Google's HTML 404 page),
never JSON, always with ``Metadata-Flavor: Google`` and ``Server: Metadata Server for VM``.

Bodies and codes follow the behaviour recorded in ``shared/reference/providers.md`` §2.4 (taken from
a widely used emulator that copies the real server [THIRD]; Google's own text was not found).
"""

from __future__ import annotations

from starlette.responses import Response

from ..errors import MockRefusal

RESPONSE_HEADERS = {"Metadata-Flavor": "Google", "Server": "Metadata Server for VM",
                    "X-XSS-Protection": "0", "X-Frame-Options": "SAMEORIGIN"}
HTML = "text/html; charset=UTF-8"

MISSING_FLAVOR = 'Missing required header "Metadata-Flavor": "Google"'
MISSING_AUDIENCE = "non-empty audience parameter required"
FORBIDDEN = "Forbidden"
# Google's generic 404 page (shortened: the real one carries the same title and sentences plus styling).
NOT_FOUND_PAGE = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n"
    "  <p><b>404.</b> <ins>That’s an error.</ins>\n"
    "  <p>The requested URL <code>{path}</code> was not found on this server.  <ins>That’s all we know.</ins>\n"
)


class MetadataRefusal(MockRefusal):
    """A refusal in the metadata server's shape: a status and a text body."""

    def __init__(self, status: int, text: str, *, content_type: str = HTML) -> None:
        super().__init__(status, text, headers=RESPONSE_HEADERS)
        self.content_type = content_type

    def response(self) -> Response:
        body = self.body if self.body.endswith("\n") else self.body + "\n"
        return Response(body, status_code=self.status, headers=self.headers, media_type=self.content_type)


def not_found(path: str) -> MetadataRefusal:
    from html import escape

    return MetadataRefusal(404, NOT_FOUND_PAGE.format(path=escape(path[:200])))
