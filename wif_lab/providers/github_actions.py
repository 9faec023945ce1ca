"""Workload side of GitHub Actions OIDC: ask the runner for the job's token, as a real action does.

A job with ``permissions: id-token: write`` finds two variables in its environment:
``ACTIONS_ID_TOKEN_REQUEST_URL`` (already carrying ``?api-version=2.0``) and
``ACTIONS_ID_TOKEN_REQUEST_TOKEN``. ``@actions/core``'s ``getIDToken``, the ``id`` package and the Claude
guide's cURL all do the same thing: GET the URL with ``audience=<aud>`` added to its query and
``Authorization: Bearer <request token>``, and read ``value`` from the JSON answer. Each call mints a new
token (a fresh ``jti``, five minutes of life), and the URL works for the whole job, so the token
provider here simply asks again every time the SDK needs one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from .. import http
from ..errors import ConfigurationError, ProviderError
from ..redact import Secret, redact
from ..tokens import Verify, decode

URL_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_URL"
TOKEN_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
AUDIENCE = "https://api.anthropic.com"
ISSUER = "https://token.actions.githubusercontent.com"
DEFAULT_TIMEOUT = 10.0
PERMISSION_HINT = ("give the job `permissions: id-token: write` (at the workflow or job level); without it the "
                   "runner sets neither ACTIONS_ID_TOKEN_REQUEST_URL nor ACTIONS_ID_TOKEN_REQUEST_TOKEN. Pull "
                   "requests from forks never get it")

# What to check next, by the HTTP status the runner's token service answers with (it has no other code).
HINTS: dict[int, str] = {
    400: "use ACTIONS_ID_TOKEN_REQUEST_URL exactly as the runner set it (it carries api-version=2.0) and add "
         "audience once, as a query parameter",
    401: "send the job's own ACTIONS_ID_TOKEN_REQUEST_TOKEN as `Authorization: Bearer …`, from a step of the job "
         "that is still running (the request token ends with the job)",
    403: PERMISSION_HINT,
    404: "the URL must be this job's ACTIONS_ID_TOKEN_REQUEST_URL, unchanged apart from the audience parameter",
}
RETRY_HINT = "the token service is unavailable: retry with backoff (@actions/core retries up to 10 times)"


class GitHubActionsRefused(ProviderError):
    """The runner's token service refused: its status and the ``message`` of its JSON body."""

    def __init__(self, message: str, *, status: int, server_message: str | None, hint: str | None) -> None:
        super().__init__(message, status=status, error=str(status), description=server_message, hint=hint)
        self.server_message = server_message


def refusal(response: httpx.Response) -> GitHubActionsRefused:
    """One :class:`GitHubActionsRefused` from any non-200 answer of the token service."""
    try:
        body = response.json()
    except ValueError:
        body = None
    text = body.get("message") if isinstance(body, dict) else None
    server_message = str(text) if text is not None else (response.text[:200] or response.reason_phrase)
    status = response.status_code
    hint = HINTS.get(status) or (RETRY_HINT if status >= 500 or status == 429 else "the response body above")
    return GitHubActionsRefused(f"GitHub's token service refused the OIDC token request ({status}): {server_message}",
                                status=status, server_message=server_message, hint=hint)


def with_audience(request_url: str, audience: str | None) -> str:
    """The request URL with ``audience`` merged into its query (it already has ``api-version``)."""
    if not audience:
        return request_url
    parts = urlsplit(request_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "audience"]
    query.append(("audience", audience))
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass(frozen=True, repr=False)
class GitHubToken:
    """The runner's answer: the JWT (never shown whole) and its unverified claims for display."""

    value: Secret

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", Secret(self.value))

    def claims(self) -> dict[str, Any]:
        return decode(self.value).claims

    def __repr__(self) -> str:
        claims = self.claims()
        return (f"GitHubToken(sub={claims.get('sub')!r}, aud={claims.get('aud')!r}, "
                f"value={redact(self.value, short=True)!r})")


class GitHubActionsClient:
    """Fetches the job's OIDC token for one audience from the runner's token service."""

    def __init__(
        self,
        audience: str | None = AUDIENCE,
        *,
        request_url: str | None = None,
        request_token: str | None = None,
        environ: Mapping[str, str] | None = None,
        verify: Verify = True,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        url = request_url or env.get(URL_VARIABLE)
        token = request_token or env.get(TOKEN_VARIABLE)
        missing = [name for name, value in ((URL_VARIABLE, url), (TOKEN_VARIABLE, token)) if not value]
        if missing:
            raise ConfigurationError(f"{' and '.join(missing)} not set: this job cannot request an OIDC token",
                                     hint=PERMISSION_HINT)
        self.audience = audience
        self.request_url = str(url)
        self._request_token = Secret(str(token))
        self.verify = verify
        self.timeout = timeout
        self._transport = transport
        self.calls = 0

    @property
    def url(self) -> str:
        return with_audience(self.request_url, self.audience)

    def get_token(self) -> GitHubToken:
        self.calls += 1
        response = http.request(
            "GET", self.url, what="GitHub's OIDC token service", verify=self.verify, deadline=self.timeout,
            transport=self._transport, headers={"authorization": f"Bearer {self._request_token.reveal()}",
                                                "accept": "application/json"},
            hint="ACTIONS_ID_TOKEN_REQUEST_URL must be the one the runner set in this job")
        if response.status_code != 200:
            raise refusal(response)
        try:
            body = response.json()
            value = body["value"]
            if not isinstance(value, str) or not value:
                raise TypeError("value is not a non-empty string")
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(
                "GitHub's token service answered 200 without a token in `value`", status=200,
                hint="the URL is not the runner's token service, or a proxy rewrote the answer") from exc
        return GitHubToken(value)

    def __repr__(self) -> str:
        return f"GitHubActionsClient({self.request_url.split('?')[0]!r}, audience={self.audience!r})"


def token_provider(client: GitHubActionsClient) -> Callable[[], str]:
    """An ``identity_token_provider`` for the Anthropic SDK: a new token from the runner on every call."""

    def provide() -> str:
        return client.get_token().value

    provide.client = client  # type: ignore[attr-defined]
    return provide
