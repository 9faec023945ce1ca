"""What the checks share while the doctor runs: the runbook, the token, and what earlier checks read."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..redact import Secret
from ..runbook import Runbook
from ..tokens import DecodedToken
from .report import SKIPPED, Check
from .sdk_env import Resolution
from .sources import TokenSource

ANTHROPIC_LEEWAY = 30  # seconds of clock skew the exchange allows on exp, nbf and iat (WIF reference §8)


@dataclass
class Context:
    rb: Runbook
    source: TokenSource | None
    resolution: Resolution
    now: Callable[[], float] = time.time
    token: Secret | None = None
    decoded: DecodedToken | None = None
    discovery: dict[str, Any] | None = None
    date_header: str | None = None
    date_at: float | None = None  # local time (midpoint of the request) the Date header belongs with
    issuer: Any = None
    rule: Any = None
    service_account: Any = None
    exchanged: Any = None
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def is_lab(self) -> bool:
        return self.rb.lab is not None


def skipped(check_id: str, title: str, why: str) -> Check:
    return Check(check_id, title, SKIPPED, why)
