"""How SPIRE refuses, in both of its shapes.

The agent's Workload API answers with a gRPC status (code and details), quoted from SPIRE's agent
source (``pkg/agent/endpoints/middleware.go``, ``pkg/agent/endpoints/workload/handler.go``). The OIDC
Discovery Provider is a Go ``net/http`` server: ``http.Error`` writes the sentence and a newline as
``text/plain; charset=utf-8`` with ``X-Content-Type-Options: nosniff`` (``support/oidc-discovery-provider/
handler.go``).
"""

from __future__ import annotations

import grpc
from starlette.responses import PlainTextResponse, Response

from ..errors import MockRefusal

SECURITY_HEADER_MISSING = "security header missing from request"
AUDIENCE_REQUIRED = "audience must be specified"
NO_IDENTITY = "no identity issued"


class WorkloadApiError(Exception):
    """A Workload API refusal: the gRPC status the agent ends the call with."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


def security_header_missing() -> WorkloadApiError:
    return WorkloadApiError(grpc.StatusCode.INVALID_ARGUMENT, SECURITY_HEADER_MISSING)


def audience_required() -> WorkloadApiError:
    return WorkloadApiError(grpc.StatusCode.INVALID_ARGUMENT, AUDIENCE_REQUIRED)


def invalid_spiffe_id(reason: str) -> WorkloadApiError:
    return WorkloadApiError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid requested SPIFFE ID: {reason}")


def no_identity() -> WorkloadApiError:
    return WorkloadApiError(grpc.StatusCode.PERMISSION_DENIED, NO_IDENTITY)


def fetch_failed(server_message: str) -> WorkloadApiError:
    """The server refused to sign: the agent wraps the server's status in its own ``Unavailable``."""
    return WorkloadApiError(
        grpc.StatusCode.UNAVAILABLE,
        f"could not fetch JWT-SVID: failed to fetch JWT SVID: rpc error: code = Internal desc = "
        f"failed to sign JWT-SVID: {server_message}")


class DiscoveryRefusal(MockRefusal):
    """A refusal of the OIDC Discovery Provider: Go's plain-text ``http.Error``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message, headers={"x-content-type-options": "nosniff"})
        self.message = message

    def response(self) -> Response:
        return PlainTextResponse(self.message + "\n", status_code=self.status, headers=self.headers)


def method_not_allowed() -> DiscoveryRefusal:
    return DiscoveryRefusal(405, "method not allowed")


def domain_not_allowed(domain: str) -> DiscoveryRefusal:
    return DiscoveryRefusal(400, f'domain "{domain}" is not allowed')
