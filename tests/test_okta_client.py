"""The workload-side Okta client (wif_lab.providers.okta) against the mock Okta over real TLS."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from wif_lab.errors import ConfigurationError, ProviderError, ProviderUnreachable
from wif_lab.mock.okta import OktaMock
from wif_lab.mock.okta.console import jwk_with_kid
from wif_lab.mock.registry import default_specs
from wif_lab.mock.stack import MockStack
from wif_lab.providers.okta import (
    OktaClient,
    OktaToken,
    build_client_assertion,
    load_private_key,
    okta_token_provider,
    public_jwk,
    refusal,
)


@pytest.fixture(scope="module")
def stack(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockStack]:
    specs = [s for s in default_specs() if s.name == "okta"]
    own = tmp_path_factory.mktemp("okta-client")
    with MockStack(state_dir / "shared", specs=specs, connection_file=own / "connection.json") as running:
        yield running


@pytest.fixture(scope="module")
def conn(stack: MockStack) -> dict[str, Any]:
    return stack.connection()["okta"]


@pytest.fixture(scope="module")
def ca(stack: MockStack) -> str:
    return stack.connection()["ca_bundle"]


@pytest.fixture(scope="module")
def okta(stack: MockStack) -> OktaMock:
    return stack.mocks["okta"]  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def _close_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close every client a test opens: idle keep-alive connections would slow the stack's shutdown."""
    opened: list[OktaClient] = []
    original = OktaClient.__init__

    def tracking_init(self: OktaClient, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(OktaClient, "__init__", tracking_init)
    yield
    for client in opened:
        client.close()


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_fetch_token_from_connection(conn: dict[str, Any], ca: str) -> None:
    with OktaClient.from_connection(conn, ca) as client:
        token = client.fetch_token()
    assert isinstance(token, OktaToken)
    assert (token.token_type, token.expires_in, token.scope) == ("Bearer", 3600, "anthropic.access")
    claims = token.claims()
    assert claims["iss"] == conn["issuer"] and claims["sub"] == conn["client_id"] and claims["aud"] == conn["audience"]
    signature = token.access_token.rsplit(".", 1)[1]
    assert signature not in repr(token) and signature not in str(token)


def test_second_app_and_default_server(conn: dict[str, Any], ca: str) -> None:
    with OktaClient.from_connection(conn, ca, app="second_app", authorization_server="default") as client:
        claims = client.fetch_token().claims()
    assert claims["sub"] == conn["second_app"]["client_id"]
    assert claims["iss"] == conn["authorization_servers"]["default"]


def test_provider_fetches_a_fresh_token_every_call(conn: dict[str, Any], ca: str) -> None:
    provider = okta_token_provider(OktaClient.from_connection(conn, ca))
    first, second = provider(), provider()
    assert _claims(first)["jti"] != _claims(second)["jti"]
    assert provider.calls == 2  # type: ignore[attr-defined]
    assert first.rsplit(".", 1)[1] not in repr(provider)


def test_client_assertion_shape(conn: dict[str, Any], ca: str) -> None:
    client = OktaClient.from_connection(conn, ca)
    assertion = client.client_assertion()
    assert jwt.get_unverified_header(assertion) == {"alg": "RS256", "kid": conn["key_id"], "typ": "JWT"}
    claims = _claims(assertion)
    assert claims["iss"] == claims["sub"] == conn["client_id"]
    assert claims["aud"] == conn["token_endpoint"]
    assert claims["exp"] - claims["iat"] == 300 and abs(claims["iat"] - time.time()) < 60
    assert claims["jti"] != _claims(client.client_assertion())["jti"]


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_secret_methods(okta: OktaMock, conn: dict[str, Any], ca: str, method: str) -> None:
    app = okta.create_service_app(f"secret {method}", token_endpoint_auth_method=method, require_dpop=False)
    okta.lab_server.add_policy_rule("Anthropic workloads", clients=[app], scopes=["anthropic.access"])
    client = OktaClient(conn["issuer"], app.client_id, client_secret=app.client_secret, auth_method=method, verify=ca)
    assert client.fetch_token().claims()["cid"] == app.client_id
    assert app.client_secret not in repr(client)


def test_dpop_round_trip(okta: OktaMock, conn: dict[str, Any], ca: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    app = okta.create_service_app("dpop workload", public_jwk=jwk_with_kid(key), require_dpop=True)
    okta.lab_server.add_policy_rule("Anthropic workloads", clients=[app], scopes=["anthropic.access"])
    common = {"private_key": key, "key_id": app.jwks[0]["kid"], "verify": ca}
    with pytest.raises(ProviderError) as refused:
        OktaClient(conn["issuer"], app.client_id, **common).fetch_token()
    assert (refused.value.status, refused.value.error) == (400, "invalid_dpop_proof")
    assert "Require Demonstrating Proof of Possession" in refused.value.hint
    token = OktaClient(conn["issuer"], app.client_id, dpop_key=ec.generate_private_key(ec.SECP256R1()),
                       **common).fetch_token()
    assert token.token_type == "DPoP" and "jkt" in token.claims()["cnf"]


def test_client_secret_jwt(okta: OktaMock, conn: dict[str, Any], ca: str) -> None:
    app = okta.create_service_app("hmac client", token_endpoint_auth_method="client_secret_jwt", require_dpop=False)
    okta.lab_server.add_policy_rule("Anthropic workloads", clients=[app], scopes=["anthropic.access"])
    client = OktaClient(conn["issuer"], app.client_id, client_secret=app.client_secret, auth_method="client_secret_jwt",
                        verify=ca)
    assert jwt.get_unverified_header(client.client_assertion())["alg"] == "HS256"
    assert client.fetch_token().claims()["cid"] == app.client_id
    assert app.client_secret not in repr(client)

    short = okta.create_service_app("short hmac", token_endpoint_auth_method="client_secret_jwt",
                                    client_secret="s" * 31, require_dpop=False)
    okta.lab_server.add_policy_rule("Short", clients=[short], scopes=["anthropic.access"])
    # pyjwt warns about the short HMAC key on the way out; Okta refuses it on the way in.
    with pytest.warns(jwt.warnings.InsecureKeyLengthWarning), pytest.raises(ProviderError) as refused:
        OktaClient(conn["issuer"], short.client_id, client_secret="s" * 31, auth_method="client_secret_jwt",
                   verify=ca).fetch_token()
    assert refused.value.description == "The client secret is too short to verify a JWT HMAC."
    assert "at least 32 characters" in refused.value.hint


def test_the_scenario_app_left_at_okta_defaults_requires_dpop(okta: OktaMock, conn: dict[str, Any], ca: str) -> None:
    """A new API Services app has "Require DPoP" ticked; the guide's workload apps have it unticked."""
    from wif_lab.providers.okta import new_dpop_key
    from wif_lab.tokens import jwk_thumbprint

    assert okta.create_service_app("fresh from the console").require_dpop
    assert okta.app(conn["new_app"]["client_id"]).require_dpop
    assert not okta.app(conn["client_id"]).require_dpop and not okta.app(conn["second_app"]["client_id"]).require_dpop
    with pytest.raises(ProviderError, match="DPoP proof JWT header is missing"):
        OktaClient.from_connection(conn, ca, app="new_app").fetch_token()
    proof_key = new_dpop_key()
    client = OktaClient.from_connection(conn, ca, app="new_app", dpop_key=proof_key)
    token = client.fetch_token()
    assert token.token_type == "DPoP"
    assert token.claims()["cnf"]["jkt"] == client.dpop_key_thumbprint == jwk_thumbprint(public_jwk(proof_key))


@pytest.mark.parametrize(("overrides", "status", "error", "hint_fragment"), [
    ({"key_id": "not-registered"}, 401, "invalid_client", "Public keys"),
    ({"private_key": "second_app"}, 401, "invalid_client", "pair of the public key"),
    ({"assertion_lifetime": 3700}, 401, "invalid_client", "1 hour"),
    ({"scope": "anthropic.admin"}, 400, "invalid_scope", "Scopes"),
    ({"scope": "openid"}, 400, "invalid_scope", "custom scope only"),
    ({"issuer": "ausDoesNotExist00000"}, 404, "E0000007", "/oauth2/<id>"),
])
def test_refusals_become_one_error_with_a_hint(
    conn: dict[str, Any], ca: str, overrides: dict[str, Any], status: int, error: str, hint_fragment: str
) -> None:
    if overrides.get("private_key") == "second_app":
        overrides["private_key"] = conn["second_app"]["private_key"]
    if "issuer" in overrides:
        overrides["issuer"] = f"{conn['org_url']}/oauth2/{overrides['issuer']}"
    issuer = overrides.pop("issuer", conn["issuer"])
    kwargs = {"private_key": conn["private_key"], "key_id": conn["key_id"], "scope": conn["scope"], "verify": ca}
    client = OktaClient(issuer, conn["client_id"], **{**kwargs, **overrides})
    with pytest.raises(ProviderError) as refused:
        client.fetch_token()
    err = refused.value
    assert (err.status, err.error) == (status, error)
    assert err.description and err.description in str(err)
    assert hint_fragment in err.hint and "Check next" in str(err)


def test_policy_denial_hint(okta: OktaMock, conn: dict[str, Any], ca: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    app = okta.create_service_app("unassigned", public_jwk=jwk_with_kid(key), require_dpop=False)
    with pytest.raises(ProviderError) as refused:
        OktaClient(conn["issuer"], app.client_id, private_key=key, verify=ca).fetch_token()
    assert (refused.value.status, refused.value.error) == (401, "access_denied")
    assert "access policy" in refused.value.hint and "Client Credentials" in refused.value.hint


def test_org_server_token_and_its_refusal(conn: dict[str, Any], ca: str) -> None:
    org = conn["org_authorization_server"]
    client = OktaClient.from_connection(conn, ca, issuer=org["issuer"], token_endpoint=org["token_endpoint"],
                                        scope=org["scope"])
    claims = client.fetch_token().claims()
    assert claims["iss"] == conn["org_url"] == claims["aud"]


@pytest.mark.parametrize(("body", "hint_fragment"), [
    ({"error": "invalid_client",
      "error_description": "The audience claim for client_assertion must be the endpoint invoked for the request."},
     "https://okta.example/oauth2/aus1/v1/token"),
    ({"error": "invalid_client", "error_description": "The client_assertion token has already been used."},
     "fresh jti"),
    ({"error": "invalid_client",
      "error_description": "Client authentication failed. Either the client or the client credentials are invalid."},
     "0oaExample"),
    ({"error": "access_denied", "error_description": "Policy evaluation failed for this request, please check the "
      "policy configurations."}, "Access Policies"),
    ({"error": "unauthorized_client", "error_description": "x"}, "Client Credentials grant"),
    ({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests."},
     "X-Rate-Limit-Reset"),
])
def test_hint_per_okta_error(body: dict[str, str], hint_fragment: str) -> None:
    context = {"token_endpoint": "https://okta.example/oauth2/aus1/v1/token", "issuer": "https://okta.example/oauth2/aus1",
               "client_id": "0oaExample", "key_id": "k1", "auth_method": "private_key_jwt", "scope": "s"}
    err = refusal(httpx.Response(401, json=body), context)
    assert hint_fragment in err.hint
    assert err.error == (body.get("error") or body.get("errorCode"))


def test_non_json_refusal(conn: dict[str, Any]) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(502, text="<html>Bad gateway</html>"))
    client = OktaClient(conn["issuer"], conn["client_id"], private_key=conn["private_key"], transport=transport)
    with pytest.raises(ProviderError) as refused:
        client.fetch_token()
    assert refused.value.status == 502 and refused.value.error is None
    assert "Bad gateway" in str(refused.value) and "retry" in refused.value.hint


def test_unreachable_names_the_url(conn: dict[str, Any], ca: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    issuer = f"https://127.0.0.1:{port}/oauth2/default"
    with pytest.raises(ProviderUnreachable) as unreachable:
        OktaClient(issuer, conn["client_id"], private_key=conn["private_key"], verify=ca).fetch_token()
    assert f"{issuer}/v1/token" in str(unreachable.value)


def test_tls_is_verified(conn: dict[str, Any]) -> None:
    # The system CAs do not trust the lab CA: verification is on, so the call must fail.
    with pytest.raises(ProviderUnreachable) as unreachable:
        OktaClient(conn["issuer"], conn["client_id"], private_key=conn["private_key"], verify=True).fetch_token()
    assert "CERTIFICATE_VERIFY_FAILED" in str(unreachable.value)


def test_configuration_errors(conn: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read the private key"):
        load_private_key(tmp_path / "missing.pem")
    with pytest.raises(ConfigurationError, match="needs the workload's private key"):
        OktaClient(conn["issuer"], conn["client_id"], auth_method="private_key_jwt")
    with pytest.raises(ConfigurationError, match="CA bundle"):
        OktaClient(conn["issuer"], conn["client_id"], private_key=conn["private_key"], verify=tmp_path / "no-ca.pem")
    with pytest.raises(ConfigurationError, match="second_app"):
        OktaClient.from_connection(conn, None, app="third_app")


def test_assertion_builder_accepts_ec_keys() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    assertion = build_client_assertion("0oaX", "https://o.example/oauth2/default/v1/token", key, key_id="k")
    assert jwt.get_unverified_header(assertion)["alg"] == "ES384"
