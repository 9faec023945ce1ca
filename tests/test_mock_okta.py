"""The mock Okta, in-process: every refusal with Okta's status and exact error body, and the shapes
of what it issues (token claims, discovery, keys)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.testclient import TestClient

from wif_lab.mock.base import LabContext
from wif_lab.mock.keys import KeyStore
from wif_lab.mock.okta import OktaMock
from wif_lab.mock.okta.console import jwk_with_kid
from wif_lab.mock.tls import LabTLS
from wif_lab.providers.okta import build_dpop_proof, public_jwk
from wif_lab.tokens import jwk_thumbprint

ORG = "https://127.0.0.1:8443"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NOT_CONFIGURED = "One or more scopes are not configured for the authorization server resource."
POLICY_FAILED = "Policy evaluation failed for this request, please check the policy configurations."


@pytest.fixture(scope="module")
def keystore(state_dir: Path) -> KeyStore:
    # Same key names and directory as the shared lab: warm after the first start, loaded once here.
    return KeyStore(state_dir / "shared")


@pytest.fixture
def okta(keystore: KeyStore, state_dir: Path) -> OktaMock:
    unused = state_dir / "no-tls-in-process"
    ctx = LabContext(state_dir / "shared", keystore, LabTLS(unused, unused, unused), {"okta": ORG})
    return OktaMock(ctx)


class Caller:
    """Builds the workload's requests against one fresh mock org."""

    def __init__(self, okta: OktaMock) -> None:
        self.okta = okta
        self.conn = okta.connection()
        self.http = TestClient(okta.asgi(), base_url=ORG)
        self.key = okta.ctx.keys.private_key("okta-workload")
        self.client_id: str = self.conn["client_id"]
        self.url: str = self.conn["token_endpoint"]

    def assertion(
        self, *, key: Any = None, alg: str = "RS256", kid: str | None = "registered", omit: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.client_id, "sub": self.client_id, "aud": self.url, "iat": now, "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        body.update(claims)
        for name in omit:
            body.pop(name)
        headers = {"kid": self.conn["key_id"] if kid == "registered" else kid} if kid else None
        return jwt.encode(body, key if key is not None else self.key, algorithm=alg, headers=headers)

    def post(
        self, url: str | None = None, *, assertion: str | None = None, scope: str | None = "anthropic.access",
        **form: str,
    ) -> httpx.Response:
        data = {"grant_type": "client_credentials"}
        if scope is not None:
            data["scope"] = scope
        if assertion is not False:  # type: ignore[comparison-overlap]
            data.update(client_assertion_type=JWT_BEARER, client_assertion=assertion or self.assertion())
        data.update(form)
        data = {k: v for k, v in data.items() if v is not None}
        return self.http.post(url or self.url, data=data)

    def post_secret(self, secret_app: Any, secret: str | None = None, *, basic: bool = True) -> httpx.Response:
        data = {"grant_type": "client_credentials", "scope": "anthropic.access"}
        secret = secret if secret is not None else secret_app.client_secret
        if basic:
            return self.http.post(self.url, data=data, auth=(secret_app.client_id, secret))
        return self.http.post(self.url, data={**data, "client_id": secret_app.client_id, "client_secret": secret})

    def secret_app(self) -> Any:
        app = self.okta.create_service_app("secret workload", token_endpoint_auth_method="client_secret_basic",
                                             require_dpop=False)
        self.okta.lab_server.add_policy_rule("Anthropic workloads", clients=[app], scopes=["anthropic.access"])
        return app


@pytest.fixture
def caller(okta: OktaMock) -> Caller:
    return Caller(okta)


def _replayed(c: Caller) -> httpx.Response:
    once = c.assertion()
    assert c.post(assertion=once).status_code == 200
    return c.post(assertion=once)


def _outsider(c: Caller) -> httpx.Response:
    key = ec.generate_private_key(ec.SECP256R1())
    app = c.okta.create_service_app("not assigned to any policy", public_jwk=jwk_with_kid(key), require_dpop=False)
    c.client_id = app.client_id
    return c.post(assertion=c.assertion(key=key, alg="ES256", kid=app.jwks[0]["kid"]))


def _unassigned_scope(c: Caller) -> httpx.Response:
    c.okta.lab_server.add_scope("anthropic.admin")
    return c.post(scope="anthropic.access anthropic.admin")


def _dpop_required(c: Caller) -> httpx.Response:
    c.okta.workload_app.require_dpop = True
    return c.post()


def _hs256(c: Caller) -> httpx.Response:
    return c.post(assertion=c.assertion(key="a-shared-secret-that-is-at-least-32-chars", alg="HS256"))


def _basic_and_assertion(c: Caller) -> httpx.Response:
    data = {"grant_type": "client_credentials", "scope": "anthropic.access", "client_assertion_type": JWT_BEARER,
            "client_assertion": c.assertion()}
    return c.http.post(c.url, data=data, auth=(c.client_id, "x"))


Case = tuple[str, Callable[[Caller], httpx.Response], int, str, str]
INVALID_CLIENT: list[Case] = [
    ("bad signature", lambda c: c.post(assertion=c.assertion(key=c.okta.ctx.keys.private_key("okta-workload-2"))),
     401, "invalid_client", "The client_assertion signature is invalid."),
    ("aud is the issuer", lambda c: c.post(assertion=c.assertion(aud=c.conn["issuer"])),
     401, "invalid_client", "The audience claim for client_assertion must be the endpoint invoked for the request."),
    ("aud is another server's endpoint",
     lambda c: c.post(assertion=c.assertion(aud=f"{ORG}/oauth2/default/v1/token")),
     401, "invalid_client", "The audience claim for client_assertion must be the endpoint invoked for the request."),
    ("expired", lambda c: c.post(assertion=c.assertion(exp=int(time.time()) - 5)),
     401, "invalid_client", "The client_assertion token is expired."),
    ("exp too far ahead", lambda c: c.post(assertion=c.assertion(exp=int(time.time()) + 3605)),
     401, "invalid_client", "The client_assertion token has an expiration too far into the future."),
    ("no exp", lambda c: c.post(assertion=c.assertion(omit=("exp",))),
     401, "invalid_client", "The client_assertion must contain the 'exp' claim as seconds since epoch."),
    ("iat in the future", lambda c: c.post(assertion=c.assertion(iat=int(time.time()) + 600)),
     401, "invalid_client", "The client_assertion token must be issued before the current time."),
    ("jti reused", _replayed, 401, "invalid_client", "The client_assertion token has already been used."),
    ("unknown client (assertion)",
     lambda c: c.post(assertion=c.assertion(iss="0oaUnknownClient0000", sub="0oaUnknownClient0000")),
     401, "invalid_client", "The issuer claim for client_assertion is not a valid client_id."),
    ("sub is not the client", lambda c: c.post(assertion=c.assertion(sub="someone-else")),
     401, "invalid_client", "The subject claim for client_assertion is not a valid client_id."),
    ("unknown kid", lambda c: c.post(assertion=c.assertion(kid="not-a-registered-kid")),
     401, "invalid_client", "The client_assertion JWT kid is invalid."),
    ("HS256 assertion", _hs256, 401, "invalid_client", "The client_assertion JWT signature algorithm is invalid."),
    ("not a JWT", lambda c: c.post(assertion="not.a.jwt"),
     401, "invalid_client", "The parsing of the client_assertion failed."),
    ("wrong client secret", lambda c: c.post_secret(c.secret_app(), "wrong-secret"),
     401, "invalid_client", "The client secret supplied for a confidential client is invalid."),
    ("unknown client (basic)", lambda c: c.http.post(c.url, data={"grant_type": "client_credentials"},
                                                      auth=("0oaUnknownClient0000", "secret")),
     401, "invalid_client", "Client authentication failed. Either the client or the client credentials are invalid."),
    ("secret for a private_key_jwt app", lambda c: c.http.post(c.url, data={"grant_type": "client_credentials"},
                                                                auth=(c.client_id, "secret")),
     401, "invalid_client", "Client authentication failed. Either the client or the client credentials are invalid."),
    ("no credentials", lambda c: c.post(assertion=False),  # type: ignore[arg-type]
     401, "invalid_client", "No client credentials found."),
    ("malformed Basic header", lambda c: c.http.post(c.url, data={"grant_type": "client_credentials"},
                                                      headers={"authorization": "Basic !!!"}),
     401, "invalid_client", "Found Authentication header but was not valid client credentials."),
]
REQUEST_ERRORS: list[Case] = [
    ("Basic header and assertion", _basic_and_assertion, 401, "invalid_request",
     "Cannot supply multiple client credentials. Use one of the following: credentials in the Authorization "
     "header, credentials in the post body, or a client_assertion in the post body."),
    ("wrong client_assertion_type", lambda c: c.post(client_assertion_type="urn:example:wrong"),
     400, "invalid_request", "The client_assertion_type is invalid."),
    ("credentials in the query", lambda c: c.http.post(c.url + "?client_secret=x", data={"grant_type": "x"}),
     400, "invalid_request", "Client credentials cannot be supplied via query parameters."),
    ("no grant_type", lambda c: c.post(grant_type=None),  # type: ignore[arg-type]
     400, "invalid_request", "The token request must specify a 'grant_type'. Valid values: [client_credentials]"),
    ("unsupported grant type", lambda c: c.post(grant_type="urn:example:magic"),
     400, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server. "
     "Configured grant types: [client_credentials]."),
    ("grant not enabled on the app", lambda c: c.post(grant_type="password"),
     400, "unauthorized_client",
     "The client is not authorized to use the provided grant type. Configured grant types: [client_credentials]."),
    ("no scope, no default scope", lambda c: c.post(scope=None), 400, "invalid_scope",
     "The authorization server resource does not have any configured default scopes, 'scope' must be provided."),
    ("scope not on the server", lambda c: c.post(scope="anthropic.everything"), 400, "invalid_scope", NOT_CONFIGURED),
    ("openid with client_credentials", lambda c: c.post(scope="openid anthropic.access"),
     400, "invalid_scope", "Cannot request 'openid' scopes using client credentials."),
    ("scope outside the rule", _unassigned_scope, 401, "access_denied", POLICY_FAILED),
    ("app not assigned to a policy", _outsider, 401, "access_denied", POLICY_FAILED),
    ("DPoP required, none sent", _dpop_required, 400, "invalid_dpop_proof", "The DPoP proof JWT header is missing."),
]


@pytest.mark.parametrize(("name", "send", "status", "error", "description"), INVALID_CLIENT + REQUEST_ERRORS,
                         ids=[c[0] for c in INVALID_CLIENT + REQUEST_ERRORS])
def test_refusals_match_okta(
    caller: Caller, name: str, send: Callable[[Caller], httpx.Response], status: int, error: str, description: str
) -> None:
    response = send(caller)
    assert response.status_code == status
    assert response.json() == {"error": error, "error_description": description}
    assert response.headers["cache-control"] == "no-cache, no-store"


@pytest.mark.parametrize("path", ["/oauth2/ausNoSuchServer00000/v1/token", "/oauth2/ausNoSuchServer00000/v1/keys",
                                  "/oauth2/ausNoSuchServer00000/.well-known/openid-configuration"])
def test_unknown_authorization_server_is_okta_404(caller: Caller, path: str) -> None:
    response = caller.http.post(path, data={}) if path.endswith("token") else caller.http.get(path)
    assert response.status_code == 404
    body = response.json()
    assert body["errorCode"] == "E0000007" == body["errorLink"]
    assert body["errorSummary"] == "Not found: Resource not found: ausNoSuchServer00000 (AuthorizationServer)"
    assert body["errorId"].startswith("oae") and body["errorCauses"] == []


# --- happy paths -----------------------------------------------------------------------------------


def test_private_key_jwt_token_response(caller: Caller) -> None:
    response = caller.post()
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["token_type", "expires_in", "access_token", "scope"]
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 3600, "anthropic.access")
    assert response.headers["cache-control"] == "no-cache, no-store" and response.headers["pragma"] == "no-cache"
    assert "refresh_token" not in body and "id_token" not in body


