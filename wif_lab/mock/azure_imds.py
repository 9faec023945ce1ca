"""Mock Azure Instance Metadata Service, managed-identity token endpoint only (plain http, as the real one).

Follows "How to use managed identities for Azure resources on an Azure VM to acquire an access token"
(``GET /metadata/identity/oauth2/token``, header ``Metadata: true``) and the behaviour recorded in
``shared/reference/azure.md`` §1 and §4.1-4.2:

- the answer is Entra's token in IMDS's shape: every value a JSON string (``access_token``,
  ``client_id``, ``expires_in``, ``expires_on``, ``ext_expires_in``, ``not_before``, ``resource``,
  ``token_type``); ``resource`` echoes the request;
- tokens are cached per identity and resource, so the same token comes back (``expires_in``
  counting down) until it is within 5 minutes of expiry; there is no way to force a refresh;
- identity selection: ``client_id`` / ``object_id`` / ``msi_res_id``; with none, the
  system-assigned identity (silently), else the only user-assigned one, else an error;
- errors with IMDS's real status and body; Entra's own error JSON is passed through for an
  unknown resource (AADSTS500011, 400);
- "Security and authentication" in Microsoft's IMDS article: a request must carry ``Metadata: true``
  and must **not** carry ``X-Forwarded-For`` (so a request relayed by a proxy is refused). The
  article gives no body for the second refusal; the lab answers 400 in the same ``invalid_request``
  shape as the missing-header one, with its own wording [inferred], and checks ``Metadata`` first.

The VM it answers for carries a set of the tenant's identities (by default all of them). On a shared lab
(``wif-lab mock serve --shared``) each attendee gets a VM of their own, carrying their own copies of the lab's
identities: ``PUT /lab/attendees/{name}`` (lab only) creates it or finds it and answers with the attendee's
``azure`` section; its IMDS answers under ``/attendees/{name}`` (a lab deviation: a real VM has its own
169.254.169.254, and ``azure-identity`` keeps the path of ``AZURE_POD_IDENTITY_AUTHORITY_HOST``). Identity
selection, Entra's tokens and the cache are shared with the hosting services' identity endpoint
(:mod:`.app_service_identity`) through :mod:`.managed_identity`.
``azure-identity`` reaches it through ``AZURE_POD_IDENTITY_AUTHORITY_HOST=<base URL>``.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .base import LabContext, MockSpec
from .entra import MI_TOKEN_BACKDATE, EntraError, EntraMock, ManagedIdentity
from .errors import MockRefusal
from .inbound import Rejected, query_pairs
from .managed_identity import AttendeeHosts, IdentityHost, IdentityUnavailable

TOKEN_PATH = "/metadata/identity/oauth2/token"
JSON_UTF8 = "application/json; charset=utf-8"
# The api-versions the identity endpoint answers to (it first shipped in 2018-02-01), oldest first.
API_VERSIONS = (
    "2018-02-01", "2018-04-02", "2018-10-01", "2019-02-01", "2019-03-11", "2019-04-30", "2019-06-01",
    "2019-06-04", "2019-08-01", "2019-08-15", "2019-11-01", "2020-06-01", "2020-07-15", "2020-09-01",
    "2020-10-01", "2020-12-01", "2021-01-01", "2021-02-01", "2021-03-01", "2021-05-01", "2021-10-01",
    "2021-11-01", "2021-11-15", "2021-12-13", "2023-07-01", "2023-11-15",
)
SELECTORS = {"client_id": "client_id", "object_id": "object_id", "msi_res_id": "resource_id"}  # wire → host

MISSING_METADATA = {"error": "invalid_request", "error_description": "Required metadata header not specified"}
IDENTITY_NOT_FOUND = {"error": "invalid_request", "error_description": "Identity not found"}
AMBIGUOUS_IDENTITY = {
    "error": "invalid_request",
    "error_description": "Multiple user assigned identities exist, please specify the clientId / resourceId "
                         "of the identity in the token request",
}
FORWARDED_REQUEST = {"error": "invalid_request",
                     "error_description": "Requests carrying an X-Forwarded-For header are not accepted"}
MISSING_RESOURCE = {"error": "invalid_request",
                    "error_description": "Required query variable 'resource' is missing"}


def _api_version_error(given: str | None) -> dict[str, Any]:
    reason = "is invalid or was not specified in the request" if given else "was not specified in the request"
    return {
        "error": f"Bad request. api-version {reason}. For more information refer to aka.ms/azureimds",
        "newest-versions": list(reversed(API_VERSIONS[-3:])),
    }


class ImdsRefusal(MockRefusal):
    """IMDS's own refusal: a status and its ``{"error", "error_description"}`` body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)


