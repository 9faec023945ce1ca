"""One `wif-lab mock serve --shared` for a whole workshop: every attendee joins with a namespace of their own
(Okta apps and keys, Anthropic object names), sees the events of their own exchanges, and gets the outputs a
single attendee gets."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import wif_lab as wl
from wif_lab import workshop
from wif_lab.attendee import attendee_name
from wif_lab.errors import ConfigurationError
from wif_lab.mock.stack import MockStack
from wif_lab.providers.aks import read_token_file
from wif_lab.providers.okta import OktaClient, public_jwk
from wif_lab.tokens import ssl_context

ROOT = Path(__file__).resolve().parents[1]
CONCURRENT = 2  # attendees at once in the notebook test (2 cores); scripts/benchmark_workshop.py runs 20


@pytest.fixture(scope="module")
def shared(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockStack]:
    run_dir = tmp_path_factory.mktemp("shared-lab")
    stack = MockStack(state_dir / "shared", connection_file=run_dir / "connection.json", run_dir=run_dir,
                      connection_mode=0o644)
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WIF_LAB_ATTENDEE_DIR", str(tmp_path / "keys"))
    return tmp_path / "keys"


def _runbook(stack: MockStack, who: str) -> wl.Runbook:
    return wl.open_runbook("mock", connection_file=str(stack.connection_file), attendee=who)


def _okta(rb: wl.Runbook, app: str | None = None) -> OktaClient:
    return OktaClient.from_connection(rb.lab.section("okta"), rb.lab.ca_bundle, app=app)


def _register(rb: wl.Runbook) -> object:
    okta = rb.lab.section("okta")
    issuer = rb.register_issuer(name="okta-lab", issuer_url=okta["issuer"], jwks={"type": "discovery"})
    account = rb.register_service_account(name="okta-workload")
    return rb.register_rule(name="okta-workload", issuer=issuer, service_account=account,
                            match={"subject_prefix": okta["client_id"], "audience": "https://api.anthropic.com"})


def test_attendee_names_come_from_the_hub_user_and_fit_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIF_LAB_ATTENDEE", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    assert attendee_name() is None
    monkeypatch.setenv("JUPYTERHUB_USER", "Ada.Lovelace@Example.org")
    assert attendee_name() == "ada-lovelace-example-org"
    monkeypatch.setenv("WIF_LAB_ATTENDEE", "desk-7")
    assert attendee_name() == "desk-7"
    assert attendee_name("x" * 40) == "x" * 32
    with pytest.raises(ConfigurationError, match="no letters or digits"):
        attendee_name("@@@")


def test_each_attendee_gets_own_apps_keys_and_objects(shared: MockStack, keys: Path) -> None:
    alice, bob = _runbook(shared, "alice"), _runbook(shared, "bob")
    a, b = alice.lab.section("okta"), bob.lab.section("okta")
    assert len({a["client_id"], b["client_id"], a["second_app"]["client_id"], b["new_app"]["client_id"]}) == 4
    for path in (a["private_key"], a["second_app"]["private_key"], b["new_app"]["private_key"]):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(keys / "alice").st_mode) == 0o700
    assert stat.S_IMODE(shared.connection_file.stat().st_mode) == 0o644  # attendees read it; keys are their own
    assert b["new_app"]["require_dpop"] is True

    rule_a, rule_b = _register(alice), _register(bob)
    assert (rule_a.name, rule_b.name) == ("alice-okta-workload", "bob-okta-workload")
    # Alice's token passes her rule and only hers: Bob's rule pins Bob's app.
    assert alice.try_exchange(_okta(alice).fetch_token().access_token, rule=rule_a).accepted
    crossed = bob.try_exchange(_okta(alice).fetch_token().access_token, rule=rule_b)
    assert crossed.status == "refused" and crossed.event["status"]["reason"] == "subject_mismatch"
    # The second app's token passes neither (it is a different app of the same attendee).
    assert not alice.try_exchange(_okta(alice, "second_app").fetch_token().access_token, rule=rule_a).accepted

    # Joining again (a restarted kernel) finds the same apps and the same objects: create-or-get.
    again = _runbook(shared, "alice")
    assert again.lab.section("okta")["client_id"] == a["client_id"]
    assert _register(again).id == rule_a.id


def test_last_event_is_the_one_of_this_runs_own_exchange(shared: MockStack, keys: Path) -> None:
    first, second = _runbook(shared, "carol"), _runbook(shared, "carol")  # two kernels of one attendee
    rule = _register(first)
    token = _okta(first).fetch_token().access_token
    assert first.try_exchange(token, rule=rule).accepted
    replay = second.try_exchange(token, rule=rule)  # newer, and refused
    assert replay.event["status"]["reason"] == "jti_reused"
    assert first.last_event(rule)["status"]["outcome"] != "denied"
    assert second.last_event(rule)["status"]["reason"] == "jti_reused"
    assert _runbook(shared, "carol").last_event(rule) is None  # a run with no exchange of its own


def test_the_attendee_route_refuses_what_okta_would(shared: MockStack) -> None:
    conn = shared.connection()["okta"]
    http = httpx.Client(verify=ssl_context(shared.context.tls.ca_bundle), timeout=10)
    from cryptography.hazmat.primitives.asymmetric import rsa

    jwk = public_jwk(rsa.generate_private_key(65537, 2048))
    body = {"keys": {"workload": jwk, "second_app": jwk, "new_app": jwk}}
    url = f"{conn['base_url']}/lab/attendees/dave"
    assert http.put(url, json=body).status_code == 401
    auth = {"authorization": f"SSWS {conn['api_token']}"}
    assert http.put(f"{conn['base_url']}/lab/attendees/Dave!", json=body, headers=auth).status_code == 400
    private = {**jwk, "d": "AQAB"}
    refused = http.put(url, json={"keys": {**body["keys"], "workload": private}}, headers=auth)
    assert refused.status_code == 400 and "private key material" in refused.text
    assert http.put(url, json={"keys": {"workload": jwk}}, headers=auth).status_code == 400
    joined = http.put(url, json=body, headers=auth)
    assert joined.status_code == 200 and set(joined.json()) == {"workload", "second_app", "new_app"}


def test_attendees_at_once_get_the_outputs_of_one_attendee_alone(shared: MockStack, tmp_path: Path) -> None:
    notebook = ROOT / "notebooks" / "01_okta.ipynb"
    names = [f"attendee-{i:02d}" for i in range(CONCURRENT + 1)]  # equal lengths: tables pad alike
    (solo,) = workshop.run_attendees(notebook, shared.connection_file, names[:1], key_root=tmp_path)
    assert not solo.error, solo.error
    together = workshop.run_attendees(notebook, shared.connection_file, names[1:], key_root=tmp_path)
    rules = workshop.sanitizers(ROOT / "tests" / "nbval_sanitize.cfg")
    expected = workshop.shown(solo.notebook, rules, names={names[0]: "<ATTENDEE>", str(tmp_path): "<KEYS>"})
    assert any("<ATTENDEE>-okta-workload" in text for cell in expected for text in cell)
    for run in together:
        assert not run.error, f"{run.attendee}: {run.error}"
        got = workshop.shown(run.notebook, rules, names={run.attendee: "<ATTENDEE>", str(tmp_path): "<KEYS>"})
        differing = [i for i, (a, b) in enumerate(zip(expected, got, strict=True)) if a != b]
        assert not differing, f"{run.attendee}: code cells {differing} differ from the single attendee's"


def test_notebook_03_set_up_goes_through_lab_routes_and_works_attached(shared: MockStack, keys: Path) -> None:
    from wif_lab.scenarios import aks as aks_lab

    rb = _runbook(shared, "erin")
    wi = aks_lab.workload_client(rb, aks_lab.pod_settings(rb))
    batch = aks_lab.second_workload(rb, wi)  # a pod the attached kernel asked the cluster for
    assert batch is not None and batch.token_file != wi.token_file and batch.client_id == wi.client_id
    before = aks_lab.try_entra(batch, "no credential for its subject yet")
    assert before.status == "refused" and "AADSTS70021" in str(before.error)
    first = aks_lab.trust_subject(rb, batch, name="aks-claude-batch")
    again = aks_lab.trust_subject(rb, batch, name="aks-claude-batch")  # create-or-get
    assert str(first) == str(again) and "system:serviceaccount:erin-inference:claude-batch" in str(first)
    assert aks_lab.try_entra(batch, "trusted now").accepted
    stale = aks_lab.try_entra(aks_lab.stale_copy(rb, wi), "two hours old")
    assert stale.status == "refused" and "AADSTS700024" in str(stale.error)
    other = aks_lab.other_workload(rb, wi)
    assert other is not None and other.client_id != wi.client_id and aks_lab.try_entra(other, "other").accepted
    assert aks_lab.direct_token(rb, service_account="claude-batch")
    assert aks_lab.direct_token(rb, service_account="nobody-runs-this") is None
    token = read_token_file(wi.token_file)
    wi.get_token()
    seen = aks_lab.entra_received(rb, token).rows
    assert ("answer", "token issued") in [tuple(r) for r in seen]


def test_the_cluster_and_tenant_lab_routes_refuse_malformed_requests(shared: MockStack) -> None:
    conn = shared.connection()
    http = httpx.Client(verify=ssl_context(shared.context.tls.ca_bundle), timeout=10)
    k8s, entra = conn["aks"]["base_url"], conn["entra"]["base_url"]
    assert http.put(f"{k8s}/lab/pods/Not_A_Label/x", json={}).status_code == 400
    assert http.put(f"{k8s}/lab/pods/ns/x", content=b"[").status_code == 400
    assert http.get(f"{k8s}/lab/pods/ns/nobody").status_code == 404
    assert http.post(f"{k8s}/lab/tokens", json={"namespace": "inference"}).status_code == 400
    aged = {"namespace": "inference", "service_account": "claude-inference", "audience": "x", "age_seconds": -1}
    assert http.post(f"{k8s}/lab/tokens", json=aged).status_code == 400
    fic = {"issuer": conn["aks"]["issuer"], "subject": "system:serviceaccount:a:b"}
    assert http.put(f"{entra}/lab/identities/nobody/federated_credentials/x-1", json=fic).status_code == 404
    assert http.put(f"{entra}/lab/identities/claude-inference/federated_credentials/x-1",
                    json={"issuer": 1}).status_code == 400
    assert http.get(f"{entra}/lab/federated_requests", params={"limit": "x"}).status_code == 400


def test_attendees_have_their_own_azure_identities_and_cluster_objects(shared: MockStack, keys: Path) -> None:
    from wif_lab.providers.azure_imds import ImdsClient
    from wif_lab.scenarios import aks as aks_lab
    from wif_lab.scenarios import app_service
    from wif_lab.scenarios import azure as azure_lab

    alice, bob = _runbook(shared, "alice"), _runbook(shared, "bob")
    # Notebook 02: each attendee's VM carries their own identities, so each token names its own oid.
    tokens = {}
    for who, rb in (("alice", alice), ("bob", bob)):
        azure = rb.settings("azure", tenant_id="", resource="", client_id="", imds_url="")
        names = [row[0] for row in azure_lab.vm_identities(rb).rows]
        assert names == [f"{who}-wif-lab-vm", f"{who}-claude-inference", f"{who}-batch-reporting"]
        tokens[who] = ImdsClient(azure.resource, base_url=azure.imds_url).get_token().access_token
        other = wl.decode(azure_lab.second_identity_token(rb, azure)).claims["oid"]
        assert other == next(i["object_id"] for i in rb.lab.section("azure")["identities"]
                             if i["name"] == f"{who}-batch-reporting")
        app_identities = rb.lab.section("app_service")["identities"]
        assert app_service.app_settings(rb)["client_id"] == next(
            i["client_id"] for i in app_identities if i["name"] == f"{who}-claude-inference")
    claims = {who: wl.decode(t).claims for who, t in tokens.items()}
    assert claims["alice"]["oid"] != claims["bob"]["oid"]
    issuer = alice.register_issuer(name="azure-lab-tenant", issuer_url=claims["alice"]["iss"],
                                   jwks={"type": "discovery"}, max_jwt_lifetime_seconds=90000)
    account = alice.register_service_account(name="azure-vm-workload")
    rule = alice.register_rule(name="azure-vm-workload", issuer=issuer, service_account=account,
                               match={"audience": claims["alice"]["aud"],
                                      "claims": {"oid": claims["alice"]["oid"], "tid": claims["alice"]["tid"]}})
    assert alice.try_exchange(tokens["alice"], rule=rule).accepted
    assert alice.try_exchange(tokens["bob"], rule=rule).status == "refused"  # Bob's VM is not Alice's workload

    # Notebook 03: Alice's kubelet rotation replaces her token files only; each pod is trusted by its own identity.
    files = {who: rb.lab.section("aks")["token_file"] for who, rb in (("alice", alice), ("bob", bob))}
    assert files["alice"] != files["bob"]
    before = {who: read_token_file(path) for who, path in files.items()}
    rotated = aks_lab.rotate(alice)
    assert all(row[0].startswith("alice-inference/") for row in rotated.rows)
    assert read_token_file(files["alice"]) != before["alice"] and read_token_file(files["bob"]) == before["bob"]
    for rb in (alice, bob):
        wi = aks_lab.workload_client(rb, aks_lab.pod_settings(rb))
        assert wl.decode(wi.get_token().access_token).claims["azp"] == wi.client_id
        assert ("is the file's current token", "true") in [
            (r[0], str(r[1])) for r in aks_lab.entra_received(rb, read_token_file(wi.token_file)).rows]
