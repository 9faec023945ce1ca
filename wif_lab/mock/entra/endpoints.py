"""Every other endpoint mock Entra's discovery documents advertise, over HTTP: the token endpoints (v2
and v1), sign-in (``authorize``), sign-out, device code, the session-check iframe, v1 userinfo and the
Kerberos proxy.

The lab has no users and no browser sessions, so the interactive endpoints answer the way Entra answers
a request it cannot serve (the page or error a learner would see), never a pretend sign-in. What each
answer rests on (``shared/reference/azure.md`` and the public sources named):

- **Token endpoints** (``oauth2/v2.0/token``, ``oauth2/token``) take POST, and OPTIONS for CORS. Any other
  method gets HTTP 400 ``invalid_request`` AADSTS900561 ("The endpoint only accepts POST, OPTIONS
  requests. Received a GET request.") in the JSON error layout of azure.md §4.3; the text and the 400
  come from real answers quoted in public issues. The OPTIONS answer is a plain CORS preflight
  [inferred]. The v1 endpoint runs the same client-credentials logic with a ``resource`` parameter
  (AADSTS900144 when it is missing, as real answers quote) and answers in the v1 shape: every value a
  string, plus ``expires_on``, ``not_before`` and ``resource`` (azure.md §4.3).
- **authorize** (v1 and v2): Microsoft's "Authorization endpoint errors" article: an error Entra shows on
  its own page is HTTP 200 HTML; only once the app and its reply URL are known does it redirect (302)
  to the app. So: no ``client_id`` → the page with AADSTS900144 (the missing parameter), an unknown
  client → AADSTS700016, an unknown tenant → AADSTS90002. No lab client (resource apps, managed
  identities) has a reply URL, so a known one gets AADSTS500113 ("No reply address is registered for
  the application."). The page's troubleshooting block (Request Id, Correlation Id, Timestamp,
  Message) has the layout users paste from it into public issues.
- **logout** (v1 and v2): without a registered ``post_logout_redirect_uri`` Entra shows its own
  signed-out page (200 HTML); no lab app registers one.
- **devicecode** (v1 and v2): POST only (AADSTS900561 otherwise); ``client_id`` and then ``scope`` (v2) or
  ``resource`` (v1) are required (AADSTS900144), an unknown client is AADSTS700016. A known client gets
  a device code in the RFC 8628 shape Entra uses (``user_code``, ``device_code``, ``verification_uri``,
  ``expires_in`` 900, ``interval`` 5, ``message``; the v1 endpoint names the URI ``verification_url``).
  Issuing is what Entra does even for a confidential app (the refusal comes when the code is redeemed,
  per MSAL issue reports). Lab deviation: nobody can sign in, and the token endpoint refuses the
  device-code grant as unsupported (AADSTS70003), so a code never becomes a token.
- **check_session_iframe** (v1): the OpenID Connect Session Management "OP iframe", a 200 HTML page whose
  script answers ``postMessage`` queries with ``changed`` or ``error``. There are no sessions in the
  lab, so every well-formed query gets ``changed`` [inferred].
- **userinfo** (v1 ``openid/userinfo``): a protected resource (RFC 6750 §3). No token → 401 with
  ``WWW-Authenticate: Bearer`` and no error code; any token → 401 with ``error="invalid_token"``, since
  userinfo takes only user tokens and the lab mints app-only ones [inferred: the header's
  parameters]. The v2 document's ``userinfo_endpoint`` is Microsoft Graph's
  (``https://graph.microsoft.com/oidc/userinfo``), as real Entra advertises it; it is not this host.
- **kerberos**: a Kerberos KDC proxy (MS-KKDCP) takes POSTs of ``application/kerberos`` messages. The
  reference KKDCP server (latchset/kdcproxy) answers other methods 405 and an undecodable body 400;
  Entra's own answers are not documented [inferred]. The lab has no KDC and does not decode Kerberos,
  so every POST is answered 400.
"""

from __future__ import annotations

import datetime as dt
import html
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..inbound import Rejected, form_pairs, read_body
from .errors import (
    ERROR_DESCRIPTION_TAIL,
    JSON_UTF8,
    EntraError,
    _correlation_id,
    aadsts_error,
    application_not_found,
    method_not_accepted,
)

if TYPE_CHECKING:
    from .service import EntraMock

HTML_UTF8 = "text/html; charset=utf-8"
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
NO_STORE = {"cache-control": "no-store, no-cache", "pragma": "no-cache", "expires": "-1"}
DEVICE_LOGIN = "https://microsoft.com/devicelogin"
DEVICE_CODE_LIFETIME = 900
DEVICE_CODE_INTERVAL = 5
USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
KDC_PROXY_TYPE = "application/kerberos"

Handler = Callable[[Request], Awaitable[Response]]


