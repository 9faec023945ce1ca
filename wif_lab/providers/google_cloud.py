"""Workload side of Google Cloud: ask the metadata server for the service account's ID token, as the
Claude docs' Google Cloud page does (``GET http://metadata.google.internal/computeMetadata/v1/instance/
service-accounts/default/identity?audience=https://api.anthropic.com&format=full`` with the header
``Metadata-Flavor: Google``).

The host is ``GCE_METADATA_HOST`` when set (``host[:port][/prefix]``, the variable google-auth reads),
else ``metadata.google.internal``; the lab's connection file names the mock. Every request mints a new
token, so :func:`token_provider` simply asks again on every call. ``format=full`` is what puts
``email`` (and ``google.compute_engine``) in the token; the client asks for it unless told otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from .. import http
from ..errors import ConfigurationError, ProviderError
from ..redact import Secret

METADATA_HOST = "metadata.google.internal"
HOST_ENV = "GCE_METADATA_HOST"  # google-auth's name; it also reads the older GCE_METADATA_ROOT
OLD_HOST_ENV = "GCE_METADATA_ROOT"
IDENTITY_PATH = "/computeMetadata/v1/instance/service-accounts/default/identity"
DEFAULT_AUDIENCE = "https://api.anthropic.com"
DEFAULT_TIMEOUT = 5.0
FLAVOR = {"Metadata-Flavor": "Google"}

# The metadata server's refusals, by the code :func:`refusal` gives each.
HINTS: dict[str, str] = {
    "missing_flavor": "send the header `Metadata-Flavor: Google` with every request (it proves the request "
                      "comes from code on the machine, not from a redirected or forwarded one)",
    "wrong_flavor": "the header value must be exactly `Google` (capital G)",
    "missing_audience": "pass audience=<the audience your Anthropic rule expects>, e.g. https://api.anthropic.com",
    "forwarded": "the metadata server refuses any request carrying X-Forwarded-For: call it directly from the "
                 "workload, never through a proxy",
    "not_found": "check the path (…/instance/service-accounts/default/identity) and that a service account is "
                 "attached to this VM, or on GKE that the pod's Kubernetes service account carries the "
                 "iam.gke.io/gcp-service-account annotation",
    "bad_parameter": "format must be standard or full (use full: only it puts email in the token), licenses "
                     "TRUE or FALSE",
    "unavailable": "the metadata server is restarting or throttling; retry with backoff",
    "other": "the metadata server's answer above",
}


class GoogleRefused(ProviderError):
    """The metadata server refused the request; ``code`` is a key of :data:`HINTS`, ``text`` its body."""

    def __init__(self, message: str, *, status: int, code: str, text: str) -> None:
        super().__init__(message, status=status, error=code, description=text or None, hint=HINTS[code])
        self.code = code
        self.text = text


def _code(status: int, text: str) -> str:
    if status == 403 and "Metadata-Flavor" in text:
        return "missing_flavor"
    if status == 403:
        return "forwarded"
    if status == 400 and "audience" in text:
        return "missing_audience"
    if status == 400:
        return "bad_parameter"
    if status == 404:
        return "not_found"
    if status in (429, 500, 503, 504):
        return "unavailable"
    return "other"


def refusal(response: httpx.Response, *, flavor_sent: bool = True) -> GoogleRefused:
    """One :class:`GoogleRefused` from any non-200 answer (a 404 to a request with a wrong flavor value
    is that, not a missing path)."""
    text = response.text.strip()
    code = _code(response.status_code, text)
    if code == "not_found" and not flavor_sent:
        code = "wrong_flavor"
    shown = "Google's 404 page (Not Found)" if text.startswith("<!DOCTYPE") else (text[:200] or response.reason_phrase)
    return GoogleRefused(f"the metadata server refused the identity request ({response.status_code}): {shown}",
                         status=response.status_code, code=code, text=shown)


def metadata_root(host: str | None = None) -> str:
    """``http://<host>`` from ``host``, ``GCE_METADATA_HOST`` (or the older ``GCE_METADATA_ROOT``), or the default."""
    chosen = host or os.environ.get(HOST_ENV) or os.environ.get(OLD_HOST_ENV) or METADATA_HOST
    chosen = chosen.strip().rstrip("/")
    if "://" in chosen:
        raise ConfigurationError(f"metadata host {chosen!r} must not name a scheme",
                                 hint="host[:port] as GCE_METADATA_HOST takes it, e.g. metadata.google.internal "
                                      "(the metadata server is plain http)")
    return f"http://{chosen}"


