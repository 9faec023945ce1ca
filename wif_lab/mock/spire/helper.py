"""A stand-in for spiffe-helper: the sidecar that keeps a JWT-SVID in a file for a workload to read.

spiffe-helper is a Go binary (not on PyPI). The Claude guide runs it beside the workload with
``helper.conf``::

    agent_address = "/run/spire/sockets/agent.sock"
    cert_dir = "/var/run/secrets/anthropic.com"
    daemon_mode = true
    jwt_svids = [{ jwt_audience = "https://api.anthropic.com", jwt_svid_file_name = "token" }]

and the workload reads ``ANTHROPIC_IDENTITY_TOKEN_FILE=/var/run/secrets/anthropic.com/token``. What the
stand-in keeps of the real one (``pkg/sidecar/sidecar.go``, ``pkg/disk/json.go``): it asks the agent's
Workload API over the socket for a JWT-SVID with that audience (the first SVID, or the one whose hint is
``hint``), writes the bare token to ``<cert_dir>/<jwt_svid_file_name>`` with mode 0600 (the
``jwt_svid_file_mode`` default), and in daemon mode fetches again after half the SVID's remaining
lifetime plus a second; a failed fetch is retried with backoff and the old file stays.

Lab deviations: the file is replaced atomically (the real helper rewrites it in place, so a reader can
catch it half-written); ``jwt_extra_audiences``, the bundle file and the X.509 files are not written.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt

from ...workload_api import SECURITY_HEADER, SECURITY_HEADER_VALUE, messages, service, socket_target
from ..tls import write_atomic

FILE_MODE = 0o600
RETRY_START, RETRY_MAX = 1.0, 30.0


@dataclass(frozen=True)
class HelperConfig:
    """The keys of ``helper.conf`` the stand-in reads, under their real names."""

    agent_address: str
    cert_dir: str
    jwt_audience: str
    jwt_svid_file_name: str = "token"
    daemon_mode: bool = True
    hint: str = ""

    @property
    def token_file(self) -> Path:
        return Path(self.cert_dir) / self.jwt_svid_file_name

    def conf(self, *, cert_dir: str | None = None, agent_address: str | None = None) -> str:
        """The ``helper.conf`` a deployment would mount (paths may be replaced by the pod's own)."""
        lines = [f'agent_address = "{agent_address or self.agent_address}"',
                 f'cert_dir = "{cert_dir or self.cert_dir}"',
                 f"daemon_mode = {str(self.daemon_mode).lower()}",
                 f'jwt_svids = [{{ jwt_audience = "{self.jwt_audience}", '
                 f'jwt_svid_file_name = "{self.jwt_svid_file_name}" }}]']
        if self.hint:
            lines.insert(3, f'hint = "{self.hint}"')
        return "\n".join(lines) + "\n"


class SpiffeHelper:
    """Fetches and writes the JWT-SVID once (:meth:`update`) or keeps it fresh in a thread (:meth:`start`)."""

    def __init__(self, config: HelperConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.writes = 0
        self.last_error: str | None = None
        self.claims: dict[str, Any] = {}
        self._thread: _Daemon | None = None

    def fetch(self, timeout: float = 5.0) -> str:
        with grpc.insecure_channel(socket_target(self.config.agent_address)) as channel:
            stub = service.SpiffeWorkloadAPIStub(channel)
            response = stub.FetchJWTSVID(messages.JWTSVIDRequest(audience=[self.config.jwt_audience]),
                                         metadata=[(SECURITY_HEADER, SECURITY_HEADER_VALUE)], timeout=timeout)
        if not response.svids:
            raise RuntimeError("JWT SVID response is empty")
        if not self.config.hint:
            return str(response.svids[0].svid)
        for svid in response.svids:
            if svid.hint == self.config.hint:
                return str(svid.svid)
        raise RuntimeError("failed to find the hinted JWT SVID")

    def update(self) -> float:
        """Fetch and write once; returns the seconds until the next refresh is due."""
        token = self.fetch()
        write_atomic(self.config.token_file, token.encode(), FILE_MODE)
        self.writes += 1
        self.last_error = None
        self.claims = jwt.decode(token, options={"verify_signature": False})
        return max(1.0, (int(self.claims["exp"]) - self.clock()) / 2 + 1)

    def start(self) -> None:
        """Daemon mode: write now, then keep the file fresh until :meth:`stop`."""
        delay = self.update()
        if self.config.daemon_mode and (self._thread is None or not self._thread.is_alive()):
            self._thread = _Daemon(self, delay)
            self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.stopped.set()
            thread.join(timeout=5)


class _Daemon(threading.Thread):
    """The refresh loop; holds the helper weakly, so a dropped lab ends it."""

    def __init__(self, helper: SpiffeHelper, delay: float) -> None:
        super().__init__(name="wif-lab-spiffe-helper", daemon=True)
        self._helper = weakref.ref(helper)
        self.delay = delay
        self.stopped = threading.Event()

    def run(self) -> None:
        retry = RETRY_START
        while not self.stopped.wait(self.delay):
            helper = self._helper()
            if helper is None:
                return
            try:
                self.delay = helper.update()
                retry = RETRY_START
            except (grpc.RpcError, RuntimeError, OSError, KeyError, ValueError) as exc:
                helper.last_error = str(exc)
                self.delay, retry = retry, min(retry * 2, RETRY_MAX)
            del helper