def test_access_token_claims_have_okta_shape(caller: Caller) -> None:
    caller.okta.lab_server.add_claim("workload", "app.profile.workload")
    caller.okta.lab_server.add_claim("source", '"okta:" + app.clientId')
    token = caller.post().json()["access_token"]
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": caller.okta.lab_server.kid}  # no typ
    claims = jwt.decode(token, options={"verify_signature": False})
    assert list(claims) == ["ver", "jti", "iss", "aud", "iat", "exp", "cid", "scp", "sub", "workload", "source"]
    assert claims["ver"] == 1
    assert claims["jti"].startswith("AT.") and len(claims["jti"]) == 46
    assert claims["iss"] == caller.conn["issuer"] == f"{ORG}/oauth2/{caller.okta.lab_server.id}"
    assert claims["aud"] == "https://api.anthropic.com"
    assert claims["exp"] - claims["iat"] == 3600 and abs(claims["iat"] - time.time()) < 60
    assert claims["cid"] == claims["sub"] == caller.client_id
    assert claims["scp"] == ["anthropic.access"]
    assert claims["workload"] == "wif-lab-pipeline" and claims["source"] == f"okta:{caller.client_id}"
    jwks = jwt.PyJWKSet.from_dict(caller.http.get(caller.conn["jwks_uri"]).json())
    verified = jwt.decode(token, jwks[header["kid"]].key, algorithms=["RS256"], audience="https://api.anthropic.com",
                          issuer=caller.conn["issuer"])
    assert verified == claims