class MetadataClient:
    """Fetches the attached service account's ID token for one audience."""

    def __init__(
        self,
        audience: str = DEFAULT_AUDIENCE,
        *,
        host: str | None = None,
        format: str = "full",
        flavor: str | None = "Google",
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not audience:
            raise ConfigurationError("audience is required", hint="the audience your rule expects, "
                                     "https://api.anthropic.com unless you registered another")
        self.audience = audience
        self.root = metadata_root(host)
        self.format = format
        self.flavor = flavor  # None leaves the header out (to show the refusal)
        self.timeout = timeout
        self._transport = transport

    @property
    def identity_url(self) -> str:
        return self.root + IDENTITY_PATH

    @property
    def params(self) -> dict[str, str]:
        return {"audience": self.audience, **({"format": self.format} if self.format else {})}

    def _get(self, url: str, **kwargs: Any) -> httpx.Response:
        headers = {"Metadata-Flavor": self.flavor} if self.flavor is not None else {}
        # The metadata server is link-local: never send it through a proxy (trust_env=False).
        return http.request("GET", url, what="the metadata server", deadline=self.timeout, trust_env=False,
                            transport=self._transport, headers=headers,
                            hint=("the metadata server answers only on Compute Engine, GKE (Workload Identity), "
                                  "Cloud Run and Cloud Functions; in the lab, use the connection file's "
                                  "metadata_host (or set GCE_METADATA_HOST)"), **kwargs)

    def identity_token(self) -> Secret:
        response = self._get(self.identity_url, params=self.params)
        if response.status_code != 200:
            raise refusal(response, flavor_sent=self.flavor in (None, "Google"))
        token = response.text.strip()
        if token.count(".") != 2:
            raise ProviderError("the metadata server answered 200 without a JWT", status=200,
                                hint="the host is not a metadata server, or a proxy rewrote the answer")
        return Secret(token)

    def ping(self) -> bool:
        """What google-auth checks before using the metadata server: ``GET /`` answers 200 with the flavor."""
        try:
            response = self._get(self.root + "/")
        except ProviderError:
            return False
        except Exception:  # unreachable: not on Google Cloud
            return False
        return response.status_code == 200 and response.headers.get("metadata-flavor") == "Google"

    def __repr__(self) -> str:
        return f"MetadataClient({self.identity_url!r}, audience={self.audience!r}, format={self.format!r})"


def from_connection(section: Mapping[str, Any], *, host: str | None = None, audience: str | None = None,
                    **kwargs: Any) -> MetadataClient:
    """A client for one machine of the lab's ``gcp`` section (the default VM, or ``host`` by name)."""
    audience = audience or section.get("audience") or DEFAULT_AUDIENCE
    if host is None:
        return MetadataClient(audience, host=section["metadata_host"], **kwargs)
    known = {h["name"]: h for h in section.get("hosts", [])}
    if host not in known:
        raise ConfigurationError(f"no machine {host!r} in the connection file", hint=f"one of: {', '.join(known)}")
    return MetadataClient(audience, host=known[host]["metadata_host"], **kwargs)


def token_provider(client: MetadataClient) -> Callable[[], str]:
    """An ``identity_token_provider`` for the Anthropic SDK: a fresh Google ID token on every call."""

    def provide() -> str:
        return client.identity_token().reveal()

    return provide