async def read_form(request: Request, now: float) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (first value wins); any other body counts as empty.

    Read strictly (size cap, UTF-8, no lone surrogates): a body that is not a form is AADSTS90100.
    """
    form: dict[str, str] = {}
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        try:
            pairs = await form_pairs(request)
        except Rejected as exc:
            raise aadsts_error(400, "invalid_request", 90100, f"Request body is not valid: {exc.reason}.",
                               now=now, correlation_id=_correlation(request)) from None
        for key, value in pairs:
            form.setdefault(key, value)
    return form


def cors_preflight(methods: str) -> Response:
    """OPTIONS on a POST endpoint: what a browser's CORS preflight needs [inferred]."""
    return Response(status_code=200, headers={
        "allow": methods, "access-control-allow-origin": "*", "access-control-allow-methods": methods,
        "access-control-allow-headers": "content-type, client-request-id", "access-control-max-age": "86400",
    })


def _correlation(request: Request) -> str | None:
    return _correlation_id(request.headers.get("client-request-id"))


class EntraEndpoints:
    """The HTTP side of one :class:`~wif_lab.mock.entra.service.EntraMock` beyond discovery and keys."""

    def __init__(self, mock: EntraMock) -> None:
        self.mock = mock

    def routes(self) -> list[Route]:
        return [
            Route("/{tenant}/oauth2/v2.0/token", self._token(2), methods=ANY_METHOD),
            Route("/{tenant}/oauth2/token", self._token(1), methods=ANY_METHOD),
            Route("/{tenant}/oauth2/v2.0/devicecode", self._devicecode(2), methods=ANY_METHOD),
            Route("/{tenant}/oauth2/devicecode", self._devicecode(1), methods=ANY_METHOD),
            Route("/{tenant}/oauth2/v2.0/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/{tenant}/oauth2/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/{tenant}/oauth2/v2.0/logout", self.logout, methods=["GET", "POST"]),
            Route("/{tenant}/oauth2/logout", self.logout, methods=["GET", "POST"]),
            Route("/{tenant}/oauth2/checksession", self.check_session, methods=["GET"]),
            Route("/{tenant}/openid/userinfo", self.userinfo, methods=["GET", "POST"]),
            Route("/{tenant}/kerberos", self.kerberos, methods=ANY_METHOD),
        ]

    # -- JSON errors

    def _json_error(self, err: EntraError) -> JSONResponse:
        response = self.mock.error_response(err)
        response.headers["x-ms-request-id"] = err.body["trace_id"]
        return response

    def _post_only(self, request: Request) -> Response | None:
        """The answer for anything but POST on a POST endpoint, or ``None`` for a POST."""
        if request.method == "POST":
            return None
        if request.method == "OPTIONS":
            return cors_preflight("POST, OPTIONS")
        return self._json_error(method_not_accepted(request.method, now=self.mock.ctx.clock(),
                                                    correlation_id=_correlation(request)))

    # -- token endpoints

    def _token(self, version: int) -> Handler:
        async def token(request: Request) -> Response:
            """``POST /<tenant>/oauth2/v2.0/token`` (or v1 ``/oauth2/token``), form-encoded as azure-identity
            and MSAL send it."""
            refused = self._post_only(request)
            if refused is not None:
                return refused
            try:
                minted, body = await self.mock.redeem_federated_assertion(
                    request.path_params["tenant"], await read_form(request, self.mock.ctx.clock()),
                    correlation_id=_correlation(request), version=version)
            except EntraError as err:
                return self._json_error(err)
            headers = {**NO_STORE, "x-ms-request-id": minted.claims["uti"]}
            return JSONResponse(body, media_type=JSON_UTF8, headers=headers)

        return token

    # -- device code

    def _devicecode(self, version: int) -> Handler:
        async def devicecode(request: Request) -> Response:
            refused = self._post_only(request)
            if refused is not None:
                return refused
            now, correlation = self.mock.ctx.clock(), _correlation(request)
            err = self.mock.tenant_refusal(request.path_params["tenant"])
            if err is not None:
                return self._json_error(err)
            try:
                form = await read_form(request, now)
            except EntraError as bad:
                return self._json_error(bad)
            client_id = form.get("client_id", "").strip()
            if not client_id:
                return self._json_error(_missing("client_id", now, correlation))
            if not self.mock.known_client(client_id):
                return self._json_error(application_not_found(client_id, self.mock.tenant, now=now,
                                                              correlation_id=correlation))
            wanted = "scope" if version == 2 else "resource"
            if not form.get(wanted, "").strip():
                return self._json_error(_missing(wanted, now, correlation))
            user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(9))
            body = {
                "user_code": user_code,
                "device_code": secrets.token_urlsafe(96),
                "verification_uri" if version == 2 else "verification_url": DEVICE_LOGIN,
                "expires_in": DEVICE_CODE_LIFETIME,
                "interval": DEVICE_CODE_INTERVAL,
                "message": f"To sign in, use a web browser to open the page {DEVICE_LOGIN} and enter the code "
                           f"{user_code} to authenticate.",
            }
            return JSONResponse(body, media_type=JSON_UTF8, headers=NO_STORE)

        return devicecode

    # -- browser pages

    async def authorize(self, request: Request) -> Response:
        """Sign-in: the lab can only ever show Entra's error page (see the module docstring)."""
        now, correlation = self.mock.ctx.clock(), _correlation(request)
        try:
            params = dict(request.query_params) if request.method == "GET" else await read_form(request, now)
        except EntraError as bad:
            return signin_error_page(bad)
        err = self.mock.tenant_refusal(request.path_params["tenant"])
        if err is not None:
            return signin_error_page(err)
        client_id = params.get("client_id", "").strip()
        if not client_id:
            return signin_error_page(_missing("client_id", now, correlation))
        if not self.mock.known_client(client_id):
            return signin_error_page(application_not_found(client_id, self.mock.tenant, now=now,
                                                           correlation_id=correlation))
        return signin_error_page(aadsts_error(400, "invalid_request", 500113,
                                              "No reply address is registered for the application.",
                                              now=now, correlation_id=correlation))

    async def logout(self, request: Request) -> Response:
        """Sign-out: Entra's own signed-out page (no lab app registers a post-logout redirect URI)."""
        err = self.mock.tenant_refusal(request.path_params["tenant"])
        if err is not None:
            return signin_error_page(err)
        return HTMLResponse(_page("Sign out", "<h1>You signed out of your account</h1>"
                                              "<p>Close every browser window to finish signing out.</p>"),
                            media_type=HTML_UTF8, headers=NO_STORE)

    async def check_session(self, request: Request) -> Response:
        """The OpenID Connect Session Management OP iframe (see the module docstring)."""
        err = self.mock.tenant_refusal(request.path_params["tenant"])
        if err is not None:
            return signin_error_page(err)
        return HTMLResponse(_page("Session check", f"<script>{CHECK_SESSION_SCRIPT}</script>"), media_type=HTML_UTF8)

    # -- resources

    async def userinfo(self, request: Request) -> Response:
        """v1 userinfo: a bearer-protected resource that no lab token can open (see the module docstring)."""
        err = self.mock.tenant_refusal(request.path_params["tenant"])
        if err is not None:
            return self._json_error(err)
        tenant = request.path_params["tenant"]
        challenge = f'Bearer authorization_uri="{self.mock.base_url}/{tenant}/oauth2/authorize"'
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            challenge += ', error="invalid_token", error_description="userinfo accepts only user tokens"'
        return Response(status_code=401, headers={"www-authenticate": challenge, **NO_STORE})

    async def kerberos(self, request: Request) -> Response:
        """The Kerberos KDC proxy (MS-KKDCP): POST only, and the lab has no KDC behind it."""
        if request.method != "POST":
            return PlainTextResponse(f"Method not allowed ({request.method}).", status_code=405,
                                     headers={"allow": "POST"})
        try:
            body = await read_body(request)  # streamed and capped: the lab reads no message whole past the cap
        except Rejected as refused:
            return PlainTextResponse(refused.reason, status_code=413)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not body or kind != KDC_PROXY_TYPE:
            return PlainTextResponse(f"Expected a KDC-PROXY-MESSAGE body of type {KDC_PROXY_TYPE}.", status_code=400)
        return PlainTextResponse("The lab's KDC proxy does not decode Kerberos messages.", status_code=400)


