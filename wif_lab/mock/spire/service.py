"""One SPIRE deployment in the lab: server, agent (Workload API socket), OIDC Discovery Provider and the
spiffe-helper sidecar of the guide's workload; its routes and its connection-file section.

The guide's values: trust domain ``prod.example.com``, the workload
``spiffe://prod.example.com/ns/inference/sa/worker`` (selectors ``k8s:ns:inference``, ``k8s:sa:worker``,
parent the node's agent), ``jwt_issuer`` equal to the discovery provider's URL (here the provider's
loopback https address), ``default_jwt_svid_ttl`` 5 min. Two more callers on the same node: another
registered workload (``ns/batch/sa/reporter``), to show why a rule pins the exact SPIFFE ID, and a shell
that matches no entry (``no identity issued``, the guide's most common verify-step failure).

Lab-only routes on the provider's host (a real provider has none): ``GET/POST /lab/server`` reads or
changes ``jwt_issuer`` and ``default_jwt_svid_ttl`` as if ``server.conf`` were edited and server and agent
restarted (the agent's cached SVIDs are dropped); ``POST /lab/entries`` changes an entry's
``jwt_svid_ttl``; ``POST /lab/rotate`` publishes a new JWT signing key. Every change wakes the
``FetchJWTBundles`` streams and refreshes the helper's token file.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...workload_api import ANTHROPIC_AUDIENCE, endpoint_socket
from ..base import LabContext, MockSpec, seeded_guid
from ..inbound import Rejected, json_object
from .agent import Agent
from .discovery import DiscoveryProvider, app
from .helper import HelperConfig, SpiffeHelper
from .server import DEFAULT_JWT_SVID_TTL, ServerSettings, SpireServer

TRUST_DOMAIN = "prod.example.com"
WORKLOADS = {  # lab name → (selectors, the SPIFFE ID registered for them, or None: nothing registered)
    "worker": (frozenset({"k8s:ns:inference", "k8s:sa:worker"}), f"spiffe://{TRUST_DOMAIN}/ns/inference/sa/worker"),
    "reporter": (frozenset({"k8s:ns:batch", "k8s:sa:reporter"}), f"spiffe://{TRUST_DOMAIN}/ns/batch/sa/reporter"),
    "shell": (frozenset({"unix:uid:1000", "unix:user:operator"}), None),
}
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes; longer lab folders get their sockets under /tmp
TTL_RANGE = (1, 7 * 24 * 3600)


def _bad_request(description: str) -> JSONResponse:
    return JSONResponse({"error": "invalid_request", "error_description": description}, status_code=400)


class SpireMock:
    name = "spire"

    def __init__(self, ctx: LabContext) -> None:
        self.ctx = ctx
        self.base_url = ctx.base_url(self.name)
        host = self.base_url.split("://", 1)[1]
        self.domain = host.rsplit(":", 1)[0].strip("[]")
        self.server = SpireServer(ServerSettings(TRUST_DOMAIN, jwt_issuer=self.base_url), ctx.keys, ctx.clock,
                                  ctx.seed)
        node_uid = seeded_guid(ctx.seed, "spire:node")
        self.agent_id = f"spiffe://{TRUST_DOMAIN}/spire/agent/k8s_psat/prod-cluster/{node_uid}"
        self.root = ctx.runtime_dir / "spire"
        self._tmp_sockets: str | None = None
        sockets = self._socket_dir()
        self.agent = Agent(self.server, ctx.clock)
        for name, (selectors, spiffe_id) in WORKLOADS.items():
            if spiffe_id:
                self.server.register(spiffe_id, self.agent_id, selectors)
            path = sockets / "agent.sock" if name == "worker" else sockets / name / "agent.sock"
            self.agent.add_workload(name, selectors, path)
        self.provider = DiscoveryProvider(self.server, [self.domain])
        worker = self.agent.workloads["worker"]
        self.helper = SpiffeHelper(HelperConfig(agent_address=str(worker.socket_path),
                                                cert_dir=str(self.root / "anthropic.com"),
                                                jwt_audience=ANTHROPIC_AUDIENCE), ctx.clock)

    def _socket_dir(self) -> Path:
        wanted = self.root / "sockets"
        if len(str(wanted / "shell" / "agent.sock")) <= MAX_SOCKET_PATH:
            return wanted
        self._tmp_sockets = tempfile.mkdtemp(prefix="wif-spire-")
        return Path(self._tmp_sockets)

    # -- lifecycle (the stack calls start() once the HTTP servers answer, close() on stop)

    def start(self) -> None:
        self.agent.start()
        self.helper.start()

    def close(self) -> None:
        self.helper.stop()
        self.agent.stop()
        if self._tmp_sockets:
            shutil.rmtree(self._tmp_sockets, ignore_errors=True)

    # -- what an operator changes (lab: through /lab routes)

    def configure(self, **changes: Any) -> None:
        """Edit ``server.conf`` and restart server and agent: new SVIDs follow the new settings at once."""
        self.server.configure(**changes)
        self._changed()

    def _changed(self) -> None:
        self.agent.flush_cache()
        self.agent.notify()
        if self.agent.running:  # running: the sidecar picks the change up on its next fetch; do it now
            try:
                self.helper.update()
            except Exception as exc:  # the file keeps the old token, as the real helper's would
                self.helper.last_error = str(exc)

    def settings(self) -> dict[str, Any]:
        s = self.server.settings
        return {"trust_domain": s.trust_domain, "jwt_issuer": s.jwt_issuer,
                "default_jwt_svid_ttl": s.default_jwt_svid_ttl,
                "entries": [{"spiffe_id": e.spiffe_id, "parent_id": e.parent_id, "selectors": sorted(e.selectors),
                             "jwt_svid_ttl": e.jwt_svid_ttl} for e in self.server.entries],
                "jwt_authorities": [k["kid"] for k in self.server.jwks()["keys"]]}

    # -- HTTP: the lab's routes

    async def lab_server(self, request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(self.settings())
        usage = "body must be {jwt_issuer: string or null, default_jwt_svid_ttl: integer seconds}"
        try:
            body = await json_object(request)
        except Rejected as exc:
            return _bad_request(f"{exc.reason}; {usage}")
        changes: dict[str, Any] = {}
        if "jwt_issuer" in body:
            issuer = body["jwt_issuer"]
            if issuer is not None and (not isinstance(issuer, str) or len(issuer) > 2048):
                return _bad_request(usage)
            changes["jwt_issuer"] = issuer
        if "default_jwt_svid_ttl" in body:
            ttl = body["default_jwt_svid_ttl"]
            low, high = TTL_RANGE
            if type(ttl) is not int or not low <= ttl <= high:
                return _bad_request(f"{usage}; default_jwt_svid_ttl from {low} to {high}")
            changes["default_jwt_svid_ttl"] = ttl
        if set(body) - {"jwt_issuer", "default_jwt_svid_ttl"} or not changes:
            return _bad_request(usage)
        self.configure(**changes)
        return JSONResponse(self.settings())

    async def lab_entries(self, request: Request) -> Response:
        usage = "body must be {spiffe_id: a registered SPIFFE ID, jwt_svid_ttl: integer seconds, 0 for the default}"
        try:
            body = await json_object(request)
        except Rejected as exc:
            return _bad_request(f"{exc.reason}; {usage}")
        spiffe_id, ttl = body.get("spiffe_id"), body.get("jwt_svid_ttl")
        if set(body) != {"spiffe_id", "jwt_svid_ttl"} or not isinstance(spiffe_id, str) or type(ttl) is not int \
                or not 0 <= ttl <= TTL_RANGE[1]:
            return _bad_request(usage)
        try:
            self.server.update_entry(spiffe_id, jwt_svid_ttl=ttl)
        except KeyError:
            return _bad_request(f"no entry for {spiffe_id!r}; {usage}")
        self._changed()
        return JSONResponse(self.settings())

    async def lab_rotate(self, request: Request) -> Response:
        kid = self.server.rotate()
        self._changed()
        return JSONResponse({"kid": kid, **self.settings()})

    def asgi(self) -> Any:
        return app([
            *self.provider.routes(),
            Route("/lab/server", self.lab_server, methods=["GET", "POST"]),
            Route("/lab/entries", self.lab_entries, methods=["POST"]),
            Route("/lab/rotate", self.lab_rotate, methods=["POST"]),
        ])

    def connection(self) -> dict[str, Any]:
        worker = self.agent.workloads["worker"]
        settings = self.server.settings
        return {
            "base_url": self.base_url,  # the OIDC Discovery Provider
            "issuer": self.base_url,
            "discovery_url": f"{self.base_url}/.well-known/openid-configuration",
            "jwks_uri": f"{self.base_url}/keys",
            "trust_domain": settings.trust_domain,
            "jwt_issuer": settings.jwt_issuer,
            "default_jwt_svid_ttl": DEFAULT_JWT_SVID_TTL,
            "spiffe_id": WORKLOADS["worker"][1],
            "audience": ANTHROPIC_AUDIENCE,
            "socket_path": str(worker.socket_path),
            "endpoint_socket": endpoint_socket(str(worker.socket_path)),
            "token_file": str(self.helper.config.token_file),
            "helper_conf": self.helper.config.conf(),
            "workloads": {name: {"socket_path": str(w.socket_path),
                                 "endpoint_socket": endpoint_socket(str(w.socket_path)),
                                 "selectors": sorted(w.selectors), "spiffe_id": WORKLOADS[name][1]}
                          for name, w in self.agent.workloads.items()},
            "server_url": f"{self.base_url}/lab/server",
            "entries_url": f"{self.base_url}/lab/entries",
            "rotate_url": f"{self.base_url}/lab/rotate",
        }


SPEC = MockSpec("spire", "https", factory=SpireMock)
