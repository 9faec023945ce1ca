"""The mock Anthropic's history and live tokens stay bounded, and bounding them never changes an answer
a token should get (small caps, set through the Store's parameters: nothing here sends many requests)."""

from __future__ import annotations

from wif_lab.mock.anthropic.store import AuthEvent, Grant, Store


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _event(store: Store, n: int) -> AuthEvent:
    return store.record(AuthEvent(id=f"activity_{n}", created_at=store.now(), request_id=f"req_{n}",
                                  outcome="success", reason=None, detail=None, http_status=200))


def test_history_keeps_the_most_recent_attempts_only() -> None:
    store = Store(clock=Clock(), seed=1, max_events=3)
    for n in range(5):
        _event(store, n)
    assert [e.request_id for e in store.events] == ["req_2", "req_3", "req_4"]
    assert store.events[-1].request_id == "req_4"  # how tests and the lab route read the latest


def test_expired_tokens_are_forgotten_and_live_ones_kept() -> None:
    clock = Clock()
    store = Store(clock=clock, seed=1)
    short = store.mint_grant(Grant("svac_a", None, "workspace:inference", expires_at=clock.now + 10))
    long = store.mint_grant(Grant("svac_a", None, "workspace:inference", expires_at=clock.now + 1000))
    admin = store.mint_grant(Grant("svac_admin", None, "org:admin", expires_at=None))
    store.service_accounts["svac_a"] = {"id": "svac_a", "archived_at": None}
    clock.now += 10  # the short token's expiry: refused from this moment, whether it is still held or not
    assert store.grant_for(short) is None
    store.mint_grant(Grant("svac_a", None, "workspace:inference", expires_at=clock.now + 1000))
    assert short not in store.grants
    assert store.grant_for(long) is not None and store.grant_for(admin) is not None
    assert store.live_token_count() == 2  # the admin token never expires and is not counted


def test_above_the_cap_the_oldest_token_is_revoked() -> None:
    clock = Clock()
    store = Store(clock=clock, seed=1, max_live_tokens=3)
    store.service_accounts["svac_a"] = {"id": "svac_a", "archived_at": None}
    lifetimes = [900, 100, 500, 300, 700]  # minted in this order; the first is not the first to expire
    tokens = [store.mint_grant(Grant("svac_a", None, "workspace:inference", expires_at=clock.now + s))
              for s in lifetimes]
    admin = store.mint_grant(Grant("svac_a", None, "org:admin", expires_at=None))
    assert [store.grant_for(t) is not None for t in tokens] == [False, False, True, True, True]
    assert store.grant_for(admin) is not None
    assert store.live_token_count() == 3


def test_an_expired_token_held_behind_an_older_one_is_refused() -> None:
    clock = Clock()
    store = Store(clock=clock, seed=1)
    store.service_accounts["svac_a"] = {"id": "svac_a", "archived_at": None}
    older = store.mint_grant(Grant("svac_a", None, "workspace:inference", expires_at=clock.now + 1000))
    short = store.mint_grant(Grant("svac_a", None, "workspace:inference", expires_at=clock.now + 10))
    clock.now += 10
    store.mint_grant(Grant("svac_a", None, "workspace:inference", expires_at=clock.now + 1000))
    assert short in store.grants  # still held: the older token ahead of it has not expired
    assert store.grant_for(short) is None and store.grant_for(older) is not None


def test_a_swapped_grant_table_is_not_disturbed_by_old_heap_entries() -> None:
    clock = Clock()
    store = Store(clock=clock, seed=1, max_live_tokens=10)
    store.service_accounts["svac_a"] = {"id": "svac_a", "archived_at": None}
    old = store.mint_grant(Grant("svac_a", None, "workspace:inference", expires_at=clock.now + 5))
    with store.lock:  # as tests/test_sdk_e2e.py does: the mock "restarts" and forgets every access token
        store.grants = {}
    kept = store.mint_grant(Grant("svac_a", None, "workspace:inference", expires_at=clock.now + 500))
    clock.now += 5
    store.mint_grant(Grant("svac_a", None, "workspace:inference", expires_at=clock.now + 500))
    assert store.grant_for(old) is None and store.grant_for(kept) is not None
