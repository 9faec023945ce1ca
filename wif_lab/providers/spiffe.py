"""Workload side of SPIFFE/SPIRE: a JWT-SVID from the Workload API, or from spiffe-helper's token file.

The Claude guide's SPIFFE page gives a workload two ways to its JWT-SVID, both with the audience
``https://api.anthropic.com``: read the file spiffe-helper keeps (``ANTHROPIC_IDENTITY_TOKEN_FILE``), or ask
the local SPIRE agent's Workload API itself (py-spiffe's ``JwtSource``, which reads
``SPIFFE_ENDPOINT_SOCKET``). This module does the second by hand, over gRPC on the Unix socket with the
``workload.spiffe.io: true`` metadata, so a notebook can show each part and turn every refusal into a
:class:`SpiffeRefused` that says what to check; ``examples/spiffe`` ships py-spiffe's ``JwtSource`` unchanged.

Refusals are gRPC statuses, keyed here by the status code's name (``PERMISSION_DENIED``, …).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jwt

from ..errors import ConfigurationError, ProviderError
from ..redact import Secret, redact
from ..workload_api import (
    ANTHROPIC_AUDIENCE,
    ENDPOINT_SOCKET_ENV,
    SECURITY_HEADER,
    SECURITY_HEADER_VALUE,
    messages,
    service,
    socket_target,
)

DEFAULT_TIMEOUT = 5.0
TOKEN_FILE_ENV = "ANTHROPIC_IDENTITY_TOKEN_FILE"

HINTS: dict[str, str] = {
    "PERMISSION_DENIED": (
        "the agent attested this process but no registration entry matches its selectors: check "
        "`spire-server entry show` for an entry whose selectors this workload has (k8s:ns:…, k8s:sa:…, unix:uid:…) "
        "and whose parent is this node's agent; a shell on the node is not the workload"),
    "INVALID_ARGUMENT": (
        "the request itself: every call needs the metadata workload.spiffe.io: true (SPIFFE libraries add it), "
        "an audience (https://api.anthropic.com), and a requested SPIFFE ID, if any, that is well formed"),
    "UNAVAILABLE": (
        "that the SPIRE agent is running and SPIFFE_ENDPOINT_SOCKET (unix:///…/agent.sock) names its socket, "
        "mounted into this container; if the agent answers, it could not get the SVID signed by the server"),
    "UNIMPLEMENTED": "the agent does not serve that call (the lab issues JWT-SVIDs only)",
    "RESOURCE_EXHAUSTED": "the agent is rate-limiting this workload: retry with backoff",
    "DEADLINE_EXCEEDED": "the agent did not answer in time: is it healthy (spire-agent healthcheck)?",
}
DEFAULT_HINT = "the agent's log (spire-agent) for this call"


class SpiffeRefused(ProviderError):
    """The Workload API ended the call with a gRPC status: ``code`` (its name) and the agent's ``details``."""

    def __init__(self, message: str, *, code: str, details: str, hint: str | None = None) -> None:
        # No HTTP here: ``status`` is 0 and ``error`` carries the gRPC code, so tables that show
        # ProviderError's fields still read well.
        super().__init__(message, status=0, error=code, description=details, hint=hint)
        self.code = code
        self.details = details


def refusal(error: grpc.RpcError) -> SpiffeRefused:
    """One :class:`SpiffeRefused` from a failed Workload API call."""
    code = error.code().name if isinstance(error, grpc.Call) and error.code() is not None else "UNKNOWN"
    details = (error.details() if isinstance(error, grpc.Call) else "") or ""
    return SpiffeRefused(f"the SPIRE agent refused the call ({code}): {details}", code=code, details=details,
                         hint=HINTS.get(code, DEFAULT_HINT))


@dataclass(frozen=True, repr=False)
class JwtSvid:
    """One JWT-SVID as the Workload API hands it out; the token is a :class:`Secret`."""

    spiffe_id: str
    token: Secret
    hint: str = ""
    claims: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_message(cls, svid: Any) -> JwtSvid:
        token = str(svid.svid)
        return cls(str(svid.spiffe_id), Secret(token), str(svid.hint),
                   jwt.decode(token, options={"verify_signature": False}))

    @property
    def lifetime(self) -> int:
        return int(self.claims["exp"]) - int(self.claims["iat"])

    def __repr__(self) -> str:
        return (f"JwtSvid({self.spiffe_id!r}, iss={self.claims.get('iss')!r}, aud={self.claims.get('aud')!r}, "
                f"lifetime={self.lifetime} s, token={redact(self.token, short=True)!r})")


def _socket(endpoint: str | None) -> str:
    value = endpoint or os.environ.get(ENDPOINT_SOCKET_ENV, "")
    if not value:
        raise ConfigurationError(
            f"{ENDPOINT_SOCKET_ENV} is not set: no SPIRE agent socket to ask",
            hint="mount the agent's socket into the container (hostPath /run/spire/sockets or the SPIFFE CSI driver) "
                 f"and set {ENDPOINT_SOCKET_ENV}=unix:///run/spire/sockets/agent.sock; in the lab, use the "
                 "connection file's spire section")
    path = Path(socket_target(value).removeprefix("unix:"))
    if not value.startswith(("unix:", "/")):
        raise ConfigurationError(f"{ENDPOINT_SOCKET_ENV}={value!r} is not a Unix socket",
                                 hint="unix:///absolute/path/to/agent.sock (py-spiffe supports Unix sockets only)")
    if not path.exists():
        raise ConfigurationError(f"the SPIRE agent socket {path} does not exist",
                                 hint="that the agent runs on this node and its socket is mounted at that path")
    return socket_target(value)


