"""wif-lab: learn, run and regression-test Workload Identity Federation to the Claude API.

The few names a notebook needs; everything else lives in the module named after its step:
provider → :mod:`tokens` → :mod:`rules` (preflight) → :mod:`exchange` / :mod:`sdk`.
"""

from . import display, examples, rules, tokens, widgets
from .errors import (
    ConfigurationError,
    ExchangeRefused,
    ProviderError,
    ProviderUnreachable,
    TokenError,
    WifLabError,
)
from .exchange import ExchangeResult, exchange
from .lab import Lab, attach, connect, start
from .redact import redact
from .runbook import Runbook, open_runbook
from .tokens import DecodedToken, decode, verify

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``wl.doctor`` on first use: it imports the SDK's credential chain, which plain lab use does not need."""
    if name == "doctor":
        import importlib

        return importlib.import_module(f"{__name__}.doctor")
    raise AttributeError(f"module 'wif_lab' has no attribute {name!r}")

__all__ = [
    "ConfigurationError",
    "DecodedToken",
    "ExchangeRefused",
    "ExchangeResult",
    "Lab",
    "ProviderError",
    "ProviderUnreachable",
    "Runbook",
    "TokenError",
    "WifLabError",
    "attach",
    "connect",
    "decode",
    "display",
    "doctor",
    "examples",
    "exchange",
    "open_runbook",
    "redact",
    "rules",
    "start",
    "tokens",
    "verify",
    "widgets",
]
