"""``wif-lab setup okta`` and the mock Okta's Management API it drives, over real TLS.

The setup is proven by use: after it runs, the workload's key gets a token from the new authorization
server, and (with ``wif-lab setup anthropic`` on the printed values) that token is exchanged for a
Claude API token. The Management API itself answers like Okta's: SSWS auth, whole-object PUTs,
Link-header paging and the ``errorCode``/``errorSummary``/``errorCauses`` error shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helpers import own_stack
from wif_lab.cli import main
from wif_lab.errors import ProviderError
from wif_lab.exchange import exchange
from wif_lab.http import ssl_context
from wif_lab.mock.okta.management import READ_ONLY_ADMIN
from wif_lab.mock.stack import MockStack
from wif_lab.providers.okta import OktaClient
from wif_lab.setup.okta_config import load_okta, thumbprint
from wif_lab.tokens import decode

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def stack(state_dir: Path) -> Iterator[MockStack]:
    with own_stack(state_dir, "setup-okta") as running:
        yield running


@pytest.fixture
def conn(stack: MockStack, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    connection = stack.connection()
    monkeypatch.setenv("OKTA_API_TOKEN", str(connection["okta"]["api_token"]))
    return connection


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = rsa.generate_private_key(65537, 2048)
    path = tmp_path_factory.mktemp("okta-key") / "workload.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def write_config(path: Path, conn: dict[str, Any], key: Path, *, label: str, server: str, dpop: bool = False,
                 minutes: int = 60, policy: str = "Anthropic setup policy") -> Path:
    path.write_text(f"""
[okta]
org_url = "{conn['okta']['org_url']}"
ca_bundle = "{conn['ca_bundle']}"

[okta.app]
label = "{label}"
public_key = "{key}"
require_dpop = {str(dpop).lower()}

[okta.authorization_server]
name = "{server}"
audience = "https://api.anthropic.com"

[okta.scope]
name = "anthropic.access"