def test_each_access_token_has_its_own_jti(caller: Caller) -> None:
    tokens = [jwt.decode(caller.post().json()["access_token"], options={"verify_signature": False})
              for _ in range(2)]
    assert tokens[0]["jti"] != tokens[1]["jti"]


@pytest.mark.parametrize("basic", [True, False], ids=["client_secret_basic", "client_secret_post"])
def test_client_secret_methods(caller: Caller, basic: bool) -> None:
    app = caller.secret_app()
    response = caller.post_secret(app, basic=basic)
    assert response.status_code == 200, response.text
    assert jwt.decode(response.json()["access_token"], options={"verify_signature": False})["sub"] == app.client_id


def test_assertion_variants_okta_accepts(caller: Caller) -> None:
    # aud as an array, no kid with a single registered key, client_id in the body, no jti at all.
    assert caller.post(assertion=caller.assertion(aud=[caller.url])).status_code == 200
    assert caller.post(assertion=caller.assertion(kid=None)).status_code == 200
    assert caller.post(client_id=caller.client_id).status_code == 200
    no_jti = caller.assertion(omit=("jti",))
    assert caller.post(assertion=no_jti).status_code == 200


def test_es256_key(caller: Caller) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    app = caller.okta.create_service_app("ec workload", public_jwk=jwk_with_kid(key), require_dpop=False)
    caller.okta.lab_server.add_policy_rule("Anthropic workloads", clients=[app], scopes=["anthropic.access"])
    caller.client_id = app.client_id
    assert caller.post(assertion=caller.assertion(key=key, alg="ES256", kid=app.jwks[0]["kid"])).status_code == 200


