"""Real third-party clients against the mock Okta over sockets and TLS (the lab CA, verification on).

authlib's ``private_key_jwt`` client gets tokens the way a Python workload would without wif_lab;
``okta-jwt-verifier`` (Okta's own resource-server library) verifies what the mock issues.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT
from joserfc.jwk import RSAKey
from okta_jwt_verifier import AccessTokenVerifier
from okta_jwt_verifier.exceptions import JWTValidationException
from okta_jwt_verifier.request_executor import RequestExecutor

from wif_lab.mock.okta import OktaMock
from wif_lab.mock.registry import default_specs
from wif_lab.mock.stack import MockStack
from wif_lab.providers.okta import OktaClient


@pytest.fixture(scope="module")
def stack(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockStack]:
    specs = [s for s in default_specs() if s.name == "okta"]
    own = tmp_path_factory.mktemp("okta-real-clients")
    with MockStack(state_dir / "shared", specs=specs, connection_file=own / "connection.json") as running:
        yield running


@pytest.fixture(scope="module")
def conn(stack: MockStack) -> dict[str, Any]:
    return stack.connection()["okta"]


@pytest.fixture(scope="module")
def ca(stack: MockStack) -> str:
    return stack.connection()["ca_bundle"]


@pytest.fixture(scope="module")
def lab_ssl(ca: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca)


def _authlib_client(conn: dict[str, Any], lab_ssl: ssl.SSLContext, auth: Any) -> OAuth2Client:
    # The key is imported once (authlib would re-parse a PEM string for every assertion).
    key = RSAKey.import_key(Path(conn["private_key"]).read_text())
    return OAuth2Client(conn["client_id"], key, token_endpoint_auth_method=auth, scope=conn["scope"], verify=lab_ssl)


# --- authlib ---------------------------------------------------------------------------------------


def test_authlib_private_key_jwt(conn: dict[str, Any], lab_ssl: ssl.SSLContext) -> None:
    auth = PrivateKeyJWT(conn["token_endpoint"], headers={"kid": conn["key_id"]})
    with _authlib_client(conn, lab_ssl, auth) as client:
        first = client.fetch_token(conn["token_endpoint"], grant_type="client_credentials")
        second = client.fetch_token(conn["token_endpoint"], grant_type="client_credentials")
    assert first["token_type"] == "Bearer" and first["scope"] == "anthropic.access"
    claims = jwt.decode(first["access_token"], options={"verify_signature": False})
    assert claims["sub"] == conn["client_id"] and claims["iss"] == conn["issuer"]
    assert second["access_token"] != first["access_token"]


def test_authlib_shared_claims_dict_replays_its_jti(conn: dict[str, Any], lab_ssl: ssl.SSLContext) -> None:
    # authlib writes the jti it generates into a claims= dict, so the next assertion reuses it: the mock,
    # like Okta, refuses the replay.
    auth = PrivateKeyJWT(conn["token_endpoint"], headers={"kid": conn["key_id"]}, claims={})
    with _authlib_client(conn, lab_ssl, auth) as client:
        client.fetch_token(conn["token_endpoint"], grant_type="client_credentials")
        with pytest.raises(OAuthError) as replay:
            client.fetch_token(conn["token_endpoint"], grant_type="client_credentials")
    assert replay.value.error == "invalid_client"
    assert replay.value.description == "The client_assertion token has already been used."


def test_authlib_assertion_for_the_issuer_is_refused(conn: dict[str, Any], lab_ssl: ssl.SSLContext) -> None:
    auth = PrivateKeyJWT(conn["issuer"], headers={"kid": conn["key_id"]})
    with _authlib_client(conn, lab_ssl, auth) as client, pytest.raises(OAuthError) as refused:
        client.fetch_token(conn["token_endpoint"], grant_type="client_credentials")
    assert refused.value.description == (
        "The audience claim for client_assertion must be the endpoint invoked for the request.")


def test_authlib_client_secret_basic(stack: MockStack, conn: dict[str, Any], lab_ssl: ssl.SSLContext) -> None:
    okta: OktaMock = stack.mocks["okta"]  # type: ignore[assignment]
    app = okta.create_service_app("authlib secret app", token_endpoint_auth_method="client_secret_basic",
                                    require_dpop=False)
    okta.lab_server.add_policy_rule("Anthropic workloads", clients=[app], scopes=["anthropic.access"])
    with OAuth2Client(app.client_id, app.client_secret, scope="anthropic.access", verify=lab_ssl) as client:
        token = client.fetch_token(conn["token_endpoint"], grant_type="client_credentials")
    assert jwt.decode(token["access_token"], options={"verify_signature": False})["cid"] == app.client_id


def test_authlib_client_secret_jwt(stack: MockStack, conn: dict[str, Any], lab_ssl: ssl.SSLContext) -> None:
    """authlib's own client_secret_jwt (HS256 assertion keyed by the secret) against an app set to it."""
    okta: OktaMock = stack.mocks["okta"]  # type: ignore[assignment]
    app = okta.create_service_app("authlib hmac app", token_endpoint_auth_method="client_secret_jwt",
                                  require_dpop=False)
    okta.lab_server.add_policy_rule("Anthropic workloads", clients=[app], scopes=["anthropic.access"])
    auth = ClientSecretJWT(conn["token_endpoint"])
    with OAuth2Client(app.client_id, app.client_secret, token_endpoint_auth_method=auth, scope="anthropic.access",
                      verify=lab_ssl) as client:
        token = client.fetch_token(conn["token_endpoint"], grant_type="client_credentials")
    assert jwt.decode(token["access_token"], options={"verify_signature": False})["cid"] == app.client_id


