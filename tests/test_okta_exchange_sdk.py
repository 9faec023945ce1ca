"""The Okta token obtained by wif_lab exchanges at the mock Anthropic through the real SDK."""

from __future__ import annotations

from tests.helpers import federate, lab_of
from wif_lab.mock.stack import MockStack
from wif_lab.providers.okta import OktaClient


def test_okta_provider_through_the_official_sdk(lab: MockStack) -> None:
    the_lab = lab_of(lab)
    okta = the_lab.section("okta")
    fed = federate(the_lab, issuer_url=okta["issuer"],
                   match={"subject_prefix": okta["client_id"], "audience": "https://api.anthropic.com"})
    provider = OktaClient.from_connection(okta, the_lab.ca_bundle).token_provider()
    from wif_lab.sdk import federated_client

    claude = federated_client(identity_token_provider=provider, base_url=the_lab.base_url,
                              federation_rule_id=fed.rule.id, organization_id=the_lab.organization_id,
                              service_account_id=fed.service_account.id, verify=the_lab.ca_bundle)
    for _ in range(2):
        reply = claude.messages.create(model="claude-haiku-4-5", max_tokens=32,
                                       messages=[{"role": "user", "content": "hi"}])
        assert fed.service_account.id in reply.content[0].text
    assert provider.calls == 1  # the SDK cached the Claude token; Okta was asked once
    event = the_lab.last_event(fed.rule.id)
    assert event["status"]["outcome"] == "success"
    assert event["event_data"]["oidc_token"]["claims"]["cid"] == okta["client_id"]


def test_second_app_is_refused_by_a_pinned_rule(lab: MockStack) -> None:
    the_lab = lab_of(lab)
    okta = the_lab.section("okta")
    fed = federate(the_lab, issuer_url=okta["issuer"], match={"subject_prefix": okta["client_id"]})
    second = OktaClient.from_connection(okta, the_lab.ca_bundle, app="second_app").fetch_token().access_token
    from wif_lab.errors import ExchangeRefused
    from wif_lab.exchange import exchange

    try:
        exchange(second, base_url=the_lab.base_url, federation_rule_id=fed.rule.id,
                 organization_id=the_lab.organization_id, service_account_id=fed.service_account.id,
                 verify=the_lab.ca_bundle)
    except ExchangeRefused as exc:
        assert exc.status == 401 and exc.error == "authentication_error"
    else:
        raise AssertionError("the second app's token was accepted by a rule pinned to the first app")
    assert the_lab.last_event(fed.rule.id)["status"]["reason"] == "subject_mismatch"
