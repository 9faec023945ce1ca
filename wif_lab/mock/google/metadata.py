"""Mock Compute Engine / GKE metadata server: the identity endpoint a workload asks for its Google ID
token, plain http as the real one (``http://metadata.google.internal/computeMetadata/v1/``).

Follows Google's "Verifying the identity of instances" and ``shared/reference/providers.md`` §2.2-2.5:

- ``GET /computeMetadata/v1/instance/service-accounts/<default|email>/identity?audience=…[&format=full]
  [&licenses=TRUE]`` answers the raw JWT as text; each request mints a new token (one hour);
  ``format=standard`` (the default) gives only ``aud``, ``azp``, ``exp``, ``iat``, ``iss``, ``sub``;
  ``format=full`` adds ``email``, ``email_verified`` and ``google.compute_engine``;
- every request but the root ping must carry ``Metadata-Flavor: Google`` (403 ``Missing required header
  "Metadata-Flavor": "Google"`` without it, Google's 404 page for another value); any
  ``X-Forwarded-For`` is refused with 403; a missing or empty ``audience`` is 400 ``non-empty audience
  parameter required``; every answer carries ``Metadata-Flavor: Google`` and ``Server: Metadata Server
  for VM``;
- ``GET /`` (what google-auth's ``ping`` asks, without the header) answers 200 with the flavor header;
- ``instance/service-accounts/default/?recursive=true`` gives the account's ``email``/``aliases``/``scopes``
  as JSON (google-auth's ID-token credentials read it first), plus the few plain values a workload reads
  (``email``, ``project/project-id``, ``project/numeric-project-id``, ``instance/name|id|zone``).

Inferred [no source]: a ``format`` other than ``standard``/``full`` or a ``licenses`` other than
``TRUE``/``FALSE`` is 400 with a sentence saying so; a method other than GET is 405; a query that is not
UTF-8 is 400 ``Bad Request``.

Not modelled: OAuth access tokens (``…/token``), attributes and the rest of the metadata tree (404, as
any unknown path); bound tokens (the POST with a certificate chain).

Lab deviation: every machine the lab plays shares one loopback port, so each but the default VM answers
under a path prefix: ``/vms/<name>/computeMetadata/v1/…`` and, for a GKE pod,
``/pods/<namespace>/<service account>/computeMetadata/v1/…``. google-auth takes a prefix in
``GCE_METADATA_HOST`` (``127.0.0.1:<port>/pods/inference/claude-inference``), so the real client reaches
each one unchanged. On GKE the pod's identity is the Google service account its Kubernetes service
account is annotated with (``iam.gke.io/gcp-service-account``), and ``google.compute_engine`` describes
the node, as the Claude page says (Google's own wording on this was not found).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from ..base import LabContext, MockSpec
from ..errors import EXCEPTION_HANDLERS
from ..inbound import Rejected, query_pairs
from .accounts import FORMATS, GoogleAccounts
from .errors import FORBIDDEN, MISSING_AUDIENCE, MISSING_FLAVOR, RESPONSE_HEADERS, MetadataRefusal, not_found
from .model import Host

V1 = "/computeMetadata/v1"
IDENTITY_PATH = f"{V1}/instance/service-accounts/default/identity"
TEXT = "application/text"
DEFAULT_AUDIENCE = "https://api.anthropic.com"
Endpoint = Callable[[Request, Host, dict[str, str]], Awaitable[Response]]
# Every route takes every method, so a wrong one meets the same checks and the server's own 405.
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _answer(body: str, content_type: str = TEXT) -> Response:
    return Response(body, headers=RESPONSE_HEADERS, media_type=content_type)


class MetadataServer:
    """The metadata servers of the lab's Google Cloud machines (a VM by default, others by prefix)."""

    name = "gce_metadata"
    connection_section = "gcp"

    def __init__(self, ctx: LabContext, google: GoogleAccounts | None = None) -> None:
        found = google or ctx.mocks.get("google")
        if not isinstance(found, GoogleAccounts):
            raise RuntimeError("the metadata server needs Google's issuer: build 'google' before 'gce_metadata'")
        self.ctx = ctx
        self.google = found
        self.cloud = found.cloud
        self.base_url = ctx.base_url(self.name)
        self.requests = 0
        # host, audience and format of the latest tokens minted (bounded: a served lab runs for days)
        self.identity_requests: deque[dict[str, str]] = deque(maxlen=100)

    # -- checks every request passes, in the real server's order

    def _guard(self, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            self.requests += 1
            if "x-forwarded-for" in request.headers:
                raise MetadataRefusal(403, FORBIDDEN)
            root = request.scope["path"] == "/"  # exactly: a regex "$" would also let "/\n" through
            flavor = request.headers.get("metadata-flavor")
            if flavor is None and not root:
                raise MetadataRefusal(403, MISSING_FLAVOR)
            if flavor != "Google" and not root:
                raise not_found(request.url.path)
            if request.method != "GET":
                raise MetadataRefusal(405, "Method Not Allowed")
            try:
                params: dict[str, str] = {}
                for key, value in query_pairs(request):
                    params.setdefault(key, value)  # the first value counts, as in Go's Query().Get
            except Rejected:
                raise MetadataRefusal(400, "Bad Request") from None
            host = self._host(request)
            if host is None and not root:
                raise not_found(request.url.path)
            return await endpoint(request, host, params)  # type: ignore[arg-type]

        return guarded

    def _host(self, request: Request) -> Host | None:
        p = request.path_params
        if "vm" in p:
            return self.cloud.host_at(f"/vms/{p['vm']}")
        if "namespace" in p:
            return self.cloud.host_at(f"/pods/{p['namespace']}/{p['ksa']}")
        return self.cloud.host_at("")

    @staticmethod
    def _account(host: Host, request: Request) -> None:
        if request.path_params.get("account") not in ("default", host.service_account.email):
            raise not_found(request.url.path)

    # -- endpoints

    async def root(self, request: Request, host: Host | None, params: dict[str, str]) -> Response:
        if request.scope["path"] != "/":
            raise not_found(request.url.path)
        return _answer("computeMetadata/\n")

    async def identity(self, request: Request, host: Host, params: dict[str, str]) -> Response:
        self._account(host, request)
        audience = params.get("audience", "")
        if not audience:
            raise MetadataRefusal(400, MISSING_AUDIENCE)
        form = params.get("format", "standard")
        if form not in FORMATS:
            raise MetadataRefusal(400, "invalid format parameter: use standard or full")
        licenses = params.get("licenses", "FALSE").upper()
        if licenses not in ("TRUE", "FALSE"):
            raise MetadataRefusal(400, "invalid licenses parameter: use TRUE or FALSE")
        token = self.google.mint(host, audience, full=form == "full", licenses=licenses == "TRUE")
        self.identity_requests.append({"host": host.name, "audience": audience, "format": form})
        return _answer(token, "text/html; charset=utf-8")

    async def account(self, request: Request, host: Host, params: dict[str, str]) -> Response:
        self._account(host, request)
        sa = host.service_account
        if params.get("recursive", "").lower() == "true":
            info = {"aliases": ["default"], "email": sa.email, "scopes": list(host.scopes)}
            return _answer(json.dumps(info), "application/json")
        return _answer("aliases\nemail\nidentity\nscopes\ntoken\n")

    async def account_redirect(self, request: Request, host: Host, params: dict[str, str]) -> Response:
        target = request.url.path + "/"
        return Response(target + "\n", status_code=301, headers={**RESPONSE_HEADERS, "Location": target},
                        media_type="text/html")

    async def accounts(self, request: Request, host: Host, params: dict[str, str]) -> Response:
        if params.get("recursive", "").lower() == "true":
            sa = host.service_account
            info = {"aliases": ["default"], "email": sa.email, "scopes": list(host.scopes)}
            return _answer(json.dumps({"default": info, sa.email: info}), "application/json")
        return _answer(f"default/\n{host.service_account.email}/\n")

    async def email(self, request: Request, host: Host, params: dict[str, str]) -> Response:
        self._account(host, request)
        return _answer(host.service_account.email)

    def _value(self, read: Callable[[Host], str]) -> Endpoint:
        async def endpoint(request: Request, host: Host, params: dict[str, str]) -> Response:
            return _answer(read(host))

        return endpoint

    async def unknown(self, request: Request, host: Host | None, params: dict[str, str]) -> Response:
        raise not_found(request.url.path)

    # -- routing

    def _route(self, path: str, endpoint: Endpoint) -> Route:
        return Route(path, self._guard(endpoint), methods=ALL_METHODS)

    def _machine_routes(self) -> list[BaseRoute]:
        r = self._route
        accounts = f"{V1}/instance/service-accounts"
        return [
            r(f"{accounts}/{{account}}/identity", self.identity),
            r(f"{accounts}/{{account}}/email", self.email),
            r(f"{accounts}/{{account}}/", self.account),
            r(f"{accounts}/{{account}}", self.account_redirect),
            r(f"{accounts}/", self.accounts),
            r(f"{V1}/project/project-id", self._value(lambda h: h.instance.project.project_id)),
            r(f"{V1}/project/numeric-project-id", self._value(lambda h: str(h.instance.project.project_number))),
            r(f"{V1}/instance/name", self._value(lambda h: h.instance.name)),
            r(f"{V1}/instance/id", self._value(lambda h: h.instance.instance_id)),
            r(f"{V1}/instance/zone",
              self._value(lambda h: f"projects/{h.instance.project.project_number}/zones/{h.instance.zone}")),
            r("/{path:path}", self.unknown),  # anything else: Google's 404 page, after the same checks
        ]

    def asgi(self) -> Starlette:
        machine = self._machine_routes()
        return Starlette(
            routes=[
                self._route("/", self.root),
                Mount("/vms/{vm}", routes=machine),
                Mount("/pods/{namespace}/{ksa}", routes=machine),
                *machine,
            ],
            # A path no route pattern can match (one with a line break): the same checks, then the 404 page.
            exception_handlers={**EXCEPTION_HANDLERS, 404: self._no_route},  # type: ignore[dict-item]
        )

    async def _no_route(self, request: Request, exc: Exception) -> Response:
        try:
            return await self._guard(self.unknown)(request)
        except MetadataRefusal as refusal:
            return refusal.response()

    def connection(self) -> dict[str, Any]:
        netloc = urlsplit(self.base_url).netloc
        workload = self.cloud.hosts["inference-vm"]
        return {
            "base_url": self.base_url,
            "metadata_host": netloc,  # GCE_METADATA_HOST (google-auth) for the default VM
            "metadata_ip": netloc,  # GCE_METADATA_IP: where google-auth pings
            "identity_url": self.base_url + IDENTITY_PATH,
            "audience": DEFAULT_AUDIENCE,
            "project_id": self.cloud.project.project_id,
            "project_number": self.cloud.project.project_number,
            "service_account": workload.service_account.email,
            "unique_id": workload.service_account.unique_id,
            "hosts": [
                {"name": h.name, "kind": h.kind, "metadata_host": netloc + h.prefix,
                 "service_account": h.service_account.email, "unique_id": h.service_account.unique_id,
                 "user_managed": h.service_account.user_managed, "project_id": h.instance.project.project_id,
                 "instance_name": h.instance.name, "zone": h.instance.zone, **({"kubernetes": h.kubernetes}
                                                                                if h.kubernetes else {})}
                for h in self.cloud.hosts.values()
            ],
        }


SPEC = MockSpec("gce_metadata", "http", factory=MetadataServer, requires=("google",))
