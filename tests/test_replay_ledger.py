"""The replay ledger forgets an entry only after its time, never earlier, however many entries it holds."""

from __future__ import annotations

from wif_lab.mock.replay import ReplayLedger


def test_a_key_is_refused_until_its_time_has_passed() -> None:
    ledger = ReplayLedger()
    assert ledger.use("a", forget_after=100.0, now=0.0)
    assert not ledger.use("a", forget_after=500.0, now=50.0)
    assert not ledger.use("a", forget_after=500.0, now=100.0)  # at its time: still remembered
    assert ledger.use("b", forget_after=300.0, now=100.5)  # any later request forgets "a"…
    assert "a" not in ledger and "b" in ledger
    assert ledger.use("a", forget_after=400.0, now=100.5)  # …so it may be presented afresh
    assert not ledger.use("a", forget_after=400.0, now=200.0)


def test_forgets_only_what_has_expired_among_many() -> None:
    ledger = ReplayLedger()
    for i in range(5000):
        assert ledger.use(("iss", str(i)), forget_after=float(i), now=0.0)
    assert ledger.use("probe", forget_after=1e9, now=2500.0)  # 0…2499 expired, 2500…4999 not
    assert len(ledger) == 2501
    assert all(not ledger.use(("iss", str(i)), forget_after=1e9, now=2500.0) for i in range(2500, 5000))
    assert all(ledger.use(("iss", str(i)), forget_after=1e9, now=2500.0) for i in range(0, 2500))


def test_keep_at_least_forgets_nothing_below_the_threshold() -> None:
    ledger = ReplayLedger(keep_at_least=3)
    for key in "abc":
        assert ledger.use(key, forget_after=1.0, now=0.0)
    assert not ledger.use("a", forget_after=1.0, now=10.0)  # 3 entries held: nothing forgotten yet
    assert ledger.use("d", forget_after=1.0, now=10.0)
    assert ledger.use("e", forget_after=50.0, now=10.0)  # 4 held: the expired ones go now
    assert len(ledger) == 1 and ledger.use("a", forget_after=1.0, now=10.0)
