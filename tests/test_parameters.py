"""Live-mode settings name the notebook's own parameters and where each value is found; secrets come from
the environment only."""

from __future__ import annotations

import pytest

from wif_lab.errors import ConfigurationError
from wif_lab.redact import Secret
from wif_lab.runbook import Runbook, open_runbook


def live() -> Runbook:
    return Runbook("live", None, base_url="https://api.anthropic.com", organization_id="org", verify=True,
                   admin_token=None, ids={})


def okta(rb: Runbook, **given: str) -> object:
    values = {"issuer": "", "client_id": "", "private_key": "", "key_id": "", "scope": "anthropic.access",
              "dpop_key": "", "auth_method": ""}
    values.update(given)
    return rb.settings("okta", required=("issuer", "client_id", "scope"), **values)


def test_missing_okta_settings_are_named_as_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OKTA_CLIENT_SECRET", raising=False)
    with pytest.raises(ConfigurationError) as info:
        okta(live())
    assert info.value.message == "live mode needs these parameters: okta_issuer, okta_client_id"
    assert "okta_issuer: Okta Admin Console → Security → API → Authorization Servers" in info.value.hint
    assert "okta_client_id: Okta Admin Console → Applications" in info.value.hint
    assert "issuer, client_id" not in info.value.message  # never the internal names


def test_okta_needs_a_key_or_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OKTA_CLIENT_SECRET", raising=False)
    given = {"issuer": "https://acme.okta.com/oauth2/default", "client_id": "0oa1"}
    with pytest.raises(ConfigurationError, match="okta_private_key"):
        okta(live(), **given)
    with pytest.raises(ConfigurationError, match="OKTA_CLIENT_SECRET") as info:
        okta(live(), auth_method="client_secret_post", **given)
    assert "never a parameter" in info.value.hint
    monkeypatch.setenv("OKTA_CLIENT_SECRET", "s" * 40)
    settings = okta(live(), auth_method="client_secret_post", **given)
    assert isinstance(settings["client_secret"], Secret) and "s" * 40 not in repr(settings)


def test_azure_and_anthropic_ids_by_their_parameter_names() -> None:
    with pytest.raises(ConfigurationError) as info:
        live().settings("azure", tenant_id="t", resource="", client_id="", imds_url="", required=("tenant_id",
                                                                                                   "resource"))
    assert info.value.message == "live mode needs these parameters: resource" and "Expose an API" in info.value.hint
    with pytest.raises(ConfigurationError) as info:
        open_runbook("live", organization_id="00000000-0000-4000-8000-000000000001")
    assert info.value.message == "live mode needs these parameters: federation_rule_id, service_account_id"
    assert "Workload identity → Rules" in info.value.hint


@pytest.mark.parametrize("value", ["-Xc9kq2", "--json", "-", "-p", "a=b", "-1"])
def test_a_parameter_value_is_taken_verbatim_even_with_a_leading_dash(value: str) -> None:
    """Base64url key ids start with '-' one time in 64; argparse alone reads them as unknown options."""
    from wif_lab.cli import build_parser
    from wif_lab.parameters import bind_parameter_pairs

    for argv in (["doctor", "-p", "okta_key_id", value, "--json"],
                 ["notebooks", "run", "01_okta", "--parameter", "okta_key_id", value, "-p", "mode", "live"]):
        args = build_parser().parse_args(bind_parameter_pairs(argv))
        assert args.parameter[0] == ["okta_key_id", value]
    assert build_parser().parse_args(bind_parameter_pairs(argv)).parameter[1] == ["mode", "live"]


def test_a_parameter_without_its_value_is_still_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from wif_lab.cli import main

    with pytest.raises(SystemExit) as info:
        main(["doctor", "-p", "okta_key_id"])
    assert info.value.code == 2
    assert "expected 2 arguments" in capsys.readouterr().err