class WorkloadApiClient:
    """Asks the local SPIRE agent for JWT-SVIDs and bundles; ``endpoint`` defaults to ``SPIFFE_ENDPOINT_SOCKET``.

    ``security_header=False`` leaves the ``workload.spiffe.io`` metadata out, to show how the agent answers
    a caller that is not a SPIFFE library (lab demonstrations only).
    """

    def __init__(self, endpoint: str | None = None, *, timeout: float = DEFAULT_TIMEOUT,
                 security_header: bool = True) -> None:
        self.target = _socket(endpoint)
        self.timeout = timeout
        self.security_header = security_header

    @property
    def metadata(self) -> list[tuple[str, str]]:
        return [(SECURITY_HEADER, SECURITY_HEADER_VALUE)] if self.security_header else []

    def _call(self, method: Callable[[service.SpiffeWorkloadAPIStub], Any]) -> Any:
        with grpc.insecure_channel(self.target) as channel:
            try:
                return method(service.SpiffeWorkloadAPIStub(channel))
            except grpc.RpcError as exc:
                raise refusal(exc) from None

    def fetch_jwt_svids(self, audience: str | list[str] = ANTHROPIC_AUDIENCE, spiffe_id: str = "") -> list[JwtSvid]:
        audiences = [audience] if isinstance(audience, str) else list(audience)
        request = messages.JWTSVIDRequest(audience=audiences, spiffe_id=spiffe_id)
        response = self._call(lambda stub: stub.FetchJWTSVID(request, metadata=self.metadata, timeout=self.timeout))
        return [JwtSvid.from_message(svid) for svid in response.svids]

    def fetch_jwt_svid(self, audience: str | list[str] = ANTHROPIC_AUDIENCE, spiffe_id: str = "") -> JwtSvid:
        """The first JWT-SVID the agent issues this workload for ``audience`` (what spiffe-helper writes)."""
        svids = self.fetch_jwt_svids(audience, spiffe_id)
        if not svids:
            raise SpiffeRefused("the SPIRE agent answered with no JWT-SVID", code="OK", details="",
                                hint=HINTS["PERMISSION_DENIED"])
        return svids[0]

    def fetch_jwt_bundles(self) -> dict[str, dict[str, Any]]:
        """The first message of the ``FetchJWTBundles`` stream: trust domain ID → JWKS."""

        def first(stub: service.SpiffeWorkloadAPIStub) -> Any:
            stream = stub.FetchJWTBundles(messages.JWTBundlesRequest(), metadata=self.metadata, timeout=self.timeout)
            try:
                return next(stream)
            finally:
                stream.cancel()

        response = self._call(first)
        return {td: json.loads(jwks) for td, jwks in response.bundles.items()}

    def __repr__(self) -> str:
        return f"WorkloadApiClient({self.target!r}, security_header={self.security_header})"


def from_connection(section: Mapping[str, Any], *, workload: str = "worker", **options: Any) -> WorkloadApiClient:
    """A client on the lab's socket for ``workload`` (``worker``, ``reporter`` or ``shell``)."""
    known = section.get("workloads", {})
    if workload not in known:
        raise ConfigurationError(f"no workload {workload!r} on the lab's SPIRE agent",
                                 hint=f"one of: {', '.join(known) or 'none'}")
    return WorkloadApiClient(known[workload]["endpoint_socket"], **options)


def svid_token_provider(client: WorkloadApiClient, audience: str = ANTHROPIC_AUDIENCE) -> Callable[[], str]:
    """An ``identity_token_provider`` for the Anthropic SDK: the agent's current JWT-SVID for ``audience``."""

    def provide() -> str:
        return client.fetch_jwt_svid(audience).token

    return provide


def read_token_file(path: str | Path) -> Secret:
    """The JWT-SVID spiffe-helper keeps in ``path`` (``ANTHROPIC_IDENTITY_TOKEN_FILE``)."""
    p = Path(path)
    try:
        token = p.read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        raise ConfigurationError(f"no token file at {p}",
                                 hint="spiffe-helper writes <cert_dir>/<jwt_svid_file_name>: check helper.conf, that "
                                      "the sidecar runs, and that both containers mount the same volume") from exc
    except OSError as exc:
        raise ConfigurationError(f"cannot read the token file {p}: {exc.strerror or exc}",
                                 hint="spiffe-helper writes it with mode 0600: run the workload as the same user, "
                                      "or set jwt_svid_file_mode in helper.conf") from exc
    if not token:
        raise ConfigurationError(f"the token file {p} is empty", hint="the helper has not fetched an SVID yet")
    return Secret(token)