def test_second_app_gets_tokens_from_the_same_server(caller: Caller) -> None:
    second = caller.conn["second_app"]
    caller.client_id = second["client_id"]
    key = caller.okta.ctx.keys.private_key("okta-workload-2")
    response = caller.post(assertion=caller.assertion(key=key, kid=second["key_id"]))
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["sub"] == second["client_id"] != caller.conn["client_id"]
    assert claims["iss"] == caller.conn["issuer"] and claims["aud"] == caller.conn["audience"]


def test_dpop_bound_token(caller: Caller) -> None:
    caller.okta.workload_app.require_dpop = True
    proof_key = ec.generate_private_key(ec.SECP256R1())

    def send(proof: str) -> httpx.Response:
        return caller.http.post(caller.url, data=_form(caller), headers={"DPoP": proof})

    first = send(build_dpop_proof(proof_key, caller.url))
    assert first.status_code == 400
    assert first.json() == {"error": "use_dpop_nonce",
                            "error_description": "Authorization server requires nonce in DPoP proof."}
    nonce = first.headers["dpop-nonce"]
    proof = build_dpop_proof(proof_key, caller.url, nonce=nonce)
    second = send(proof)
    assert second.status_code == 200, second.text
    assert second.json()["token_type"] == "DPoP"
    claims = jwt.decode(second.json()["access_token"], options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": jwk_thumbprint(public_jwk(proof_key))}
    assert send(proof).json()["error_description"] == "The DPoP proof JWT has already been used."
    wrong_htu = send(build_dpop_proof(proof_key, caller.conn["issuer"], nonce=nonce))
    assert wrong_htu.json()["error_description"] == "'htu' claim in the DPoP proof JWT is invalid."
    stale = send(build_dpop_proof(proof_key, caller.url, nonce=nonce, now=time.time() - 400))
    assert stale.json()["error_description"] == "The DPoP proof JWT is issued more than five minutes in the past."


def _form(c: Caller) -> dict[str, str]:
    return {"grant_type": "client_credentials", "scope": "anthropic.access", "client_assertion_type": JWT_BEARER,
            "client_assertion": c.assertion()}


def test_default_scope_is_used_when_scope_omitted(caller: Caller) -> None:
    caller.okta.lab_server.scopes["anthropic.access"].default = True
    response = caller.post(scope=None)
    assert response.status_code == 200 and response.json()["scope"] == "anthropic.access"


def test_policy_rule_lifetime(caller: Caller) -> None:
    server = caller.okta.lab_server
    server.remove_policy("Anthropic workloads")
    assert caller.post().status_code == 401
    server.add_policy_rule("Short", clients=[caller.client_id], scopes=["anthropic.access"],
                           access_token_lifetime_minutes=5)
    assert caller.post().json()["expires_in"] == 300


# --- discovery and keys ------------------------------------------------------------------------------


def test_discovery_documents(caller: Caller) -> None:
    server = caller.okta.lab_server
    paths = [f"/oauth2/{server.id}/.well-known/openid-configuration",
             f"/oauth2/{server.id}/.well-known/oauth-authorization-server",
             f"/.well-known/oauth-authorization-server/oauth2/{server.id}"]
    docs = [caller.http.get(p).json() for p in paths]
    for doc in docs:
        assert doc["issuer"] == server.issuer == caller.conn["issuer"]
        assert doc["token_endpoint"] == f"{server.issuer}/v1/token"
        assert doc["jwks_uri"] == f"{server.issuer}/v1/keys"
        assert "client_credentials" in doc["grant_types_supported"]
        assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]
        assert doc["dpop_signing_alg_values_supported"] == ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
        assert "anthropic.access" in doc["scopes_supported"]
    assert docs[0]["id_token_signing_alg_values_supported"] == ["RS256"] and "userinfo_endpoint" in docs[0]
    assert docs[1] == docs[2] and "userinfo_endpoint" not in docs[1]
    org = caller.http.get("/.well-known/openid-configuration").json()
    assert org["issuer"] == ORG and org["jwks_uri"] == f"{ORG}/oauth2/v1/keys"
    assert "private_key_jwt" not in org["token_endpoint_auth_methods_supported"]