[okta.policy]
name = "{policy}"
[okta.policy.rule]
name = "client credentials"
access_token_lifetime_minutes = {minutes}
""")
    return path


def run_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["setup", *args])
    out, err = capsys.readouterr()
    return code, out, err


def values(out: str) -> dict[str, str]:
    lines = out.split("Values the notebooks take")[1].splitlines()[1:]
    return dict(line.strip().split(" = ", 1) for line in lines if " = " in line)


def token(conn: dict[str, Any], found: dict[str, str], key: Path) -> Any:
    client = OktaClient(found["okta_issuer"], found["okta_client_id"], private_key=key,
                        key_id=found["okta_key_id"], scope=found["okta_scope"], verify=conn["ca_bundle"])
    return client.fetch_token()


def test_setup_creates_what_a_token_needs_and_a_second_run_changes_nothing(
        conn: dict[str, Any], key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "okta.toml", conn, key_file, label="setup-workload", server="Setup API")
    code, out, err = run_cli("okta", str(config), capsys=capsys)
    assert (code, err) == (0, "")
    assert out.count("create") == 5
    found = values(out)
    assert found["okta_issuer"].startswith(conn["okta"]["org_url"] + "/oauth2/aus")
    issued = token(conn, found, key_file)
    claims = decode(issued.access_token).claims
    assert (claims["sub"], claims["aud"], claims["scp"]) == (found["okta_client_id"], "https://api.anthropic.com",
                                                             ["anthropic.access"])
    assert claims["exp"] - claims["iat"] == 3600
    code, out, _ = run_cli("okta", str(config), capsys=capsys)
    assert code == 0 and "Already up to date: nothing changed." in out and "create" not in out


def test_dry_run_changes_nothing(conn: dict[str, Any], stack: MockStack, key_file: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    okta = stack.mocks["okta"]
    before = (sorted(okta.apps), sorted(okta.authorization_servers))  # type: ignore[attr-defined]
    config = write_config(tmp_path / "dry.toml", conn, key_file, label="dry-workload", server="Dry API")
    code, out, _ = run_cli("okta", str(config), "--dry-run", capsys=capsys)
    assert code == 0 and out.count("would create") == 5 and "dpop_bound_access_tokens" in out
    assert (sorted(okta.apps), sorted(okta.authorization_servers)) == before  # type: ignore[attr-defined]


def test_a_changed_file_updates_in_place(conn: dict[str, Any], stack: MockStack, key_file: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "u.toml", conn, key_file, label="upd-workload", server="Upd API")
    code, out, _ = run_cli("okta", str(config), capsys=capsys)
    found = values(out)
    write_config(config, conn, key_file, label="upd-workload", server="Upd API", dpop=True, minutes=30)
    code, out, _ = run_cli("okta", str(config), "--dry-run", capsys=capsys)
    assert code == 0 and "dpop_bound_access_tokens" in out and "false → true" in out and "60 → 30" in out
    code, out, _ = run_cli("okta", str(config), capsys=capsys)
    assert code == 0 and values(out)["okta_client_id"] == found["okta_client_id"]  # the same app
    app = stack.mocks["okta"].apps[found["okta_client_id"]]  # type: ignore[attr-defined]
    assert app.require_dpop
    with pytest.raises(ProviderError) as refused:  # the app now wants a DPoP proof
        token(conn, found, key_file)
    assert refused.value.error == "invalid_dpop_proof"
    write_config(config, conn, key_file, label="upd-workload", server="Upd API", dpop=False, minutes=30)
    assert run_cli("okta", str(config), capsys=capsys)[0] == 0
    claims = decode(token(conn, found, key_file).access_token).claims
    assert claims["exp"] - claims["iat"] == 1800


def test_an_existing_server_gets_its_audience_and_the_policy_keeps_other_apps(
        conn: dict[str, Any], stack: MockStack, key_file: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    okta = stack.mocks["okta"]
    server = okta.create_authorization_server("Existing API", audience="api://default")  # type: ignore[attr-defined]
    other = okta.second_app  # type: ignore[attr-defined]
    server.add_scope("anthropic.access")
    server.add_policy("Shared policy", clients=[other], description="existing")
    config = write_config(tmp_path / "e.toml", conn, key_file, label="existing-workload", server="Existing API",
                          policy="Shared policy")
    code, out, _ = run_cli("okta", str(config), capsys=capsys)
    assert code == 0 and "api://default" in out and "audiences" in out
    assert server.audience == "https://api.anthropic.com"
    policy = server.policy("Shared policy")
    assert policy is not None and other.client_id in policy.clients and values(out)["okta_client_id"] in policy.clients


def test_okta_then_anthropic_setup_gives_a_working_exchange(conn: dict[str, Any], key_file: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "o.toml", conn, key_file, label="e2e-workload", server="E2E API")
    found = values(run_cli("okta", str(config), capsys=capsys)[1])
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", str(conn["anthropic"]["admin_token"]))
    anthropic_file = tmp_path / "a.toml"
    anthropic_file.write_text(f"""
