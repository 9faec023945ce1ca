"""Start the whole mock stack in-process on loopback, one uvicorn server per mock.

Every socket is bound before any mock is built, so each mock knows every base URL (issuer URLs
must be exact). Each server runs in its own thread with its own event loop; a mock calling another
mock over https never blocks the one it calls.
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import uvicorn

from ..errors import ConfigurationError
from .base import LabContext, Mock, MockSpec, check_order, close_mock, start_mock
from .keys import KeyStore
from .tls import ensure_lab_tls, write_atomic

CONNECTION_VERSION = 1


def server_settings() -> tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]:
    """uvicorn's HTTP parser and the event loop each mock server runs on.

    ``httptools`` (llhttp, in C) parses a request in a fraction of pure-Python ``h11``'s time and ``uvloop``
    runs the loop and its TLS in C: together they took ~40 % of the CPU a token request costs the server
    (scripts/benchmark.py measures it). Both are declared dependencies; without them (a platform with no
    wheel) the mocks answer the same on ``h11`` and asyncio's own loop, only slower.
    """
    try:
        import httptools  # noqa: F401
        http = "httptools"
    except ImportError:
        http = "h11"
    try:
        import uvloop
        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    return http, factory


class _Server(threading.Thread):
    def __init__(self, name: str, app: Any, sock: socket.socket, tls: Any | None) -> None:
        super().__init__(name=f"wif-lab-{name}", daemon=True)
        kwargs: dict[str, Any] = {}
        if tls is not None:
            kwargs = {"ssl_certfile": str(tls.server_cert_chain), "ssl_keyfile": str(tls.server_key)}
        # log_config=None: uvicorn would otherwise re-apply its logging dictConfig (level INFO) for every
        # server it configures, racing a server that is already starting — whose "Started server process"
        # line then leaks into a notebook's stderr. The level alone is enough to keep the mocks quiet.
        http, self.loop_factory = server_settings()
        config = uvicorn.Config(
            app, log_level="critical", log_config=None, access_log=False, lifespan="off",
            timeout_graceful_shutdown=1, http=http, loop="none", **kwargs
        )
        self.server = uvicorn.Server(config)
        self.sock = sock
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with asyncio.Runner(loop_factory=self.loop_factory) as runner:
                runner.run(self.server.serve(sockets=[self.sock]))
        except BaseException as exc:  # surfaced by MockStack.start
            self.error = exc


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as exc:
        sock.close()
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigurationError(f"cannot listen on {host}:{port}: {reason}", hint=_bind_hint(exc, port)) from exc
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def _bind_hint(exc: BaseException, port: int) -> str:
    if isinstance(exc, socket.gaierror) or getattr(exc, "errno", None) == errno.EADDRNOTAVAIL:
        return "--host must be an address of this machine (`ip addr` lists them) or a name that resolves to one"
    if getattr(exc, "errno", None) == errno.EACCES and 0 < port < 1024:
        return "ports below 1024 need privileges: choose --port 1024 or higher, or 0 for free ports"
    return "choose another --port (or 0 for free ports) or stop the process using it"


def _url(scheme: str, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


class MockStack:
    """The running mocks of one lab; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        state_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        specs: Sequence[MockSpec] | None = None,
        connection_file: Path | None = None,
        run_dir: Path | None = None,
        seed: int = 20260617,
        connection_mode: int = 0o600,
        private: bool = False,
    ) -> None:
        from .registry import default_specs

        self.state_dir = Path(state_dir)
        self.host = host
        self.port = port
        self.specs = list(specs if specs is not None else default_specs())
        check_order(self.specs)
        self.connection_file = connection_file or self.state_dir / "connection.json"
        # Files of this running stack only (connection file's folder unless given): labs sharing a
        # state dir share keys and CA, never token files.
        self.run_dir = Path(run_dir) if run_dir else self.connection_file.parent
        self.seed = seed
        self.connection_mode = connection_mode  # 0o644 for a workshop's shared lab (attendees read it)
        self.private = private  # started for one kernel alone (the notebook runner's): it counts as that kernel's own
        self.mocks: dict[str, Mock] = {}
        self.context: LabContext | None = None
        self._servers: list[_Server] = []
        self.timings: dict[str, float] = {}

    def start(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tls = ensure_lab_tls(self.state_dir, self.host)
        self.timings["tls"] = time.perf_counter() - t0
        sockets: dict[str, socket.socket] = {}
        base_urls: dict[str, str] = {}
        try:
            for i, spec in enumerate(self.specs):
                sock = _bind(self.host, self.port + i if self.port else 0)
                sockets[spec.name] = sock
                base_urls[spec.name] = _url(spec.scheme, self.host, sock.getsockname()[1])
            keys = KeyStore(self.state_dir, self.run_dir / "keys")  # new keys land there if state_dir is read-only
            ctx = LabContext(self.state_dir, keys, tls, base_urls, seed=self.seed, run_dir=self.run_dir)
            self.context = ctx
            t1 = time.perf_counter()
            for spec in self.specs:
                mock = spec.factory(ctx)
                ctx.mocks[spec.name] = mock
                self.mocks[spec.name] = mock
            self.timings["build"] = time.perf_counter() - t1
            for spec in self.specs:
                server = _Server(spec.name, self.mocks[spec.name].asgi(), sockets[spec.name],
                                 tls if spec.scheme == "https" else None)
                self._servers.append(server)
                server.start()
            deadline = time.monotonic() + 15
            for server in self._servers:
                while not server.server.started:
                    if server.error or not server.is_alive():
                        raise RuntimeError(f"mock {server.name} failed to start: {server.error!r}")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"mock {server.name} did not start within 15 s")
                    time.sleep(0.005)
            for mock in self.mocks.values():  # non-HTTP services (a Unix-socket gRPC API), once peers answer
                start_mock(mock)
            connection = self.connection()
        except BaseException:
            self.stop()
            for sock in sockets.values():
                sock.close()
            raise
        self.timings["total"] = time.perf_counter() - t0
        write_atomic(self.connection_file, (json.dumps(connection, indent=2) + "\n").encode(),
                     self.connection_mode)
        return connection

    def connection(self) -> dict[str, Any]:
        assert self.context is not None, "start() the stack first"
        data: dict[str, Any] = {
            "version": CONNECTION_VERSION,
            "ca_bundle": str(self.context.tls.ca_bundle),
            "state_dir": str(self.state_dir),
        }
        if self.private:
            data["private"] = True
        for name, mock in self.mocks.items():
            section = mock.connection()
            if not isinstance(section.get("base_url"), str):
                raise RuntimeError(f"mock {name!r}: its connection() must name its base_url")
            # A mock may file its section under the name users know it by (the cluster is an AKS one).
            data[getattr(mock, "connection_section", name)] = section
        return data

    def stop(self) -> None:
        for server in self._servers:
            server.server.should_exit = True
            server.server.force_exit = True  # don't wait for idle keep-alive connections to close
        for server in self._servers:
            server.join(timeout=5)
        self._servers.clear()
        for mock in self.mocks.values():
            close_mock(mock)

    def __enter__(self) -> MockStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