def test_each_server_publishes_its_own_keys(caller: Caller) -> None:
    kids = {}
    for server_id, server in caller.okta.authorization_servers.items():
        response = caller.http.get(f"/oauth2/{server_id}/v1/keys")
        assert response.headers["cache-control"].endswith("must-revalidate")
        keys = response.json()["keys"]
        assert [k["kid"] for k in keys] == [server.kid] and len(server.kid) == 43
        assert set(keys[0]) == {"kty", "alg", "kid", "use", "n", "e"} and keys[0]["alg"] == "RS256"
        kids[server_id] = server.kid
    assert len(set(kids.values())) == len(kids) == 2


def test_key_rotation_keeps_old_key_published(caller: Caller) -> None:
    server = caller.okta.lab_server
    before = server.kid
    old_token = caller.post().json()["access_token"]
    after = server.rotate_keys()
    kids = [k["kid"] for k in caller.http.get(f"/oauth2/{server.id}/v1/keys").json()["keys"]]
    assert after != before and set(kids) == {before, after}
    assert jwt.get_unverified_header(caller.post().json()["access_token"])["kid"] == after
    assert jwt.get_unverified_header(old_token)["kid"] == before


def test_org_server_token_cannot_be_verified_by_anyone(caller: Caller) -> None:
    org = caller.conn["org_authorization_server"]
    response = caller.post(org["token_endpoint"], assertion=caller.assertion(aud=org["token_endpoint"]),
                           scope=org["scope"])
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == claims["aud"] == ORG and claims["scp"] == [org["scope"]]
    kid = jwt.get_unverified_header(token)["kid"]
    published = [caller.http.get(org["jwks_uri"]).json()]
    published += [caller.http.get(f"/oauth2/{sid}/v1/keys").json() for sid in caller.okta.authorization_servers]
    assert all(kid not in {k["kid"] for k in jwks["keys"]} for jwks in published)
    assert published[0]["keys"], "the org server still publishes a (different) key"


