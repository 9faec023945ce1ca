"""``Secret``: redacted wherever a person reads it, the real value wherever a library uses it.

"A person reads it" means code running in ``__main__`` (notebook cells and scripts) or the standard
printing/logging modules; these tests run such code with :func:`as_notebook_cell`. Everything else
(this test module included) is library code and gets the real value.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import jwt
import pytest
from anthropic.lib.credentials import exchange_federation_assertion
from azure.identity import ClientAssertionCredential
from IPython.core.formatters import DisplayFormatter

from tests.helpers import lab_of
from wif_lab.errors import ConfigurationError
from wif_lab.exchange import exchange
from wif_lab.mock.stack import MockStack
from wif_lab.nbcheck import SECRET_PATTERNS
from wif_lab.providers.aks import read_token_file
from wif_lab.redact import SIGNATURE_MARK, Secret, masked, redact
from wif_lab.tokens import ssl_context

KEY = "k" * 32
RAW_JWT = jwt.encode({"iss": "https://issuer.example", "sub": "workload", "aud": "https://api.anthropic.com"}, KEY,
                     algorithm="HS256")
RAW_OAT = "sk-ant-oat01-" + "Zq9" * 30


def leaks(text: str) -> list[str]:
    return [what for what, rx in SECRET_PATTERNS.items() if rx.search(text)]


def as_notebook_cell(source: str, **names: Any) -> tuple[str, dict[str, Any]]:
    """Run ``source`` as IPython runs a cell (module ``__main__``); its stdout and its namespace."""
    namespace: dict[str, Any] = {"__name__": "__main__", **names}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<cell>", "exec"), namespace)
    return out.getvalue(), namespace


@pytest.fixture
def token() -> Secret:
    return Secret(RAW_JWT)


# --- what a person sees ----------------------------------------------------------------------------


def test_a_cell_never_prints_the_raw_value(token: Secret) -> None:
    printed, ns = as_notebook_cell(
        "print(token)\nprint(f'token: {token}')\nprint('%s' % token)\nprint('{}'.format(token))\n"
        "print(str(token), repr(token), [token], {'t': token})\nshown = f'{token:>20}'",
        token=token)
    assert RAW_JWT not in printed and not leaks(printed)
    assert printed.splitlines()[0] == redact(RAW_JWT)  # header.claims.‹signature redacted›, decodable
    assert ns["shown"] == format(redact(RAW_JWT), ">20")


def test_repr_is_redacted_everywhere(token: Secret) -> None:
    assert repr(token) == f"Secret({redact(RAW_JWT, short=True)!r})"
    assert RAW_JWT not in repr([token]) and RAW_JWT not in f"{token!r}"


def test_notebook_display_is_redacted(token: Secret) -> None:
    data, _ = DisplayFormatter().format(token)
    assert data == {"text/plain": repr(token)}  # no HTML or markdown form to leak through
    data, _ = DisplayFormatter().format({"token": token, "list": [Secret(RAW_OAT)]})
    assert not leaks(json.dumps(data)) and RAW_OAT not in data["text/plain"]


def test_logging_shows_the_redacted_form(token: Secret, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("workload").info("got %s", token)
    assert caplog.messages == [f"got {redact(RAW_JWT)}"]


@pytest.mark.parametrize(("raw", "shown"), [
    (RAW_OAT, "sk-ant-oat01-Zq9Z…"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----\n", "‹private key redacted›"),
    ("a-client-secret-of-40-characters-xxxxxxx", "a-cl…‹40 chars redacted›"),
])
def test_every_kind_of_secret_uses_the_redaction_rules(raw: str, shown: str) -> None:
    printed, _ = as_notebook_cell("print(secret)", secret=Secret(raw))
    assert printed.strip() == shown


# --- what a library gets ---------------------------------------------------------------------------


def test_library_code_gets_the_real_value(token: Secret) -> None:
    # This module is library code: str() and f-strings here behave as for a plain str.
    assert str(token) == RAW_JWT and f"Bearer {token}" == f"Bearer {RAW_JWT}" and "%s" % token == RAW_JWT  # noqa: UP031 - what logging does
    assert json.dumps(token) == json.dumps(RAW_JWT) and json.dumps({"a": [token]}) == json.dumps({"a": [RAW_JWT]})
    assert token.encode() == RAW_JWT.encode() and "Bearer " + token == "Bearer " + RAW_JWT
    assert token == RAW_JWT and len(token) == len(RAW_JWT) and hash(token) == hash(RAW_JWT)


def test_a_cell_can_use_the_value_without_revealing_it(token: Secret, tmp_path: Path) -> None:
    path = tmp_path / "token"
    printed, ns = as_notebook_cell(
        "path.write_text(token)\nheader = 'Bearer ' + token\nbody = json.dumps({'assertion': token})\n"
        "raw = token.reveal()\nsame = token.value == raw\nprint(header == 'Bearer ' + raw)",
        token=token, path=path, json=json)
    assert path.read_text() == RAW_JWT and ns["header"] == "Bearer " + RAW_JWT and ns["same"]
    assert json.loads(ns["body"])["assertion"] == RAW_JWT and printed.strip() == "True"
    assert type(ns["raw"]) is str and type(ns["header"]) is str  # plain str: shows in full (documented)


def test_derived_strings_are_plain(token: Secret) -> None:
    for derived in (token[:], token.strip(), token + "", token.split(".")[0], token.lower()):
        assert type(derived) is str


def test_httpx_sends_the_real_value_in_forms_json_and_headers(token: Secret) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        client.post("https://idp.example/token", data={"client_assertion": token},
                    headers={"authorization": f"Bearer {token}", "dpop": token})
        client.post("https://api.example/v1/oauth/token", json={"assertion": token})
        client.post("https://idp.example/token", auth=httpx.BasicAuth("client", Secret("s3cr3t-value-1234")))
    form, body, basic = seen
    assert httpx.QueryParams(form.content.decode())["client_assertion"] == RAW_JWT
    assert form.headers["authorization"] == f"Bearer {RAW_JWT}" and form.headers["dpop"] == RAW_JWT
    assert json.loads(body.content)["assertion"] == RAW_JWT
    assert basic.headers["authorization"] == httpx.BasicAuth("client", "s3cr3t-value-1234")._auth_header


def test_pyjwt_decodes_a_secret(token: Secret) -> None:
    assert jwt.decode(token, KEY, algorithms=["HS256"], audience="https://api.anthropic.com")["sub"] == "workload"
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_the_anthropic_sdk_exchanges_the_real_value(token: Secret) -> None:
    bodies: list[dict[str, Any]] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        bodies.append(json.loads(request.content))
        return httpx2.Response(200, json={"access_token": RAW_OAT, "token_type": "Bearer", "expires_in": 600})

    with httpx2.Client(transport=httpx2.MockTransport(answer)) as client:
        minted = exchange_federation_assertion(assertion=token, federation_rule_id="fdrl_01x",
                                               organization_id="00000000-0000-4000-8000-000000000001",
                                               base_url="https://api.example", http_client=client)
    assert bodies[0]["assertion"] == RAW_JWT and minted.token == RAW_OAT


def test_the_anthropic_sdk_calls_a_provider_returning_a_secret(lab: MockStack) -> None:
    from tests.helpers import federate

    the_lab = lab_of(lab)
    oidc = the_lab.section("oidc")
    fed = federate(the_lab, issuer_url=oidc["issuer"], match={"subject_prefix": "secret-test"},
                   jwks={"type": "discovery"})
    minted = httpx.post(oidc["mint_url"], json={"claims": {"sub": "secret-test", "aud": oidc["audience"]}},
                        verify=ssl_context(the_lab.ca_bundle)).raise_for_status().json()
    identity = Secret(minted["token"])
    from wif_lab.sdk import federated_client

    client = federated_client(identity_token_provider=lambda: identity, base_url=the_lab.base_url,
                              federation_rule_id=fed.rule.id, organization_id=the_lab.organization_id,
                              service_account_id=fed.service_account.id, verify=the_lab.ca_bundle)
    reply = client.messages.create(model="claude-haiku-4-5", max_tokens=32,
                                   messages=[{"role": "user", "content": "who am I?"}])
    assert isinstance(reply, anthropic.types.Message) and fed.service_account.id in reply.content[0].text


def test_azure_identity_sends_the_real_assertion(lab: MockStack) -> None:
    """ClientAssertionCredential with a callback returning the projected token as a Secret (msal's form)."""
    the_lab = lab_of(lab)
    aks = the_lab.section("aks")
    env = aks["env"]
    credential = ClientAssertionCredential(
        env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], lambda: read_token_file(aks["token_file"]),
        authority=env["AZURE_AUTHORITY_HOST"], connection_verify=str(the_lab.ca_bundle))
    token = credential.get_token(aks["scope"]).token
    assert jwt.decode(token, options={"verify_signature": False})["azp"] == env["AZURE_CLIENT_ID"]


# --- helpers -------------------------------------------------------------------------------------


def test_masked_replaces_secrets_inside_structures(token: Secret) -> None:
    shown = masked({"a": [token, "plain"], "b": (Secret(RAW_OAT),), "c": 3})
    assert shown == {"a": [redact(RAW_JWT, short=True), "plain"], "b": ("sk-ant-oat01-Zq9Z…",), "c": 3}
    assert not leaks(json.dumps(shown))


def test_wrapping_is_idempotent_and_only_for_str(token: Secret) -> None:
    assert Secret(token) is token
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]


def test_the_exchange_refuses_a_redacted_token(token: Secret) -> None:
    _, ns = as_notebook_cell("shown = str(token)", token=token)
    assert SIGNATURE_MARK in ns["shown"]
    with pytest.raises(ConfigurationError, match="redacted form") as info:
        exchange(ns["shown"], base_url="https://api.example", federation_rule_id="fdrl_01x",
                 organization_id="00000000-0000-4000-8000-000000000001")
    assert "reveal()" in info.value.hint
