"""Mock SPIRE (SPIFFE Runtime Environment), built like the other mocks: state and minting (``server``),
error shapes (``errors``), the agent's gRPC Workload API (``agent``), the OIDC Discovery Provider
(``discovery``), a spiffe-helper stand-in (``helper``), and the deployment that wires them (``service``)."""

from .agent import Agent, Workload
from .errors import WorkloadApiError
from .helper import HelperConfig, SpiffeHelper
from .server import Entry, ServerSettings, SpireServer
from .service import SPEC, TRUST_DOMAIN, WORKLOADS, SpireMock

__all__ = ["SPEC", "TRUST_DOMAIN", "WORKLOADS", "Agent", "Entry", "HelperConfig", "ServerSettings", "SpiffeHelper",
           "SpireMock", "SpireServer", "Workload", "WorkloadApiError"]
