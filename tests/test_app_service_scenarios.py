"""Notebook 02's App Service section: the lab's app, both endpoints compared, the example run on the identity
endpoint, and the stray-variable trials shown as a table (never raised, the kernel's environment untouched);
live mode skips what needs the lab with a note."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.helpers import lab_of
from wif_lab.lab import Lab
from wif_lab.mock.stack import MockStack
from wif_lab.nbcheck import SECRET_PATTERNS
from wif_lab.runbook import Note, Runbook, Settings
from wif_lab.scenarios import app_service


@pytest.fixture
def the_lab(lab: MockStack) -> Lab:
    return lab_of(lab)


@pytest.fixture
def rb(the_lab: Lab) -> Runbook:
    return Runbook("mock", the_lab, base_url=the_lab.base_url, organization_id=the_lab.organization_id,
                   verify=the_lab.ca_bundle, admin_token=None, ids={})


@pytest.fixture
def azure(rb: Runbook) -> Settings:
    return rb.settings("azure", tenant_id="", resource="", client_id="", imds_url="")


@pytest.fixture
def app(rb: Runbook) -> Settings:
    found = app_service.app_settings(rb)
    assert isinstance(found, Settings)
    return found


def shown(obj: Any) -> str:
    return repr(obj) + obj._repr_html_()


def test_app_settings_hide_the_header(app: Settings, the_lab: Lab) -> None:
    section = the_lab.section("app_service")
    assert app.identity_endpoint == section["identity_endpoint"] and app.identity_header == section["identity_header"]
    assert section["identity_header"] not in shown(app)


def test_the_endpoints_differ_and_the_tokens_do_not(rb: Runbook, azure: Settings, app: Settings) -> None:
    table = app_service.compare_endpoints(rb, azure, app)
    verdicts = {str(row[0]): str(row[-1]) for row in table.rows}
    assert verdicts["asks"] == verdicts["api-version"] == "differs"
    assert all(verdicts[f"token {c}"] == "same" for c in ("iss", "aud", "oid", "azp", "tid", "ver"))
    assert app.identity_header not in shown(table)
    assert not [w for w, rx in SECRET_PATTERNS.items() if rx.search(shown(table))]


def test_stray_variables_as_outcomes(rb: Runbook, azure: Settings, app: Settings) -> None:
    before = dict(os.environ)
    trials = app_service.stray_endpoint_trials(rb, azure, app)
    assert dict(os.environ) == before, "a trial must leave the kernel's environment as it was"
    vm = trials.by_case("a VM, as deployed")
    assert vm.accepted and vm.chose == "IMDS" and vm.asked[0].endswith("/metadata/identity/oauth2/token")
    leftover = trials.by_case("a VM with a leftover IDENTITY_ENDPOINT")
    assert not leftover.accepted and leftover.asked == [] and leftover.chose.startswith("nothing")
    assert leftover.error is not None and "never tries IMDS" in leftover.error.hint
    copied = trials.by_case("a VM with both variables copied from an app")
    assert copied.chose == "App Service managed identity" and copied.asked[0].endswith("/msi/token")
    assert copied.error is not None and "401" in copied.error.message
    unnamed = trials.by_case("App Service, no client_id")
    assert unnamed.error is not None and "Unable to load the proper Managed Identity" in unnamed.error.message
    named = trials.by_case("App Service, client_id of its identity")
    assert named.accepted and len(named.asked) == 1 and named.asked[0].endswith("/msi/token")
    text = shown(trials)
    assert not [w for w, rx in SECRET_PATTERNS.items() if rx.search(text)] and app.identity_header not in text


def test_the_vm_example_runs_on_the_app(rb: Runbook, the_lab: Lab, app: Settings) -> None:
    entra = the_lab.section("entra")
    oid = next(i["object_id"] for i in entra["identities"] if i["name"] == app_service.APP_IDENTITY)
    issuer = rb.register_issuer(name="app-service-scenario", issuer_url=entra["issuer_v2"],
                                jwks={"type": "discovery"}, max_jwt_lifetime_seconds=90000, lab_only=True)
    account = rb.register_service_account(name="app-service-scenario", lab_only=True)
    audience = next(a["app_id"] for a in entra["apps"] if a["name"] == "claude-api-federation")
    rule = app_service.register_app_rule(rb, app, issuer=issuer, service_account=account, audience=audience,
                                         tenant_id=entra["tenant_id"])
    assert rule.match.claims["oid"] == oid
    run = app_service.run_example(rb, "azure_vm/sdk_managed_identity.py", app, rule=rule)
    assert not isinstance(run, Note) and run.ok and f"({account.id})" in run.stdout
    assert app.identity_header not in shown(run)


def test_live_mode_skips_the_lab_only_steps(the_lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    live = Runbook("live", None, base_url="https://api.anthropic.com", organization_id="org-uuid", verify=True,
                   admin_token=None, ids={})
    app = app_service.app_settings(live)
    assert isinstance(app, Note) and "IDENTITY_ENDPOINT" in app.text
    assert isinstance(app_service.compare_endpoints(live, {}, app), Note)
    assert app_service.register_app_rule(live, app, issuer=None, service_account=None, audience="a",
                                         tenant_id="t") is None
    assert isinstance(app_service.run_example(live, "azure_vm/sdk_managed_identity.py", app, rule=None), Note)
    # The VM cases still run live (here against the lab's IMDS, standing in for 169.254.169.254).
    azure = {"resource": the_lab.section("azure")["resource"], "imds_url": the_lab.section("azure")["imds_url"]}
    trials = app_service.stray_endpoint_trials(live, azure, app)
    assert [t.case for t in trials.trials] == ["a VM, as deployed", "a VM with a leftover IDENTITY_ENDPOINT"]
    assert trials.trials[0].accepted and not trials.trials[1].accepted
    assert "live mode" in capsys.readouterr().out