@pytest.mark.parametrize(("scope", "status", "error", "description"), [
    ("anthropic.access", 400, "invalid_scope", NOT_CONFIGURED),
    ("okta.users.manage", 400, "consent_required", "You are not allowed any of the requested scopes."),
])
def test_org_server_scopes(caller: Caller, scope: str, status: int, error: str, description: str) -> None:
    url = caller.conn["org_authorization_server"]["token_endpoint"]
    response = caller.post(url, assertion=caller.assertion(aud=url), scope=scope)
    assert (response.status_code, response.json()) == (status, {"error": error, "error_description": description})


def test_org_server_refuses_client_secrets(caller: Caller) -> None:
    app = caller.secret_app()
    url = caller.conn["org_authorization_server"]["token_endpoint"]
    response = caller.http.post(url, data={"grant_type": "client_credentials", "scope": "okta.apps.read"},
                                auth=(app.client_id, app.client_secret))
    assert response.status_code == 401
    assert response.json()["error_description"] == (
        "Client Credentials requests to the Org Authorization Server must use the private_key_jwt "
        "token_endpoint_auth_method.")


# --- configuration ---------------------------------------------------------------------------------------


def test_ids_are_okta_shaped_and_seeded(okta: OktaMock, keystore: KeyStore, state_dir: Path) -> None:
    conn = okta.connection()
    assert conn["client_id"].startswith("0oa") and len(conn["client_id"]) == 20
    assert conn["authorization_server_id"].startswith("aus") and len(conn["authorization_server_id"]) == 20
    unused = state_dir / "no-tls-in-process"
    again = OktaMock(LabContext(state_dir / "shared", keystore, LabTLS(unused, unused, unused), {"okta": ORG}))
    # Ids are seeded (the same org every run); the Management API token is a secret, new per org.
    assert again.connection()["api_token"] != conn["api_token"]
    assert {k: v for k, v in again.connection().items() if k != "api_token"} == \
        {k: v for k, v in conn.items() if k != "api_token"}
    assert set(conn["authorization_servers"]) == {"default", conn["authorization_server_id"]}
    assert Path(conn["private_key"]).read_text().startswith("-----BEGIN PRIVATE KEY-----")


