"""Real clients nobody here wrote, against the mock SPIRE: py-spiffe's ``JwtSource`` pointed at the agent's
socket with ``SPIFFE_ENDPOINT_SOCKET`` (unchanged), its JWT-SVID exchanged through the official ``anthropic``
SDK over TLS; the SDK reading spiffe-helper's token file; ``wif-lab doctor --provider spiffe``. All share
the session's lab. The two programs in ``examples/spiffe`` run as their own processes in notebook 06, whose
live-mode test (tests/test_spiffe_notebook_live.py) fails when either does.
"""

from __future__ import annotations

import os

import jwt
import pytest
from spiffe import JwtSource, WorkloadApiClient
from spiffe.spiffe_id.spiffe_id import TrustDomain
from spiffe.workloadapi.errors import FetchJwtSvidError, JwtSourceError

from tests.helpers import federate, lab_of
from wif_lab.lab import Lab
from wif_lab.mock.stack import MockStack
from wif_lab.sdk import federated_client
from wif_lab.tokens import discover

AUDIENCE = "https://api.anthropic.com"


@pytest.fixture(scope="module")
def the_lab(lab: MockStack) -> Lab:
    return lab_of(lab)


@pytest.fixture(scope="module")
def spire(the_lab: Lab) -> dict:
    return the_lab.section("spire")


def rule_for(the_lab: Lab, spire: dict) -> object:
    return federate(the_lab, issuer_url=spire["issuer"], match={"subject_prefix": spire["spiffe_id"],
                                                                "audience": AUDIENCE})


def test_jwt_source_from_the_environment_feeds_the_sdk(the_lab: Lab, spire: dict,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fed = rule_for(the_lab, spire)
    monkeypatch.setenv("SPIFFE_ENDPOINT_SOCKET", spire["endpoint_socket"])
    with JwtSource(timeout_in_seconds=10) as source:
        svid = source.fetch_svid(audience={AUDIENCE})
        assert str(svid.spiffe_id) == spire["spiffe_id"] and svid.audience == {AUDIENCE}
        bundle = source.get_bundle_for_trust_domain(TrustDomain(spire["trust_domain"]))
        kid = jwt.get_unverified_header(svid.token)["kid"]
        assert bundle is not None and bundle.get_jwt_authority(kid) is not None  # the bundle verifies it
        claude = federated_client(identity_token_provider=lambda: source.fetch_svid(audience={AUDIENCE}).token,
                                  base_url=the_lab.base_url, federation_rule_id=fed.rule.id,
                                  organization_id=the_lab.organization_id,
                                  service_account_id=fed.service_account.id, verify=the_lab.ca_bundle)
        reply = claude.messages.create(model="claude-haiku-4-5", max_tokens=32,
                                       messages=[{"role": "user", "content": "hi"}])
    assert fed.service_account.id in reply.content[0].text
    event = the_lab.last_event(fed.rule.id)
    assert event["status"]["outcome"] == "success"
    assert event["event_data"]["oidc_token"]["claims"]["sub"] == spire["spiffe_id"]


def test_the_agent_bundle_and_the_discovery_keys_agree(the_lab: Lab, spire: dict) -> None:
    document = discover(spire["issuer"], verify=the_lab.ca_bundle)
    assert document["issuer"] == spire["jwt_issuer"] and document["jwks_uri"] == spire["jwks_uri"]
    with WorkloadApiClient(spire["endpoint_socket"]) as client:
        bundles = client.fetch_jwt_bundles()
        bundle = bundles.get_bundle_for_trust_domain(TrustDomain(spire["trust_domain"]))
    assert bundle is not None and set(bundle.jwt_authorities) >= {document_kid for document_kid in
                                                                   _kids(the_lab, spire)}


def _kids(the_lab: Lab, spire: dict) -> list[str]:
    from wif_lab import http

    keys = http.request("GET", spire["jwks_uri"], what="SPIRE's keys", verify=the_lab.ca_bundle).json()["keys"]
    return [k["kid"] for k in keys]


def test_py_spiffe_reports_the_agents_refusals(spire: dict) -> None:
    shell = spire["workloads"]["shell"]["endpoint_socket"]
    with WorkloadApiClient(shell) as client, pytest.raises(FetchJwtSvidError, match="no identity issued"):
        client.fetch_jwt_svid(audience={AUDIENCE})
    # PERMISSION_DENIED is retried by the bundle watcher (the workload may be registered later): a timeout
    with pytest.raises(JwtSourceError, match="Timeout"):
        JwtSource(socket_path=shell, timeout_in_seconds=0.5)


def test_the_sdk_reads_the_helpers_token_file(the_lab: Lab, spire: dict) -> None:
    from anthropic.lib.credentials import IdentityTokenFile

    fed = rule_for(the_lab, spire)
    claude = federated_client(identity_token_provider=IdentityTokenFile(spire["token_file"]),
                              base_url=the_lab.base_url, federation_rule_id=fed.rule.id,
                              organization_id=the_lab.organization_id, service_account_id=fed.service_account.id,
                              verify=the_lab.ca_bundle)
    reply = claude.messages.create(model="claude-haiku-4-5", max_tokens=32,
                                   messages=[{"role": "user", "content": "hi"}])
    assert fed.service_account.id in reply.content[0].text


def test_doctor_fetches_the_svid_from_the_agent(lab: MockStack, the_lab: Lab, spire: dict,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from wif_lab.cli import main as cli_main

    fed = rule_for(the_lab, spire)
    for name in [n for n in os.environ if n.startswith(("ANTHROPIC_", "SPIFFE_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WIF_LAB_CONNECTION", str(lab.connection_file))
    code = cli_main(["doctor", "--mode", "mock", "--provider", "spiffe", "--exchange",
                     "-p", "federation_rule_id", fed.rule.id, "-p", "service_account_id", fed.service_account.id])
    shown = capsys.readouterr().out
    assert code == 0, shown
    assert "the SPIRE agent's Workload API at unix:" in shown and "failed" not in shown.splitlines()[0]