def _missing(parameter: str, now: float, correlation_id: str | None) -> EntraError:
    return aadsts_error(400, "invalid_request", 900144,
                        f"The request body must contain the following parameter: '{parameter}'.",
                        now=now, correlation_id=correlation_id)


def signin_error_page(err: EntraError) -> HTMLResponse:
    """Entra's "we're having trouble signing you in" page: HTTP 200, the error in the troubleshooting block."""
    body = err.body
    message = ERROR_DESCRIPTION_TAIL.sub("", body["error_description"])
    stamp = dt.datetime.strptime(body["timestamp"], "%Y-%m-%d %H:%M:%SZ").strftime("%Y-%m-%dT%H:%M:%SZ")
    details = "".join(
        f"<div><span>{label}:</span> <span>{html.escape(value)}</span></div>"
        for label, value in (("Request Id", body["trace_id"]), ("Correlation Id", body["correlation_id"]),
                             ("Timestamp", stamp), ("Message", message))
    )
    content = ("<h1>Sign in</h1><p>Sorry, but we're having trouble signing you in.</p>"
               f'<div id="troubleshooting"><h2>Troubleshooting details</h2>{details}</div>')
    return HTMLResponse(_page("Sign in to your account", content), media_type=HTML_UTF8,
                        headers={**NO_STORE, "x-ms-request-id": body["trace_id"]})


def _page(title: str, content: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"</head><body>{content}</body></html>")


# The OP side of OpenID Connect Session Management: the RP's iframe posts "<client_id> <session_state>"
# and reads back "changed", "unchanged" or "error". The lab has no sessions: a well-formed query is "changed".
CHECK_SESSION_SCRIPT = """
window.addEventListener("message", function (event) {
  var parts = typeof event.data === "string" ? event.data.split(" ") : [];
  var answer = parts.length === 2 && parts[0] && parts[1] ? "changed" : "error";
  event.source.postMessage(answer, event.origin);
}, false);
"""