def test_console_refuses_what_okta_refuses(okta: OktaMock) -> None:
    server = okta.lab_server
    with pytest.raises(ValueError, match="reserved"):
        server.add_claim("sub", '"x"')
    with pytest.raises(ValueError, match="unsupported expression"):
        server.add_claim("team", "user.login")
    with pytest.raises(ValueError, match="private key material"):
        okta.create_service_app("leaky", public_jwk={"kty": "RSA", "n": "x", "e": "AQAB", "d": "secret"})
    with pytest.raises(ValueError, match="5 minutes"):
        server.add_policy_rule("Too long", access_token_lifetime_minutes=25 * 60)


def test_secrets_stay_out_of_reprs_and_the_log(caller: Caller) -> None:
    app = caller.secret_app()
    assert caller.post_secret(app).status_code == 200
    assert caller.post(assertion=caller.assertion(aud="https://elsewhere")).status_code == 401
    log = repr(list(caller.okta.request_log))
    assert app.client_secret and app.client_secret not in repr(app) and app.client_secret not in log
    assert [(e["status"], e["error"]) for e in caller.okta.request_log] == [(200, None), (401, "invalid_client")]
    assert "eyJ" not in log


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # signing as Okta's 40-char secrets do
def test_client_secret_jwt(caller: Caller) -> None:
    """An app set to client_secret_jwt proves itself with an HS256/384/512 assertion keyed by its secret."""
    okta = caller.okta
    app = okta.create_service_app("hmac workload", token_endpoint_auth_method="client_secret_jwt", require_dpop=False)
    okta.lab_server.add_policy_rule("Anthropic workloads", clients=[app], scopes=["anthropic.access"])
    assert app.client_secret is not None and len(app.client_secret) >= 32
    caller.client_id = app.client_id

    def answer(key: Any, alg: str, **claims: Any) -> tuple[int, str, str]:
        response = caller.post(assertion=caller.assertion(key=key, alg=alg, kid=None, **claims))
        body = response.json()
        return response.status_code, body.get("error", ""), body.get("error_description", body.get("token_type", ""))

    secret = app.client_secret.encode()
    for alg in ("HS256", "HS384", "HS512"):
        assert answer(secret, alg)[:2] == (200, "")
    assert answer(b"x" * 40, "HS256") == (401, "invalid_client", "The client_assertion signature is invalid.")
    assert answer(caller.key, "RS256") == (
        401, "invalid_client", "The client_assertion JWT signature algorithm is invalid.")
    once = caller.assertion(key=secret, alg="HS256", kid=None)
    assert caller.post(assertion=once).status_code == 200
    replayed = caller.post(assertion=once).json()
    assert replayed["error_description"] == "The client_assertion token has already been used."
    # The secret cannot double as a Basic credential for this app.
    assert caller.post_secret(app).json()["error"] == "invalid_client"

    # The workload app (private_key_jwt) is not allowed HMAC assertions.
    caller.client_id = caller.conn["client_id"]
    assert answer(secret, "HS256")[2] == "The client_assertion JWT signature algorithm is invalid."

    # A secret shorter than 32 characters cannot verify an HMAC assertion at all.
    short = okta.create_service_app("short secret", token_endpoint_auth_method="client_secret_jwt",
                                    client_secret="s" * 31, require_dpop=False)
    okta.lab_server.add_policy_rule("Short", clients=[short], scopes=["anthropic.access"])
    caller.client_id = short.client_id
    assert answer(b"s" * 31, "HS256") == (
        401, "invalid_client", "The client secret is too short to verify a JWT HMAC.")
