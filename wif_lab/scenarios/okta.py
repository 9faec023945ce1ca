"""Okta demonstrations: tokens from the second service app and from the org authorization server."""

from __future__ import annotations

from ..providers.okta import OktaClient
from ..runbook import Runbook


def second_app_client(rb: Runbook) -> OktaClient | None:
    """The scenario's second service app on the same authorization server (lab only)."""
    if rb.lab is None:
        return None
    return OktaClient.from_connection(rb.lab.section("okta"), rb.lab.ca_bundle, app="second_app")


def org_server_client(rb: Runbook) -> OktaClient | None:
    """The workload app asking the *org* authorization server (``/oauth2/v1/token``) instead (lab only)."""
    if rb.lab is None:
        return None
    section = rb.lab.section("okta")
    org = section["org_authorization_server"]
    return OktaClient.from_connection(section, rb.lab.ca_bundle, issuer=org["issuer"],
                                      token_endpoint=org["token_endpoint"], scope=org["scope"])


def token_or_none(client: OktaClient | None) -> str | None:
    return client.fetch_token().access_token if client is not None else None
