"""The SPIFFE Workload API's wire contract, defined once for the mock agent and the workload-side client.

The messages and the service are those of the SPIFFE project's ``workload.proto``, compiled by the
py-spiffe project and shipped in the ``spiffe`` wheel (``spiffe._proto``). They are imported from there,
not generated again: protobuf keeps one registry of message names per process, and a second compiled
copy of the same ``.proto`` in the kernel that also runs ``spiffe.JwtSource`` would clash with it. The
module path is private to py-spiffe, so this is the one place that names it (pyproject pins ``spiffe``
below 0.4), and ``tests/test_mock_spire.py`` checks the service and method names it yields.
"""

from __future__ import annotations

from spiffe._proto import workload_pb2 as messages  # noqa: F401  (re-exported: JWTSVIDRequest, …)
from spiffe._proto import workload_pb2_grpc as service  # noqa: F401  (SpiffeWorkloadAPIStub, servicer, adder)

SERVICE_NAME = "SpiffeWorkloadAPI"
FETCH_JWT_SVID = f"/{SERVICE_NAME}/FetchJWTSVID"
FETCH_JWT_BUNDLES = f"/{SERVICE_NAME}/FetchJWTBundles"

# Every call carries this metadata pair; the agent refuses a call without it (it keeps a browser or a
# proxied request, which cannot set gRPC metadata, from reaching the API).
SECURITY_HEADER = "workload.spiffe.io"
SECURITY_HEADER_VALUE = "true"

ENDPOINT_SOCKET_ENV = "SPIFFE_ENDPOINT_SOCKET"  # unix:///path/to/agent.sock, read by every SPIFFE library
ANTHROPIC_AUDIENCE = "https://api.anthropic.com"  # the audience the Claude guide has workloads request


def socket_target(endpoint: str) -> str:
    """The gRPC target for a ``SPIFFE_ENDPOINT_SOCKET`` value or a bare path (``unix:/abs/path``)."""
    path = endpoint.removeprefix("unix://") if endpoint.startswith("unix://") else endpoint.removeprefix("unix:")
    return f"unix:{path}"


def endpoint_socket(path: str) -> str:
    """The ``SPIFFE_ENDPOINT_SOCKET`` value for a socket path."""
    return f"unix://{path}"
