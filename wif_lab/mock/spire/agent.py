"""The SPIRE agent's Workload API: gRPC over a Unix domain socket, ``FetchJWTSVID`` and ``FetchJWTBundles``.

Follows the SPIFFE Workload API standard and SPIRE's agent (``pkg/agent/endpoints/middleware.go``,
``pkg/agent/endpoints/workload/handler.go``, ``pkg/agent/manager/manager.go``), as recorded in
``shared/reference/providers.md`` §5.2:

- every call must carry the metadata ``workload.spiffe.io: true`` exactly once, or it ends with
  ``INVALID_ARGUMENT`` "security header missing from request" before anything else is looked at;
- ``FetchJWTSVID``: an empty audience list is ``INVALID_ARGUMENT`` "audience must be specified"; a
  malformed ``spiffe_id`` is ``INVALID_ARGUMENT`` "invalid requested SPIFFE ID: …" (go-spiffe's words);
  the caller is attested, and every registration entry its selectors satisfy (only the one named by
  ``spiffe_id``, when given) yields an SVID; none is ``PERMISSION_DENIED`` "no identity issued"; a server
  that refuses to sign (audiences that are all empty) is ``UNAVAILABLE`` "could not fetch JWT-SVID: …";
- the agent keeps a JWT-SVID per (SPIFFE ID, audience) and hands the same one out until half its
  lifetime has passed (``JWTSVIDExpiresSoon``); an entry with ``jwt_svid_include_jti`` bypasses the cache;
- ``FetchJWTBundles`` streams ``{"spiffe://<trust domain>": <JWKS bytes>}``, first at once and again
  whenever the bundle changes; a caller with no identity gets ``PERMISSION_DENIED`` "no identity issued".

Lab deviations. The real agent attests a caller by its process id (the kernel tells it who is on the
other end of the socket); grpcio does not expose that, so the lab gives each simulated workload a socket
of its own and attests every caller of a socket with that workload's selectors. The X.509 RPCs and
``ValidateJWTSVID`` answer ``UNIMPLEMENTED`` (the lab issues no X.509-SVIDs; Claude takes only
JWT-SVIDs). A server refusal is answered at once, where the real agent first retries for up to 30 s. The
thread pool serves at most ``MAX_CONCURRENT_RPCS`` calls at a time (each open bundle stream holds one);
more are refused with ``RESOURCE_EXHAUSTED`` instead of queueing behind streams that never end.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from ...workload_api import (
    FETCH_JWT_BUNDLES,
    FETCH_JWT_SVID,
    SECURITY_HEADER,
    SECURITY_HEADER_VALUE,
    SERVICE_NAME,
    messages,
    service,
)
from .errors import (
    WorkloadApiError,
    audience_required,
    fetch_failed,
    invalid_spiffe_id,
    no_identity,
    security_header_missing,
)
from .ids import InvalidSpiffeId, parse
from .server import Entry, SigningFailed, SpireServer

MAX_CONCURRENT_RPCS = 32
_STREAMING = {"FetchX509SVID", "FetchX509Bundles", "FetchJWTBundles"}
_METHODS = {"FetchX509SVID", "FetchX509Bundles", "FetchJWTSVID", "FetchJWTBundles", "ValidateJWTSVID"}
_POLL = 0.5  # how often an idle bundle stream checks whether its caller is still there


@dataclass(frozen=True)
class Workload:
    """A process the agent attests: its name in the lab, its selectors, and the socket it calls."""

    name: str
    selectors: frozenset[str]
    socket_path: Path


class _SecurityHeader(grpc.ServerInterceptor):
    """The agent's middleware: no Workload API method runs without the security header."""

    def intercept_service(self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails) -> Any:
        method = details.method
        if not method.startswith(f"/{SERVICE_NAME}/") or method.rsplit("/", 1)[-1] not in _METHODS:
            return continuation(details)  # unknown: grpc's own UNIMPLEMENTED
        values = [v for k, v in (details.invocation_metadata or ()) if k == SECURITY_HEADER]
        if values == [SECURITY_HEADER_VALUE]:
            return continuation(details)
        refusal = security_header_missing()

        def abort(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(refusal.code, refusal.details)

        if method.rsplit("/", 1)[-1] in _STREAMING:
            return grpc.unary_stream_rpc_method_handler(abort)
        return grpc.unary_unary_rpc_method_handler(abort)


class _Servicer(service.SpiffeWorkloadAPIServicer):
    """The Workload API as one workload's socket answers it."""

    def __init__(self, agent: Agent, workload: Workload) -> None:
        self.agent = agent
        self.workload = workload

    def FetchJWTSVID(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.agent.calls[FETCH_JWT_SVID] += 1
        try:
            svids = self.agent.fetch_jwt_svids(self.workload, list(request.audience), request.spiffe_id)
        except WorkloadApiError as exc:
            context.abort(exc.code, exc.details)
        return messages.JWTSVIDResponse(svids=[
            messages.JWTSVID(spiffe_id=entry.spiffe_id, svid=token, hint=entry.hint) for entry, token in svids])

    def FetchJWTBundles(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self.agent.calls[FETCH_JWT_BUNDLES] += 1
        if not self.agent.server.matching(self.workload.selectors):
            context.abort(*_status(no_identity()))
        wake = threading.Event()
        context.add_callback(wake.set)  # the caller went away: stop waiting at once
        self.agent.subscribe(wake)
        try:
            sent = -1
            while context.is_active() and not self.agent.closing.is_set():
                revision, bundles = self.agent.bundles()
                if revision != sent:
                    sent = revision
                    yield messages.JWTBundlesResponse(bundles=bundles)
                wake.wait(_POLL)
                wake.clear()
        finally:
            self.agent.unsubscribe(wake)


def _status(error: WorkloadApiError) -> tuple[grpc.StatusCode, str]:
    return error.code, error.details


class Agent:
    """One SPIRE agent on a node: the server it asks, the workloads it attests, their sockets."""

    def __init__(self, server: SpireServer, clock: Callable[[], float]) -> None:
        self.server = server
        self.clock = clock
        self.workloads: dict[str, Workload] = {}
        self.calls = {FETCH_JWT_SVID: 0, FETCH_JWT_BUNDLES: 0}
        self.closing = threading.Event()
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[str, int, int]] = {}
        self._lock = threading.Lock()
        self._subscribers: set[threading.Event] = set()
        self._servers: list[grpc.Server] = []
        self._pools: list[futures.ThreadPoolExecutor] = []

    def add_workload(self, name: str, selectors: frozenset[str], socket_path: Path) -> Workload:
        workload = Workload(name, selectors, socket_path)
        self.workloads[name] = workload
        return workload

    # -- the logic, apart from gRPC so tests and the lab can call it

    def fetch_jwt_svids(self, workload: Workload, audience: list[str], spiffe_id: str = "") -> list[tuple[Entry, str]]:
        if not audience:
            raise audience_required()
        if spiffe_id:
            try:
                parse(spiffe_id)
            except InvalidSpiffeId as exc:
                raise invalid_spiffe_id(str(exc)) from None
        found = []
        for entry in self.server.matching(workload.selectors):
            if spiffe_id and entry.spiffe_id != spiffe_id:
                continue
            found.append((entry, self._svid(entry, audience)))
        if not found:
            raise no_identity()
        return found

    def _svid(self, entry: Entry, audience: list[str]) -> str:
        key = (entry.spiffe_id, tuple(sorted(audience)))
        now = int(self.clock())
        if not entry.include_jti:
            with self._lock:
                cached = self._cache.get(key)
            if cached is not None:
                token, iat, exp = cached
                if now < exp - (exp - iat) // 2:  # not yet past half its lifetime
                    return token
        try:
            token = self.server.mint(entry, audience)
        except SigningFailed as exc:
            raise fetch_failed(str(exc)) from None
        if not entry.include_jti:
            claims = json.loads(_payload(token))
            with self._lock:
                self._cache[key] = (token, int(claims["iat"]), int(claims["exp"]))
        return token

    def flush_cache(self) -> None:
        """Drop the cached JWT-SVIDs (what restarting the agent does)."""
        with self._lock:
            self._cache.clear()

    def bundles(self) -> tuple[int, dict[str, bytes]]:
        revision = self.server.revision
        jwks = json.dumps(self.server.jwks(), separators=(",", ":")).encode()
        return revision, {self.server.trust_domain_id: jwks}

    def subscribe(self, wake: threading.Event) -> None:
        with self._lock:
            self._subscribers.add(wake)

    def unsubscribe(self, wake: threading.Event) -> None:
        with self._lock:
            self._subscribers.discard(wake)

    def notify(self) -> None:
        """Wake every bundle stream: the bundle (or the entries) changed."""
        with self._lock:
            waiting = list(self._subscribers)
        for wake in waiting:
            wake.set()

    # -- serving

    @property
    def running(self) -> bool:
        return bool(self._servers)

    def start(self) -> None:
        if self._servers:
            return
        self.closing.clear()
        for workload in self.workloads.values():
            path = workload.socket_path
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() or path.is_symlink():
                path.unlink()  # a socket left by a lab that did not stop cleanly
            # A pool per socket: streams held open on one socket never starve another's calls.
            pool = futures.ThreadPoolExecutor(max_workers=MAX_CONCURRENT_RPCS, thread_name_prefix="wif-lab-spire")
            self._pools.append(pool)
            server = grpc.server(pool, interceptors=[_SecurityHeader()], maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS)
            service.add_SpiffeWorkloadAPIServicer_to_server(_Servicer(self, workload), server)
            if not server.add_insecure_port(f"unix:{path}"):
                raise RuntimeError(f"cannot listen on the Unix socket {path}")
            server.start()
            os.chmod(path, 0o777)  # SPIRE's socket is open to every local user: attestation decides
            self._servers.append(server)

    def stop(self) -> None:
        self.closing.set()
        self.notify()
        servers, self._servers = self._servers, []
        events = [server.stop(grace=0.5) for server in servers]
        for done in events:
            done.wait(5)
        pools, self._pools = self._pools, []
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
        for workload in self.workloads.values():
            with contextlib.suppress(OSError):
                workload.socket_path.unlink()


def _payload(token: str) -> bytes:
    segment = token.split(".")[1]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
