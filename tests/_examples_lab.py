"""What the example-program tests (Python and TypeScript) share: a lab of their own, a mock-mode
runbook on it, registration of one issuer/account/rule, and the check that a program reached Claude."""

from __future__ import annotations

from typing import Any

from wif_lab import examples
from wif_lab.lab import Lab
from wif_lab.runbook import Runbook


def mock_runbook(the_lab: Lab) -> Runbook:
    return Runbook("mock", the_lab, base_url=the_lab.base_url, organization_id=the_lab.organization_id,
                   verify=the_lab.ca_bundle, admin_token=None, ids={})


def register(rb: Runbook, name: str, issuer_url: str, match: dict[str, Any], **issuer: Any) -> Any:
    found = rb.register_issuer(name=name, issuer_url=issuer_url, jwks={"type": "discovery"}, **issuer)
    account = rb.register_service_account(name=name, description=f"runs examples/{name}")
    return rb.register_rule(name=name, issuer=found, service_account=account, match=match, token_lifetime_seconds=600)


def reached_claude(run: examples.ExampleRun, rule: Any, the_lab: Lab) -> None:
    assert run.ok, run.stderr
    assert f"({rule.target.service_account_id})" in run.stdout and "mock Claude API" in run.stdout
    event = the_lab.last_event(rule.id)
    assert event is not None and event["status"]["outcome"] == "success"


def entra_identity(the_lab: Lab, name: str) -> dict[str, Any]:
    return next(i for i in the_lab.section("entra")["identities"] if i["name"] == name)
