"""The notebooks' "Clean up" step: the lab's objects archived in the API's order, live ones only on request."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from wif_lab.lab import Lab, attach
from wif_lab.mock.stack import MockStack
from wif_lab.runbook import Runbook, open_runbook


@pytest.fixture(scope="module")
def stack(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockStack]:
    own = tmp_path_factory.mktemp("clean-up")
    for sub in ("keys", "tls"):
        if (state_dir / "shared" / sub).exists():
            shutil.copytree(state_dir / "shared" / sub, own / sub, dirs_exist_ok=True)
    lab = MockStack(own)
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def lab(stack: MockStack) -> Lab:
    return attach(stack.connection_file)


def register(rb: Runbook, lab: Lab, name: str) -> tuple[object, object, object]:
    aks = lab.section("aks")
    issuer = rb.register_issuer(name=f"{name}-issuer", issuer_url=aks["issuer"], jwks={"type": "discovery"})
    account = rb.register_service_account(name=f"{name}-sa")
    rule = rb.register_rule(name=f"{name}-rule", issuer=issuer, service_account=account,
                            match={"subject_prefix": aks["subject"], "audience": "https://api.anthropic.com"})
    return issuer, account, rule


def test_the_lab_run_archives_what_it_registered_rules_first(stack: MockStack, lab: Lab) -> None:
    rb = open_runbook("mock", connection_file=str(stack.connection_file))
    issuer, account, rule = register(rb, lab, "cu")
    table = rb.clean_up()
    assert [row[0] for row in table.rows] == ["federation rule", "federation issuer", "service account"]
    assert all(str(row[2]) == "archived" for row in table.rows)
    store = stack.mocks["anthropic"].store  # type: ignore[attr-defined]
    assert store.rules[rule.id]["archived_at"] and store.issuers[issuer.id]["archived_at"]  # type: ignore[attr-defined]
    assert store.service_accounts[account.id]["archived_at"]  # type: ignore[attr-defined]
    assert "archived" in repr(table)


def test_an_object_another_rule_still_uses_is_kept_and_said_so(stack: MockStack, lab: Lab) -> None:
    first = open_runbook("mock", connection_file=str(stack.connection_file))
    issuer, account, _ = register(first, lab, "kept")
    other = open_runbook("mock", connection_file=str(stack.connection_file))
    other.register_rule(name="kept-other-rule", issuer=issuer, service_account=account,
                        match={"subject_prefix": "system:serviceaccount:other:x", "audience": "https://api.anthropic.com"})
    rows = {row[0]: str(row[2]) for row in first.clean_up().rows}
    assert rows["federation rule"] == "archived"
    assert rows["federation issuer"].startswith("kept: HTTP 400") and rows["service account"].startswith("kept:")


def test_live_mode_archives_nothing_unless_asked(stack: MockStack, lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    source = open_runbook("mock", connection_file=str(stack.connection_file))
    issuer, account, rule = register(source, lab, "live")
    conn = lab.connection.anthropic
    monkeypatch.delenv("WIF_LAB_ADMIN_TOKEN", raising=False)
    live = open_runbook("live", anthropic_base_url=conn["base_url"], organization_id=conn["organization_id"],
                        ca_bundle=str(lab.ca_bundle), federation_rule_id=rule.id,  # type: ignore[attr-defined]
                        federation_issuer_id=issuer.id, service_account_id=account.id)  # type: ignore[attr-defined]
    table = live.clean_up()
    text = repr(table)
    assert "left in place" in text and "wif-lab setup anthropic" in text and "--archive" in text
    store = stack.mocks["anthropic"].store  # type: ignore[attr-defined]
    assert store.rules[rule.id]["archived_at"] is None  # type: ignore[attr-defined]
    # Asked, but without an org:admin token: an outcome that says what to do, not an exception.
    refused = live.clean_up(archive_live=True)
    assert "nothing archived" in refused.title and "WIF_LAB_ADMIN_TOKEN" in repr(refused)
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", str(conn["admin_token"]))
    asked = open_runbook("live", anthropic_base_url=conn["base_url"], organization_id=conn["organization_id"],
                         ca_bundle=str(lab.ca_bundle), federation_rule_id=rule.id,  # type: ignore[attr-defined]
                         federation_issuer_id=issuer.id, service_account_id=account.id)  # type: ignore[attr-defined]
    done = asked.clean_up(archive_live=True)
    assert [str(row[2]) for row in done.rows] == ["archived"] * 3
    assert store.rules[rule.id]["archived_at"]  # type: ignore[attr-defined]


def test_a_run_that_registered_nothing_says_so(stack: MockStack) -> None:
    rb = open_runbook("mock", connection_file=str(stack.connection_file))
    assert "nothing was registered" in repr(rb.clean_up())