[anthropic]
base_url = "{conn['anthropic']['base_url']}"
ca_bundle = "{conn['ca_bundle']}"
[anthropic.issuer]
name = "okta-e2e"
issuer_url = "{found['okta_issuer']}"
jwks = {{ type = "discovery" }}
[anthropic.service_account]
name = "okta-e2e"
[anthropic.rule]
name = "okta-e2e"
workspace_id = "default"
[anthropic.rule.match]
subject_prefix = "{found['okta_client_id']}"
audience = "https://api.anthropic.com"
""")
    code, out, err = run_cli("anthropic", str(anthropic_file), capsys=capsys)
    assert code == 0, err
    ids = values(out)
    result = exchange(token(conn, found, key_file).access_token, base_url=conn["anthropic"]["base_url"],
                      federation_rule_id=ids["federation_rule_id"], organization_id=ids["organization_id"],
                      service_account_id=ids["service_account_id"], verify=conn["ca_bundle"])
    assert result.access_token.startswith("sk-ant-oat01-")


# --- the Management API, as Okta answers it -------------------------------------------------------


def api(conn: dict[str, Any], method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"SSWS {token or conn['okta']['api_token']}", "accept": "application/json"}
    return httpx.request(method, conn["okta"]["org_url"] + path, headers=headers,
                         verify=ssl_context(conn["ca_bundle"]), timeout=10, **kwargs)


def error_shape(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}
    assert body["errorLink"] == body["errorCode"] and body["errorId"].startswith("oae")
    return body


def test_management_api_auth_and_errors(conn: dict[str, Any], stack: MockStack) -> None:
    bad = api(conn, "GET", "/api/v1/apps", token="00notatoken")
    assert bad.status_code == 401 and error_shape(bad)["errorCode"] == "E0000011"
    assert error_shape(bad)["errorSummary"] == "Invalid token provided"
    bearer = httpx.get(conn["okta"]["org_url"] + "/api/v1/apps", verify=ssl_context(conn["ca_bundle"]),
                       headers={"authorization": f"Bearer {conn['okta']['api_token']}"})
    assert bearer.status_code == 401  # an API token goes as SSWS, not Bearer
    reader = stack.mocks["okta"].management.issue_token(READ_ONLY_ADMIN)  # type: ignore[attr-defined]
    assert api(conn, "GET", "/api/v1/authorizationServers", token=reader).status_code == 200
    denied = api(conn, "POST", "/api/v1/authorizationServers", token=reader,
                 json={"name": "x", "description": "x", "audiences": ["x"]})
    assert denied.status_code == 403 and error_shape(denied)["errorCode"] == "E0000006"
    missing = api(conn, "GET", "/api/v1/apps/0oanothere0000000000")
    assert missing.status_code == 404 and error_shape(missing)["errorSummary"] == \
        "Not found: Resource not found: 0oanothere0000000000 (AppInstance)"
    method = api(conn, "DELETE", "/api/v1/authorizationServers")
    assert method.status_code == 405 and error_shape(method)["errorCode"] == "E0000022"
    garbled = api(conn, "POST", "/api/v1/apps", content=b"{not json")
    assert garbled.status_code == 400 and error_shape(garbled)["errorCode"] == "E0000003"
    invalid = api(conn, "POST", "/api/v1/authorizationServers", json={"name": "", "audiences": []})
    body = error_shape(invalid)
    assert invalid.status_code == 400 and body["errorCode"] == "E0000001"
    assert body["errorSummary"].startswith("Api validation failed")
    assert {c["errorSummary"].split(":")[0] for c in body["errorCauses"]} == {"name", "description", "audiences"}


def test_management_api_validates_an_app_like_okta(conn: dict[str, Any], key_file: Path, tmp_path: Path) -> None:
    config = load_okta(write_config(tmp_path / "v.toml", conn, key_file, label="v", server="V"))
    app = {"name": "oidc_client", "label": "v", "signOnMode": "OPENID_CONNECT",
           "credentials": {"oauthClient": {"token_endpoint_auth_method": "private_key_jwt"}},
           "settings": {"oauthClient": {"application_type": "service", "grant_types": ["client_credentials"]}}}
    no_key = api(conn, "POST", "/api/v1/apps", json=app)
    assert no_key.status_code == 400 and "public key is required" in no_key.text
    private = dict(config.jwk, d="AQAB")
    app["settings"]["oauthClient"]["jwks"] = {"keys": [private]}  # type: ignore[index]
    leaked = api(conn, "POST", "/api/v1/apps", json=app)
    assert leaked.status_code == 400 and "private key material" in leaked.text
    app["settings"]["oauthClient"]["jwks"] = {"keys": [config.jwk]}  # type: ignore[index]
    app["settings"]["oauthClient"]["grant_types"] = ["authorization_code"]  # type: ignore[index]
    assert api(conn, "POST", "/api/v1/apps", json=app).status_code == 400
    app["settings"]["oauthClient"]["grant_types"] = ["client_credentials"]  # type: ignore[index]
    made = api(conn, "POST", "/api/v1/apps", json=app)
    assert made.status_code == 200
    shown = made.json()
    assert shown["id"] == shown["credentials"]["oauthClient"]["client_id"] and shown["status"] == "ACTIVE"
    assert shown["settings"]["oauthClient"]["dpop_bound_access_tokens"] is False  # the API's default
    assert shown["settings"]["oauthClient"]["jwks"]["keys"][0]["kid"] == thumbprint(config.jwk)


def test_management_api_pages_with_link_headers(conn: dict[str, Any]) -> None:
    first = api(conn, "GET", "/api/v1/apps", params={"limit": 1})
    assert first.status_code == 200 and len(first.json()) == 1
    link = first.headers["link"]
    assert link.endswith('>; rel="next"') and "after=" in link
    nxt = link[1:link.index(">")]
    second = api(conn, "GET", nxt.removeprefix(conn["okta"]["org_url"]))
    assert second.status_code == 200 and second.json()[0]["id"] != first.json()[0]["id"]
    everything = api(conn, "GET", "/api/v1/apps", params={"limit": 200}).json()
    assert len(everything) >= 3 and "link" not in api(conn, "GET", "/api/v1/apps", params={"limit": 200}).headers


def test_the_api_token_is_a_secret_in_the_connection_file(stack: MockStack) -> None:
    from wif_lab.lab import Connection
    from wif_lab.redact import Secret

    loaded = Connection.load(stack.connection_file)
    assert isinstance(loaded.section("okta")["api_token"], Secret)
    assert str(stack.connection()["okta"]["api_token"]) not in repr(loaded.section("okta"))


# --- errors from the command ----------------------------------------------------------------------


def test_cli_errors(conn: dict[str, Any], key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                    capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "e.toml", conn, key_file, label="err-workload", server="Err API")
    monkeypatch.setenv("OKTA_API_TOKEN", "00wrong")
    code, out, err = run_cli("okta", str(config), capsys=capsys)
    assert code == 1 and out == "" and "E0000011 Invalid token provided" in err and "OKTA_API_TOKEN" in err
    assert "00wrong" not in err
    monkeypatch.delenv("OKTA_API_TOKEN")
    code, _, err = run_cli("okta", str(config), capsys=capsys)
    assert code == 2 and "OKTA_API_TOKEN is not set" in err
    config.write_text(config.read_text().replace(str(key_file), str(tmp_path / "nope.pem")))
    code, _, err = run_cli("okta", str(config), capsys=capsys)
    assert code == 2 and "cannot read the key file" in err
    config.write_text(config.read_text().replace(str(tmp_path / "nope.pem"), str(key_file))
                      .replace("require_dpop = false\n", ""))
    code, _, err = run_cli("okta", str(config), capsys=capsys)
    assert code == 2 and "has no require_dpop" in err


def test_the_example_file_names_every_setting() -> None:
    text = (ROOT / "setup" / "okta.example.toml").read_text()
    for key in ("org_url", "label", "public_key", "require_dpop", "audience", "access_token_lifetime_minutes"):
        assert f"{key} =" in text
    assert json.dumps("https://api.anthropic.com") in text


def test_a_scope_that_needs_consent_is_refused_to_client_credentials(
        conn: dict[str, Any], key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "c.toml", conn, key_file, label="consent-workload", server="Consent API")
    found = values(run_cli("okta", str(config), capsys=capsys)[1])
    server_id = found["okta_issuer"].rsplit("/", 1)[1]
    scope = next(s for s in api(conn, "GET", f"/api/v1/authorizationServers/{server_id}/scopes").json()
                 if s["name"] == "anthropic.access")
    changed = api(conn, "PUT", f"/api/v1/authorizationServers/{server_id}/scopes/{scope['id']}",
                  json={**scope, "consent": "REQUIRED"})
    assert changed.status_code == 200 and changed.json()["consent"] == "REQUIRED"
    with pytest.raises(ProviderError) as refused:
        token(conn, found, key_file)
    assert refused.value.error == "consent_required"
    # The next setup run puts it back (consent IMPLICIT), and tokens flow again.
    code, out, _ = run_cli("okta", str(config), capsys=capsys)
    assert code == 0 and "REQUIRED → IMPLICIT" in out
    assert token(conn, found, key_file).access_token
