"""A replay ledger: single-use values (a ``jti``) remembered until they can no longer be presented.

Every mock that refuses a reused ``jti`` keeps one. An entry is forgotten only once its ``forget_after``
time has passed — the caller sets it past the moment its own checks would refuse the token as expired —
so forgetting never lets a replay through. Entries are kept in expiry order as well (a heap), so
forgetting costs only the entries that expire: the cost of a request stays the same after a hundred
thousand of them, where scanning the whole ledger on each request grew with it.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Hashable


class ReplayLedger:
    """``use(key, forget_after, now)`` is True the first time a key is presented, False while it is remembered.

    ``keep_at_least``: forget nothing while the ledger holds no more entries than this (a mock that
    used to prune only above a size keeps that behaviour exactly).
    """

    def __init__(self, *, keep_at_least: int = 0) -> None:
        self.keep_at_least = keep_at_least
        self._until: dict[Hashable, float] = {}
        self._expiry: list[tuple[float, int, Hashable]] = []  # (forget_after, insertion number, key)
        self._count = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._until)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._until

    def use(self, key: Hashable, forget_after: float, now: float) -> bool:
        with self._lock:
            if len(self._until) > self.keep_at_least:
                self._forget(now)
            if key in self._until:
                return False
            self._until[key] = forget_after
            self._count += 1
            heapq.heappush(self._expiry, (forget_after, self._count, key))
            return True

    def _forget(self, now: float) -> None:
        """Drop every entry whose ``forget_after`` is before ``now`` (the earliest ones sit on top)."""
        expiry = self._expiry
        while expiry and expiry[0][0] < now:
            until, _, key = heapq.heappop(expiry)
            if self._until.get(key) == until:
                del self._until[key]