# --- okta-jwt-verifier -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def access_token(conn: dict[str, Any], ca: str) -> str:
    with OktaClient.from_connection(conn, ca) as client:
        return client.fetch_token().access_token


def test_okta_jwt_verifier_sync(
    conn: dict[str, Any], ca: str, access_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sync path uses requests, which trusts REQUESTS_CA_BUNDLE: the lab CA, verification still on.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)
    verifier = AccessTokenVerifier(issuer=conn["issuer"], audience=conn["audience"])
    verifier.verify_sync(access_token, claims_to_verify=("iss", "aud", "exp", "cid", "sub"))
    claims = jwt.decode(access_token, options={"verify_signature": False})
    assert claims["cid"] == conn["client_id"]  # the verifier checks presence; the client id is ours to pin
    with pytest.raises(JWTValidationException, match="Audience doesn't match"):
        AccessTokenVerifier(issuer=conn["issuer"], audience="api://default").verify_sync(access_token)
    with pytest.raises(JWTValidationException, match="Invalid issuer"):
        default_issuer = conn["authorization_servers"]["default"]
        AccessTokenVerifier(issuer=default_issuer, audience=conn["audience"]).verify_sync(access_token)


def test_okta_jwt_verifier_refuses_org_server_tokens(
    conn: dict[str, Any], ca: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)
    org = conn["org_authorization_server"]
    with OktaClient.from_connection(conn, ca, issuer=org["issuer"], token_endpoint=org["token_endpoint"],
                                    scope=org["scope"]) as client:
        org_token = client.fetch_token().access_token
    verifier = AccessTokenVerifier(issuer=org["issuer"], audience=org["issuer"])
    with pytest.raises(JWTValidationException, match="No matching JWK"):
        verifier.verify_sync(org_token)


class _LabCAExecutor(RequestExecutor):
    """okta-jwt-verifier's own extension point: pass the lab CA to aiohttp (verification stays on)."""

    ssl_context: ssl.SSLContext | None = None

    def _build_request_params(self, **params: Any) -> dict[str, Any]:
        return {**super()._build_request_params(**params), "ssl": self.ssl_context}


def test_okta_jwt_verifier_async(conn: dict[str, Any], lab_ssl: ssl.SSLContext, access_token: str) -> None:
    _LabCAExecutor.ssl_context = lab_ssl
    verifier = AccessTokenVerifier(issuer=conn["issuer"], audience=conn["audience"],
                                   request_executor=_LabCAExecutor)
    asyncio.run(verifier.verify(access_token))
    tampered = access_token[:-4] + ("AAAA" if not access_token.endswith("AAAA") else "BBBB")
    with pytest.raises(JWTValidationException):
        asyncio.run(verifier.verify(tampered))
