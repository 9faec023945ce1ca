"""``wif-lab doctor`` against the lab: a good setup passes every check, and each check, given a setup broken
the way real ones break, fails and names the fix. The lab stands in for the real services the way it does
in live-mode notebooks (IDs as parameters, the lab's CA as ca_bundle, its org:admin token in the
environment), so every check runs the code path a real setup runs."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helpers import Federation, federate, lab_of, typed_mock
from wif_lab import doctor
from wif_lab.cli import main as cli_main
from wif_lab.doctor import sdk_env
from wif_lab.doctor.context import Context
from wif_lab.doctor.issuer import check_url, reachability_problem
from wif_lab.doctor.report import FAIL, LAB_NOTE, OK, SKIPPED, WARN, Report
from wif_lab.lab import Lab
from wif_lab.mock.anthropic.service import AnthropicMock
from wif_lab.mock.stack import MockStack
from wif_lab.nbcheck import SECRET_PATTERNS
from wif_lab.providers.azure_imds import ImdsClient, imds_token_provider
from wif_lab.providers.okta import OktaClient
from wif_lab.runbook import Runbook
from wif_lab.tokens import decode

AUDIENCE = "https://api.anthropic.com"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credential of the machine running the tests, and an empty SDK config directory (a fresh HOME)."""
    import os

    for name in list(os.environ):
        if name.startswith(("ANTHROPIC_", "AZURE_", "OKTA_", "WIF_LAB_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def the_lab(lab: MockStack) -> Lab:
    return lab_of(lab)


def okta_federation(the_lab: Lab, **kwargs: Any) -> Federation:
    okta = the_lab.section("okta")
    kwargs.setdefault("match", {"subject_prefix": okta["client_id"], "audience": AUDIENCE})
    return federate(the_lab, issuer_url=kwargs.pop("issuer_url", okta["issuer"]), **kwargs)


def live(the_lab: Lab, fed: Federation, *, admin: bool = True, **ids: str | None) -> Runbook:
    """A live-mode runbook whose "real" organization is the lab (no lab object: the live code paths)."""
    values: dict[str, str | None] = {"federation_rule_id": fed.rule.id, "service_account_id": fed.service_account.id}
    values.update(ids)
    organization = str(values.pop("organization_id", None) or the_lab.organization_id)
    return Runbook("live", None, base_url=the_lab.base_url, organization_id=organization,
                   verify=str(the_lab.ca_bundle), admin_token=the_lab.connection.anthropic["admin_token"] if admin
                   else None, ids=values)


def okta_client(the_lab: Lab) -> OktaClient:
    return OktaClient.from_connection(the_lab.section("okta"), the_lab.ca_bundle)


def okta_token(the_lab: Lab) -> str:
    return okta_client(the_lab).fetch_token().access_token.reveal()


def token_file(tmp_path: Path, token: str, name: str = "token") -> Path:
    path = tmp_path / name
    path.write_text(token + "\n")
    return path


def only_failure(report: Report) -> Any:
    failed = [c for c in report.checks if c.status == FAIL]
    assert len(failed) == 1, [(c.id, c.found) for c in failed]
    return failed[0]


def secret_free(text: str) -> None:
    for what, pattern in SECRET_PATTERNS.items():
        assert not pattern.search(text), f"an unredacted {what}"


# --- a good setup -----------------------------------------------------------------------------------


def test_a_good_setup_passes_every_check_and_shows_no_secret(the_lab: Lab, tmp_path: Path) -> None:
    fed = okta_federation(the_lab)
    report = doctor.run(live(the_lab, fed), token_source=okta_client(the_lab).token_provider(), exchange=True)
    statuses = {c.id: c.status for c in report.checks}
    assert statuses.pop("issuer.url") == LAB_NOTE  # the lab's loopback issuer: a documented deviation
    assert set(statuses.values()) == {OK}, statuses
    assert list(statuses)[-2:] == ["exchange", "messages"]
    assert report.ok and report.exit_code == 0
    for text in (report.to_json(), repr(report), report._repr_html_()):
        secret_free(text)
        assert the_lab.connection.anthropic["admin_token"].reveal() not in text
    data = json.loads(report.to_json())
    assert data["ok"] is True and data["counts"]["ok"] == 16 and data["counts"]["lab_note"] == 1


def test_the_exchange_runs_only_when_asked(the_lab: Lab) -> None:
    report = doctor.run(live(the_lab, okta_federation(the_lab)), token_source=okta_client(the_lab).token_provider())
    assert "exchange" not in [c.id for c in report.checks] and report.ok


# --- one broken setup per check ---------------------------------------------------------------------


def test_settings_a_name_where_the_id_belongs(the_lab: Lab) -> None:
    fed = okta_federation(the_lab)
    report = doctor.run(live(the_lab, fed, service_account_id=fed.service_account.name),
                        token_source=okta_client(the_lab).token_provider())
    check = report["settings"]
    assert check.status == FAIL and "does not start with svac_" in check.found
    assert "Workload identity → Service accounts" in check.fix


def test_env_credentials_an_api_key_shadows_federation(the_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-" + "k" * 40)
    monkeypatch.setenv("ANTHROPIC_FEDERATION_RULE_ID", "fdrl_01" + "x" * 22)
    report = doctor.run(live(the_lab, okta_federation(the_lab)), token_source=okta_client(the_lab).token_provider())
    check = report["env.credentials"]
    assert check.status == FAIL and "never federates" in check.found and "ANTHROPIC_FEDERATION_RULE_ID" in check.found
    assert check.fix.startswith("unset ANTHROPIC_API_KEY")
    assert "k" * 40 not in report.to_json()


def test_env_credentials_incomplete_federation_is_skipped_silently(the_lab: Lab, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fed = okta_federation(the_lab)
    monkeypatch.setenv("ANTHROPIC_FEDERATION_RULE_ID", fed.rule.id)
    monkeypatch.setenv("ANTHROPIC_IDENTITY_TOKEN_FILE", str(token_file(tmp_path, okta_token(the_lab))))
    report = doctor.run(live(the_lab, fed))  # the token comes from the SDK's own variable
    check = only_failure(report)
    assert check.id == "env.credentials" and "ANTHROPIC_ORGANIZATION_ID" in check.fix
    assert report["token.source"].status == OK and "ANTHROPIC_IDENTITY_TOKEN_FILE" in report["token.source"].found


def test_env_empty_and_padded_variables(the_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    fed = okta_federation(the_lab)
    monkeypatch.setenv("ANTHROPIC_WORKSPACE_ID", "")
    source = okta_client(the_lab).token_provider()
    assert doctor.run(live(the_lab, fed), token_source=source)["env.empty"].status == WARN
    monkeypatch.setenv("AZURE_CLIENT_ID", "11111111-2222-4333-8444-555555555555\n")
    check = doctor.run(live(the_lab, fed), token_source=source)["env.empty"]
    assert check.status == FAIL and "AZURE_CLIENT_ID" in check.found and "remove the whitespace" in check.fix


def test_env_profile_named_but_missing(the_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_PROFILE", "prod")
    report = doctor.run(live(the_lab, okta_federation(the_lab)), token_source=okta_client(the_lab).token_provider())
    check = report["env.profile"]
    assert check.status == FAIL and "configs/prod.json" in check.found and "Config file not found" in check.found
    assert report["env.credentials"].status == FAIL and "ANTHROPIC_PROFILE" in report["env.credentials"].fix


def test_env_profile_the_sdks_choice_feeds_the_checks(the_lab: Lab, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A federation profile on disk: the doctor takes its IDs and token file from it, as the SDK would."""
    fed = okta_federation(the_lab)
    config = Path.home() / ".config" / "anthropic" / "configs"
    config.mkdir(parents=True)
    path = token_file(tmp_path, okta_token(the_lab))
    (config / "default.json").write_text(json.dumps({
        "base_url": the_lab.base_url, "organization_id": the_lab.organization_id,
        "authentication": {"type": "oidc_federation", "federation_rule_id": fed.rule.id,
                           "service_account_id": fed.service_account.id,
                           "identity_token": {"source": "file", "path": str(path)}}}))
    (config / "default.json").chmod(0o644)
    resolution = sdk_env.resolve()
    assert resolution.kind == "profile" and resolution.settings["federation_rule_id"] == fed.rule.id
    from wif_lab.doctor.cli import runbook

    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", the_lab.connection.anthropic["admin_token"].reveal())
    rb = runbook("live", {"ca_bundle": str(the_lab.ca_bundle)}, resolution)
    report = doctor.run(rb)
    assert report["env.profile"].status == OK and "'default'" in report["env.profile"].found
    assert report["token.source"].status == OK and "identity_token.path" in report["token.source"].found
    assert report.ok, [(c.id, c.found) for c in report.checks if c.failed]


def test_token_source_file_missing(the_lab: Lab, tmp_path: Path) -> None:
    report = doctor.run(live(the_lab, okta_federation(the_lab)), token_source=doctor.FileSource(tmp_path / "none"))
    check = report["token.source"]
    assert check.status == FAIL and "not found" in check.found and "volume mounted" in check.fix
    assert report["anthropic.issuer"].status == SKIPPED


def test_token_jwt_with_a_bearer_prefix(the_lab: Lab, tmp_path: Path) -> None:
    path = token_file(tmp_path, "Bearer " + okta_token(the_lab))
    check = doctor.run(live(the_lab, okta_federation(the_lab)), token_source=path)["token.jwt"]
    assert check.status == FAIL and "'Bearer ' prefix" in check.found and "raw token" in check.fix


def test_token_times_a_stale_copy(the_lab: Lab, tmp_path: Path) -> None:
    """A file copied once and read two hours later: the Okta token in it expired an hour ago."""
    path = token_file(tmp_path, okta_token(the_lab))
    report = doctor.run(live(the_lab, okta_federation(the_lab)), token_source=path, now=lambda: time.time() + 7200)
    check = report["token.times"]
    assert check.status == FAIL and check.found.startswith("expired") and "stopped refreshing" in check.fix


def test_token_lifetime_managed_identity_against_the_docs_86400(the_lab: Lab) -> None:
    entra, azure = the_lab.section("entra"), the_lab.section("azure")
    vm = next(i for i in entra["identities"] if i["name"] == "wif-lab-vm")
    app = next(a["app_id"] for a in entra["apps"] if a["name"] == "claude-api-federation")
    fed = federate(the_lab, issuer_url=entra["issuer_v2"], max_jwt_lifetime_seconds=86400,
                   match={"audience": app, "claims": {"oid": vm["object_id"], "tid": entra["tenant_id"]}})
    imds = ImdsClient(azure["resource"], base_url=azure["imds_url"])
    report = doctor.run(live(the_lab, fed), token_source=imds_token_provider(imds))
    check = only_failure(report)
    assert check.id == "token.lifetime" and "86700 s" in check.found and "86400" in check.found
    assert "at least 86700, e.g. 90000" in check.fix
    the_lab.admin().organization.federation.issuers.update(fed.issuer.id, max_jwt_lifetime_seconds=90000)
    assert doctor.run(live(the_lab, fed), token_source=imds_token_provider(imds)).ok


def test_issuer_url_not_reachable_from_anthropic(the_lab: Lab) -> None:
    """A private issuer seen by the real Claude API fails; the lab's loopback issuers are only a lab note."""
    for url, problem in (("https://10.0.0.7/oauth2/default", "a private IP address"),
                         ("https://idp/oauth2/default", "single-label"),
                         ("https://idp.corp.internal/x", "a private name"),
                         ("https://idp.example.com:8443/x", "port 8443"),
                         ("http://idp.example.com/x", "not https")):
        assert problem in str(reachability_problem(url)), url
    claims = {"iss": "https://10.0.0.7/oauth2/default", "sub": "x", "iat": 1, "exp": 2}
    rb = Runbook("live", None, base_url="https://api.anthropic.com", organization_id="o", verify=True,
                 admin_token=None, ids={})
    ctx = Context(rb, None, sdk_env.Resolution("none"))
    ctx.decoded = decode(jwt.encode(claims, "k" * 32, algorithm="HS256"))
    check = check_url(ctx)
    assert check.status == FAIL and "cannot fetch its keys" in check.found and "jwks type inline" in check.fix
    rb.base_url = the_lab.base_url  # a Claude API on this machine reaches loopback issuers: the lab
    assert check_url(ctx).status == LAB_NOTE


def test_issuer_discovery_names_another_issuer(the_lab: Lab) -> None:
    """An issuer registered with a discovery_base of another authorization server: its document names that one."""
    okta = the_lab.section("okta")
    other = okta["authorization_servers"]["default"]
    fed = okta_federation(the_lab, jwks={"type": "discovery", "discovery_base": other})
    report = doctor.run(live(the_lab, fed), token_source=okta_client(the_lab).token_provider())
    check = report["issuer.discovery"]
    assert check.status == FAIL and f"names issuer {other!r}" in check.found
    assert "same host, different path" in check.found
    assert "jwks.discovery_base must be the base of the token's own issuer" in check.fix


def _forged(the_lab: Lab, kid: str) -> str:
    okta = the_lab.section("okta")
    now = int(time.time())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"iss": okta["issuer"], "sub": okta["client_id"], "aud": AUDIENCE, "iat": now, "exp": now + 600,
              "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def test_issuer_jwks_kid_not_published_or_signature_wrong(the_lab: Lab, tmp_path: Path) -> None:
    fed = okta_federation(the_lab)
    report = doctor.run(live(the_lab, fed), token_source=token_file(tmp_path, _forged(the_lab, "rotated-away")))
    check = only_failure(report)
    assert check.id == "issuer.jwks" and "'rotated-away' is not among" in check.found and "keys rotated" in check.fix
    real_kid = decode(okta_token(the_lab)).header["kid"]
    path = token_file(tmp_path, _forged(the_lab, real_kid), "forged")
    check = doctor.run(live(the_lab, fed), token_source=path)["issuer.jwks"]
    assert check.status == FAIL and "signature does not verify" in check.found


def test_clock_ahead_of_the_identity_provider(the_lab: Lab) -> None:
    report = doctor.run(live(the_lab, okta_federation(the_lab)), token_source=okta_client(the_lab).token_provider(),
                        now=lambda: time.time() + 120)
    check = only_failure(report)
    assert check.id == "clock" and "s ahead of the identity provider's" in check.found
    assert "synchronise the clock" in check.fix


def test_registered_issuer_is_the_org_url(the_lab: Lab) -> None:
    """Okta's classic mistake (notebook 01, 9a): the org URL registered instead of the authorization server."""
    okta = the_lab.section("okta")
    fed = okta_federation(the_lab, issuer_url=okta["issuer"].split("/oauth2/")[0])
    report = doctor.run(live(the_lab, fed), token_source=okta_client(the_lab).token_provider())
    check = report["anthropic.issuer"]
    assert check.status == FAIL and "same host, different path" in check.found
    assert f"set the issuer's issuer_url to exactly {okta['issuer']!r}" in check.fix
    assert report["anthropic.rule"].status == FAIL  # the engine's issuer verdict agrees


def test_registered_issuer_needs_an_admin_token(the_lab: Lab) -> None:
    report = doctor.run(live(the_lab, okta_federation(the_lab), admin=False),
                        token_source=okta_client(the_lab).token_provider())
    assert report["anthropic.issuer"].status == SKIPPED and "WIF_LAB_ADMIN_TOKEN" in report["anthropic.issuer"].found
    assert report["anthropic.rule"].status == SKIPPED and report.ok  # skipped is not failed…
    assert not Report(report.checks, strict=True).ok  # …unless strict


def test_rule_pins_another_app(the_lab: Lab) -> None:
    okta = the_lab.section("okta")
    fed = okta_federation(the_lab, match={"subject_prefix": okta["second_app"]["client_id"], "audience": AUDIENCE})
    check = only_failure(doctor.run(live(the_lab, fed), token_source=okta_client(the_lab).token_provider()))
    assert check.id == "anthropic.rule" and check.found.startswith("subject_prefix:")
    assert "change the rule's match" in check.fix


def test_rule_target_is_not_the_service_account_sent(the_lab: Lab) -> None:
    fed, other = okta_federation(the_lab), okta_federation(the_lab)
    check = only_failure(doctor.run(live(the_lab, fed, service_account_id=other.service_account.id),
                                    token_source=okta_client(the_lab).token_provider()))
    assert check.id == "anthropic.rule" and "refused as a mismatch" in check.found
    assert fed.service_account.id in check.fix


def test_workspace_the_service_account_is_not_a_member_of(lab: MockStack, the_lab: Lab) -> None:
    team = typed_mock(lab, "anthropic", AnthropicMock).store.create_workspace("doctor team")["id"]
    fed = okta_federation(the_lab)
    the_lab.admin().organization.federation.rules.workspaces.add(fed.rule.id, workspace_id=team)
    report = doctor.run(live(the_lab, fed, workspace_id=team), token_source=okta_client(the_lab).token_provider())
    check = only_failure(report)
    assert check.id == "anthropic.workspace" and "not a member" in check.found
    assert f"add the service account to workspace {team}" in check.fix


def test_exchange_a_token_already_used(the_lab: Lab, tmp_path: Path) -> None:
    """In the lab the doctor also reads the authentication history: the reason the 401 keeps to itself."""
    fed = okta_federation(the_lab)
    path = token_file(tmp_path, okta_token(the_lab))
    assert doctor.run(live(the_lab, fed), token_source=path, exchange=True).ok
    rb = Runbook("mock", the_lab, base_url=the_lab.base_url, organization_id=the_lab.organization_id,
                 verify=the_lab.ca_bundle, admin_token=None,
                 ids={"federation_rule_id": fed.rule.id, "service_account_id": fed.service_account.id})
    report = doctor.run(rb, token_source=path, exchange=True)
    check = only_failure(report)
    assert check.id == "exchange" and "HTTP 401" in check.found and "jti_reused" in check.found
    assert check.fix.startswith("present a fresh token: each jti is exchanged once")
    assert report["messages"].status == SKIPPED


def test_messages_an_unknown_model(the_lab: Lab) -> None:
    report = doctor.run(live(the_lab, okta_federation(the_lab)), token_source=okta_client(the_lab).token_provider(),
                        exchange=True, model="claude-nonexistent-1")
    check = only_failure(report)
    assert check.id == "messages" and "HTTP 404" in check.found and "claude-nonexistent-1" in check.fix


# --- the command ------------------------------------------------------------------------------------


@pytest.fixture
def sdk_environment(the_lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Federation]:
    """A workload configured the SDK's way: ANTHROPIC_* variables and a token file."""
    fed = okta_federation(the_lab)
    for name, value in (("ANTHROPIC_BASE_URL", the_lab.base_url),
                        ("ANTHROPIC_ORGANIZATION_ID", the_lab.organization_id),
                        ("ANTHROPIC_FEDERATION_RULE_ID", fed.rule.id),
                        ("ANTHROPIC_SERVICE_ACCOUNT_ID", fed.service_account.id),
                        ("ANTHROPIC_IDENTITY_TOKEN_FILE", str(token_file(tmp_path, okta_token(the_lab)))),
                        ("WIF_LAB_ADMIN_TOKEN", the_lab.connection.anthropic["admin_token"].reveal())):
        monkeypatch.setenv(name, value)
    yield fed


def test_command_checks_the_sdk_environment_as_json(the_lab: Lab, sdk_environment: Federation,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["doctor", "--json", "--exchange", "-p", "ca_bundle", str(the_lab.ca_bundle)]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["ok"] and {c["id"]: c["status"] for c in data["checks"]}["env.credentials"] == "ok"
    secret_free(out)
    assert the_lab.connection.anthropic["admin_token"].reveal() not in out


def test_command_exits_1_when_a_check_fails(the_lab: Lab, sdk_environment: Federation,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["doctor", "-p", "ca_bundle", str(the_lab.ca_bundle), "-p", "federation_rule_id", "fdrl_01nope"])
    out = capsys.readouterr().out
    assert code == 1 and "FAIL" in out and "exit status 1" in out
    assert "fdrl_01nope here" in out  # the environment says one rule, the doctor was given another
    assert "does not exist in this organization" in out


def test_command_fetches_the_token_like_the_notebook(the_lab: Lab, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    okta, fed = the_lab.section("okta"), okta_federation(the_lab)
    monkeypatch.setenv("WIF_LAB_ADMIN_TOKEN", the_lab.connection.anthropic["admin_token"].reveal())
    args = ["doctor", "--provider", "okta", "-p", "okta_issuer", okta["issuer"], "-p", "okta_client_id",
            okta["client_id"], "-p", "okta_private_key", okta["private_key"], "-p", "okta_key_id", okta["key_id"],
            "-p", "anthropic_base_url", the_lab.base_url, "-p", "organization_id", the_lab.organization_id,
            "-p", "federation_rule_id", fed.rule.id, "-p", "service_account_id", fed.service_account.id,
            "-p", "ca_bundle", str(the_lab.ca_bundle)]
    assert cli_main(args) == 0, capsys.readouterr().out
    assert "Okta client credentials at" in capsys.readouterr().out


def test_command_against_a_served_lab_fills_the_providers_settings(lab: MockStack, the_lab: Lab,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """--mode mock: the lab's CA, admin token and Okta app come from the connection file; only the IDs are given."""
    fed = okta_federation(the_lab)
    monkeypatch.setenv("WIF_LAB_CONNECTION", str(lab.connection_file))
    code = cli_main(["doctor", "--mode", "mock", "--provider", "okta", "-p", "federation_rule_id", fed.rule.id,
                     "-p", "service_account_id", fed.service_account.id, "--exchange"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "lab note" in out and "every check passed (exit status 0)" in out


def test_command_in_a_served_labs_github_job(lab: MockStack, the_lab: Lab, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """--provider github-actions asks the runner (here the lab's workload job) the way the notebook does."""
    from wif_lab.scenarios.github_actions import page_match

    github = the_lab.section("github_actions")
    repository = {"repository": github["repository"], "repository_owner": github["repository_owner"]}
    fed = federate(the_lab, issuer_url=github["issuer"],
                   jwks={"type": "discovery", "discovery_base": github["discovery_base"]}, match=page_match(repository))
    monkeypatch.setenv("WIF_LAB_CONNECTION", str(lab.connection_file))
    code = cli_main(["doctor", "--mode", "mock", "--provider", "github-actions", "-p", "federation_rule_id",
                     fed.rule.id, "-p", "service_account_id", fed.service_account.id, "--exchange"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "the runner's token service" in out and "every check passed (exit status 0)" in out


def test_github_actions_outside_a_job_says_id_token_write(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert cli_main(["doctor", "--provider", "github-actions", "-p", "organization_id", str(uuid.uuid4()),
                     "-p", "federation_rule_id", "fdrl_01" + "0" * 22]) == 2
    assert "permissions: id-token: write" in capsys.readouterr().err
def test_command_on_google_cloud_asks_the_metadata_server(lab: MockStack, the_lab: Lab,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """--provider gcp: the token comes from the lab's metadata server; Google's issuer is found through the
    registered issuer's discovery_base, a lab note like every loopback issuer."""
    gcp, google = the_lab.section("gcp"), the_lab.section("google")
    fed = federate(the_lab, issuer_url=google["issuer"],
                   jwks={"type": "discovery", "discovery_base": google["discovery_base"]},
                   match={"audience": AUDIENCE, "claims": {"sub": gcp["unique_id"], "email": gcp["service_account"]}})
    monkeypatch.setenv("WIF_LAB_CONNECTION", str(lab.connection_file))
    code = cli_main(["doctor", "--mode", "mock", "--provider", "gcp", "-p", "federation_rule_id", fed.rule.id,
                     "-p", "service_account_id", fed.service_account.id])
    out = capsys.readouterr().out
    assert code == 0, out
    flat = " ".join(out.split())  # the report wraps long rows
    assert "token function the metadata server at http://127.0.0.1:" in flat and "lab note" in flat


def test_command_on_aws_asks_sts_with_the_labs_session(lab: MockStack, the_lab: Lab,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """--provider aws: GetWebIdentityToken, signed with the lab's session keys, and exchanged (--exchange);
    with the account's outbound federation switched off, the doctor says how to turn it on."""
    import ssl

    import httpx

    from wif_lab.scenarios.aws import account_condition

    aws = the_lab.section("aws")
    fed = federate(the_lab, issuer_url=aws["issuer"], jwks={"type": "discovery"},
                   match={"audience": AUDIENCE, "subject_prefix": aws["role_arn"],
                          "condition": account_condition(aws["account_id"])})
    monkeypatch.setenv("WIF_LAB_CONNECTION", str(lab.connection_file))
    args = ["doctor", "--mode", "mock", "--provider", "aws", "-p", "federation_rule_id", fed.rule.id,
            "-p", "service_account_id", fed.service_account.id]

    def switch(enabled: bool) -> None:
        httpx.post(aws["federation_url"], json={"enabled": enabled},
                   verify=ssl.create_default_context(cafile=the_lab.ca_bundle)).raise_for_status()

    switch(False)
    try:
        assert cli_main(args) == 1
        flat = " ".join(capsys.readouterr().out.split())
        assert "OutboundWebIdentityFederationDisabledException" in flat, flat
        assert "iam.enable_outbound_web_identity_federation()" in flat, flat
        switch(True)
        code = cli_main([*args, "--exchange"])
        out = capsys.readouterr().out
        assert code == 0, out
        assert "STS GetWebIdentityToken at https://127.0.0.1:" in " ".join(out.split())
    finally:
        switch(True)


@pytest.mark.parametrize("args, message", [
    (["--provider", "okta", "-p", "okta_isuer", "x"], "did you mean 'okta_issuer'"),
    (["--provider", "okta", "--token-file", "/x"], "--token-file goes with --provider file"),
    (["--provider", "okta", "-p", "okta_issuer", "https://x.example/oauth2/default"], "okta_client_id"),
    (["--mode", "mock"], "WIF_LAB_CONNECTION"),
    (["--provider", "aws", "-p", "organization_id", "x"], "aws_region"),
])
def test_usage_errors_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["doctor", *args]) == 2
    assert message in capsys.readouterr().err


def test_the_private_sdk_helpers_it_relies_on_still_exist() -> None:
    """sdk_env reads the profile name and config directory through the SDK's private helpers: an SDK upgrade
    that moves them must fail here, not silently change the report."""
    from anthropic.lib.credentials import CredentialsFile, _constants

    for name in sdk_env.SDK_HELPERS:
        assert callable(getattr(_constants, name)), name
    assert callable(CredentialsFile._load_config)