class ImdsMock:
    """The token endpoint of one VM's IMDS, backed by the lab's mock Entra tenant."""

    name = "imds"
    connection_section = "azure"  # the connection file lists the VM's identities under `azure`

    def __init__(self, ctx: LabContext, entra: EntraMock | None = None) -> None:
        self.ctx = ctx
        found = entra or ctx.mocks.get("entra")
        if not isinstance(found, EntraMock):
            raise RuntimeError("the IMDS mock needs the Entra mock: build 'entra' before 'imds'")
        self.entra = found
        self.base_url = ctx.base_url(self.name)
        # The VM carries every identity of the tenant by default (its own system-assigned one included).
        self.host = IdentityHost(found, ctx.clock, found.tenant.identities, single_user_default=True)
        self.attendees = AttendeeHosts(found, ctx.clock, kinds=("system", "user"), single_user_default=True)
        self.requests = 0  # token requests seen (the header-less probe included)

    # -- admin API (what `az vm identity assign/remove` would change)

    def assigned(self) -> list[ManagedIdentity]:
        return self.host.assigned()

    def assign(self, name: str) -> ManagedIdentity:
        return self.host.assign(name)

    def unassign(self, name: str) -> None:
        self.host.unassign(name)

    def flush_cache(self) -> None:
        """Lab only: drop cached tokens (real IMDS offers no way to force a refresh)."""
        self.host.flush_cache()

    # -- the token logic, separate from HTTP so notebooks and tests can call it

    def select_identity(self, params: dict[str, str], host: IdentityHost | None = None) -> ManagedIdentity:
        try:
            return (host or self.host).select({SELECTORS[k]: v for k, v in params.items() if k in SELECTORS})
        except IdentityUnavailable as exc:
            raise ImdsRefusal(400, AMBIGUOUS_IDENTITY if exc.reason == "ambiguous" else IDENTITY_NOT_FOUND) from exc

    def token_response(self, params: dict[str, str], headers: dict[str, str], host: IdentityHost | None = None
                       ) -> dict[str, str]:
        """The 200 body for a request (to ``host``, default the lab's VM), or :class:`ImdsRefusal` with IMDS's
        status and body."""
        host = host or self.host
        if headers.get("metadata", "").strip().lower() != "true":
            raise ImdsRefusal(400, MISSING_METADATA)
        if "x-forwarded-for" in headers:  # IMDS is not for relayed requests (SSRF through a proxy)
            raise ImdsRefusal(400, FORWARDED_REQUEST)
        version = params.get("api-version")
        if version not in API_VERSIONS:
            raise ImdsRefusal(400, _api_version_error(version))
        resource = params.get("resource", "").strip()
        if not resource:
            raise ImdsRefusal(400, MISSING_RESOURCE)
        identity = self.select_identity(params, host)
        try:
            token = host.token(identity, resource)
        except EntraError as exc:
            raise ImdsRefusal(exc.status, exc.body) from exc
        now = self.ctx.clock()
        return {
            "access_token": token.token,
            "client_id": identity.client_id,
            "expires_in": str(token.expires_on - int(now)),
            "expires_on": str(token.expires_on),
            "ext_expires_in": str(token.expires_on - token.not_before - MI_TOKEN_BACKDATE),  # validity from minting
            "not_before": str(token.not_before),
            "resource": resource,
            "token_type": "Bearer",
        }

    # -- HTTP

    async def token(self, request: Request) -> JSONResponse:
        self.requests += 1
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            try:  # the query is echoed (resource) and handed to Entra: refuse what is not UTF-8
                params = dict(query_pairs(request))
            except Rejected as exc:
                raise ImdsRefusal(400, {"error": "invalid_request", "error_description": exc.reason}) from None
            host = self._host(request)
            body = self.token_response(params, headers, host)
        except ImdsRefusal as refusal:
            return JSONResponse(refusal.body, status_code=refusal.status, media_type=JSON_UTF8)
        return JSONResponse(body, media_type=JSON_UTF8)

    def _host(self, request: Request) -> IdentityHost:
        attendee = request.path_params.get("attendee")
        if attendee is None:
            return self.host
        host = self.attendees.get(attendee)
        if host is None:  # no such VM: nothing answers at this address
            raise ImdsRefusal(404, {"error": "not_found", "error_description":
                                    f"no attendee VM {attendee!r} on this lab (PUT /lab/attendees/{attendee} first)"})
        return host

    async def join_attendee(self, request: Request) -> JSONResponse:
        """Lab only: the attendee's own VM (created or found) as their ``azure`` connection section."""
        name = request.path_params["attendee"]
        try:
            host = self.attendees.join(name)
        except ValueError as exc:
            return JSONResponse({"error": "invalid_request", "error_description": str(exc)}, status_code=400)
        return JSONResponse(self.connection(host, f"{self.base_url}/attendees/{name}"))

    def asgi(self) -> Starlette:
        return Starlette(routes=[
            Route(TOKEN_PATH, self.token, methods=["GET"]),
            Route("/attendees/{attendee}" + TOKEN_PATH, self.token, methods=["GET"]),
            Route("/lab/attendees/{attendee}", self.join_attendee, methods=["PUT"]),
        ])

    def connection(self, host: IdentityHost | None = None, imds_url: str | None = None) -> dict[str, Any]:
        default = self.entra.app("claude-api-federation").identifier_uris[0]
        imds_url = imds_url or self.base_url
        return {
            "base_url": self.base_url,
            "imds_url": imds_url,
            "token_url": f"{imds_url}{TOKEN_PATH}",
            "api_version": "2018-02-01",
            "tenant_id": self.entra.tenant_id,
            "resource": default,
            "identities": [
                {"name": i.name, "kind": i.kind, "object_id": i.object_id, "client_id": i.client_id,
                 "resource_id": i.resource_id}
                for i in (host or self.host).assigned()
            ],
        }


SPEC = MockSpec("imds", "http", factory=ImdsMock, requires=("entra",))
