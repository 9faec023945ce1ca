"""Mock of the identity endpoint Azure's hosting services give a workload: App Service, Azure Functions
and Container Apps. IMDS is not reachable there; the platform sets ``IDENTITY_ENDPOINT`` (a plain-http
URL on the host's loopback, ``http://localhost:<port>/msi/token``) and ``IDENTITY_HEADER`` (a secret the
platform rotates; the lab's is fixed per seed) in the app's environment.

Follows Microsoft's "Use managed identities for App Service and Azure Functions" (REST endpoint
reference) and ``shared/reference/azure.md`` §1.1 and §1.6:

- ``GET <IDENTITY_ENDPOINT>?api-version=2019-08-01&resource=<audience>`` with the header
  ``X-IDENTITY-HEADER: <IDENTITY_HEADER>`` (it keeps server-side request forgery out: a request that
  was not made by the app itself cannot know it);
- identity selection: ``client_id``, ``object_id`` (or its alias ``principal_id``) or ``mi_res_id``;
  with none, the app's **system-assigned** identity. Unlike IMDS the endpoint does not fall back to a
  lone user-assigned identity: an app that has only user-assigned identities must name one;
- the answer: ``access_token``, ``expires_on`` (epoch seconds, a string), ``resource``,
  ``token_type`` and ``client_id``; no ``expires_in``: MSAL derives it from ``expires_on`` [src];
- the same Entra tokens and the same cache as IMDS (:mod:`.managed_identity`);
- errors in the endpoint's own shape, ``{"statusCode", "message", "correlationId"}`` with an
  ``X-CORRELATION-ID`` header. Quoted from real answers: 400 "Unable to load the proper Managed
  Identity." (no attached identity fits the request) and 500 "An unexpected error occured while fetching
  the AAD Token." (Entra refused, e.g. an unregistered resource; MSAL's source notes that a wrong
  resource ends in this vague 500). An unsupported ``api-version`` is refused by the endpoint's
  API-versioning layer in its own shape (the ``UnsupportedApiVersion`` body was seen in a real answer).
  [inferred]: the status and wording for a missing or wrong ``X-IDENTITY-HEADER`` (401 here), a missing
  ``api-version`` and a missing ``resource`` are not recorded anywhere public; the lab answers in the
  same shapes, checking the header first.

The app it answers for carries the tenant's user-assigned identities (``claude-inference``,
``batch-reporting``) and, until one is added, no system-assigned identity of its own: the VM's
system-assigned identity belongs to the VM. ``azure-identity``'s ``ManagedIdentityCredential`` picks
this endpoint whenever both variables are set (before IMDS, and before workload identity).

On a shared lab each attendee gets an app of their own carrying their own user-assigned identities
(``<attendee>-claude-inference``, …): ``PUT /lab/attendees/{name}`` (lab only) creates or finds it and answers
with the attendee's ``app_service`` section; its endpoint is ``/attendees/{name}/msi/token``.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .base import LabContext, MockSpec, seeded_guid
from .entra import EntraError, EntraMock, ManagedIdentity
from .inbound import Rejected, query_pairs
from .managed_identity import AttendeeHosts, IdentityHost, IdentityUnavailable

TOKEN_PATH = "/msi/token"
API_VERSION = "2019-08-01"
HEADER = "X-IDENTITY-HEADER"
JSON_UTF8 = "application/json; charset=utf-8"
# Wire name → what it names (principal_id is the documented alias of object_id).
SELECTORS = {"client_id": "client_id", "object_id": "object_id", "principal_id": "object_id",
             "mi_res_id": "resource_id"}

NO_IDENTITY = "Unable to load the proper Managed Identity."
ENTRA_FAILED = "An unexpected error occured while fetching the AAD Token."  # sic, as the real endpoint spells it
BAD_HEADER = "The request did not carry the X-IDENTITY-HEADER value of this app."  # [inferred]
MISSING_RESOURCE = "The query parameter 'resource' is required."  # [inferred]


class IdentityEndpointRefusal(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(_message(body))
        self.status = status
        self.body = body


def _message(body: dict[str, Any]) -> str:
    error = body.get("error")
    return str(error.get("message") if isinstance(error, dict) else body.get("message", ""))


def _refusal(status: int, message: str) -> IdentityEndpointRefusal:
    return IdentityEndpointRefusal(status, {"statusCode": status, "message": message,
                                            "correlationId": str(uuid.uuid4())})


def _version_refusal(url: str, given: str | None) -> IdentityEndpointRefusal:
    if given:
        error = {"code": "UnsupportedApiVersion",
                 "message": f"The HTTP resource that matches the request URI '{url}' does not support the API "
                            f"version '{given}'.",
                 "innerError": None}
    else:  # [inferred] the versioning layer's wording when no version was sent
        error = {"code": "ApiVersionUnspecified", "message": "An API version is required, but was not specified.",
                 "innerError": None}
    return IdentityEndpointRefusal(400, {"error": error})


class AppServiceIdentityMock:
    """The identity endpoint of one App Service app (or Functions / Container Apps app), backed by Entra."""

    name = "app_service"

    def __init__(self, ctx: LabContext, entra: EntraMock | None = None) -> None:
        self.ctx = ctx
        found = entra or ctx.mocks.get("entra")
        if not isinstance(found, EntraMock):
            raise RuntimeError("the App Service identity mock needs the Entra mock: build 'entra' before it")
        self.entra = found
        self.base_url = ctx.base_url(self.name)
        users = [name for name, mi in found.tenant.identities.items() if mi.kind == "user"]
        self.host = IdentityHost(found, ctx.clock, users, single_user_default=False)
        self.attendees = AttendeeHosts(found, ctx.clock, kinds=("user",), single_user_default=False)
        # The platform rotates the real value; the lab's is fixed per seed like its other IDs, so what a
        # notebook shows (redacted) stays the same from run to run.
        self._header = uuid.UUID(seeded_guid(ctx.seed, "app-service:identity-header")).hex
        self.requests = 0

    @property
    def identity_endpoint(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def identity_header(self) -> str:
        return self._header

    # -- admin API (what `az webapp identity assign/remove` would change)

    def assigned(self) -> list[ManagedIdentity]:
        return self.host.assigned()

    def assign(self, name: str) -> ManagedIdentity:
        return self.host.assign(name)

    def unassign(self, name: str) -> None:
        self.host.unassign(name)

    def flush_cache(self) -> None:
        """Lab only: drop cached tokens (the real endpoint offers no way to force a refresh)."""
        self.host.flush_cache()

    # -- the token logic, separate from HTTP so notebooks and tests can call it

    def token_response(self, params: dict[str, str], headers: dict[str, str], *,
                       url: str | None = None, host: IdentityHost | None = None) -> dict[str, str]:
        """The 200 body for a request (to ``host``, default the lab's app), or :class:`IdentityEndpointRefusal`
        with the endpoint's status and body."""
        host = host or self.host
        if not secrets.compare_digest(headers.get(HEADER.lower(), "").encode(), self._header.encode()):
            raise _refusal(401, BAD_HEADER)
        version = params.get("api-version")
        if version != API_VERSION:
            raise _version_refusal(url or f"{self.identity_endpoint}?{urlencode(params)}", version)
        resource = params.get("resource", "").strip()
        if not resource:
            raise _refusal(400, MISSING_RESOURCE)
        chosen = {SELECTORS[k]: v for k, v in params.items() if k in SELECTORS and v}
        try:
            identity = host.select(chosen)
            token = host.token(identity, resource)
        except IdentityUnavailable as exc:
            raise _refusal(400, NO_IDENTITY) from exc
        except EntraError as exc:
            raise _refusal(500, ENTRA_FAILED) from exc
        return {
            "access_token": token.token,
            "expires_on": str(token.expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id,
        }

    # -- HTTP

    async def token(self, request: Request) -> JSONResponse:
        self.requests += 1
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            try:  # the query is echoed (resource) and handed to Entra: refuse what is not UTF-8
                params = dict(query_pairs(request))
            except Rejected as exc:
                raise _refusal(400, f"The request is not valid: {exc.reason}.") from None
            body = self.token_response(params, headers, url=str(request.url), host=self._host(request))
        except IdentityEndpointRefusal as refusal:
            correlation = refusal.body.get("correlationId")
            extra = {"X-CORRELATION-ID": correlation} if correlation else None
            return JSONResponse(refusal.body, status_code=refusal.status, media_type=JSON_UTF8, headers=extra)
        return JSONResponse(body, media_type=JSON_UTF8)

    def _host(self, request: Request) -> IdentityHost:
        attendee = request.path_params.get("attendee")
        if attendee is None:
            return self.host
        host = self.attendees.get(attendee)
        if host is None:
            raise _refusal(404, f"No app of attendee {attendee!r} on this lab (PUT /lab/attendees/{attendee} first).")
        return host

    async def join_attendee(self, request: Request) -> JSONResponse:
        """Lab only: the attendee's own app (created or found) as their ``app_service`` connection section."""
        name = request.path_params["attendee"]
        try:
            host = self.attendees.join(name)
        except ValueError as exc:
            refusal = _refusal(400, str(exc))
            return JSONResponse(refusal.body, status_code=400, media_type=JSON_UTF8)
        return JSONResponse(self.connection(host, f"{self.base_url}/attendees/{name}{TOKEN_PATH}"))

    def asgi(self) -> Starlette:
        return Starlette(routes=[
            Route(TOKEN_PATH, self.token, methods=["GET"]),
            Route("/attendees/{attendee}" + TOKEN_PATH, self.token, methods=["GET"]),
            Route("/lab/attendees/{attendee}", self.join_attendee, methods=["PUT"]),
        ])

    def connection(self, host: IdentityHost | None = None, endpoint: str | None = None) -> dict[str, Any]:
        default = self.entra.app("claude-api-federation").identifier_uris[0]
        endpoint = endpoint or self.identity_endpoint
        return {
            "base_url": self.base_url,
            "identity_endpoint": endpoint,
            "identity_header": self._header,
            "api_version": API_VERSION,
            "tenant_id": self.entra.tenant_id,
            "resource": default,
            "env": {"IDENTITY_ENDPOINT": endpoint, "IDENTITY_HEADER": self._header},
            "identities": [
                {"name": i.name, "kind": i.kind, "object_id": i.object_id, "client_id": i.client_id,
                 "resource_id": i.resource_id}
                for i in (host or self.host).assigned()
            ],
        }


SPEC = MockSpec("app_service", "http", factory=AppServiceIdentityMock, requires=("entra",))
