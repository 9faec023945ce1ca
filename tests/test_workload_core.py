"""The exchange client's error mapping, the runner, lab attach, errors and display tables."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from wif_lab import errors, http
from wif_lab.display import Table, events_table, summary
from wif_lab.exchange import EXCHANGE_BETA, ExchangeResult, exchange, exchange_request
from wif_lab.lab import Connection, attach
from wif_lab.mock.stack import MockStack
from wif_lab.runner import normalise, parse_parameters, run

ORG = "00000000-0000-4000-8000-000000000001"


def test_exchange_body_matches_what_the_sdk_sends() -> None:
    body = exchange_request("jwt", federation_rule_id="fdrl_01x", organization_id=ORG)
    assert list(body) == ["grant_type", "assertion", "federation_rule_id", "organization_id"]
    body = exchange_request("jwt", federation_rule_id="fdrl_01x", organization_id=ORG,
                            service_account_id="svac_01y", workspace_id="default")
    assert body["service_account_id"] == "svac_01y" and body["workspace_id"] == "default"
    assert EXCHANGE_BETA == "oauth-2025-04-20,oidc-federation-2026-04-01"


def _serve(monkeypatch: pytest.MonkeyPatch, status: int, body: object, headers: dict | None = None) -> list:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers={"request-id": "req_T", **(headers or {})})

    real_client = http.client

    def fake_client(verify: object = True, **kwargs: object) -> httpx.Client:
        # Every outbound client is built by wif_lab.http.client: hand it this test's transport.
        return real_client(verify, **{**kwargs, "transport": httpx.MockTransport(handler)})  # type: ignore[arg-type]

    monkeypatch.setattr(http, "client", fake_client)
    return seen


@pytest.mark.parametrize(
    ("status", "body", "error", "hint_word"),
    [
        # the current contract
        (401, {"type": "error", "error": {"type": "authentication_error", "message": "Authentication failed"}},
         "authentication_error", "no entry at all means the rule id was not recognised"),
        (400, {"type": "error", "error": {"type": "invalid_request_error", "message": "service_account_id: x"}},
         "invalid_request_error", "service_account_id (svac_…, required)"),
        # an older deployment's RFC 6749 bodies get the same advice
        (400, {"error": "invalid_grant", "error_description": "nope"}, "invalid_grant", "older deployment"),
        (400, {"error": "invalid_request", "error_description": "x"}, "invalid_request", "federation_rule_id"),
        (500, b"<html>boom</html>", None, "authentication history"),
    ],
)
def test_refusals_carry_status_error_description_request_id_and_hint(
    monkeypatch: pytest.MonkeyPatch, status: int, body: object, error: str | None, hint_word: str
) -> None:
    seen = _serve(monkeypatch, status, body)
    with pytest.raises(errors.ExchangeRefused) as info:
        exchange("a.b.c", base_url="https://x", federation_rule_id="fdrl_01x", organization_id=ORG)
    exc = info.value
    assert exc.status == status and exc.error == error and exc.request_id == "req_T"
    assert hint_word in exc.hint and "req_T" in str(exc)
    assert seen[0].headers["anthropic-beta"] == EXCHANGE_BETA and seen[0].url.path == "/v1/oauth/token"


def test_success_without_a_token_is_reported_not_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(monkeypatch, 200, {"hello": "world"})
    with pytest.raises(errors.ExchangeRefused) as info:
        exchange("a.b.c", base_url="https://x", federation_rule_id="fdrl_01x", organization_id=ORG)
    assert "without an access token" in str(info.value)


def test_unreachable_token_endpoint() -> None:
    with pytest.raises(errors.ProviderUnreachable) as info:
        exchange("a.b.c", base_url="https://127.0.0.1:9", federation_rule_id="fdrl_01x", organization_id=ORG,
                 timeout=1)
    assert "127.0.0.1:9/v1/oauth/token" in str(info.value) and info.value.hint


def test_result_checks_the_documented_shape() -> None:
    assert ExchangeResult("sk-ant-oat01-abcdefgh", "Bearer", 600, "workspace:developer", None).looks_valid
    assert not ExchangeResult("sk-ant-api03-abcdefgh", "Bearer", 600, None, None).looks_valid


def test_errors_render_one_clear_message_in_ipython() -> None:
    exc = errors.ConfigurationError("mode must be mock or live")
    assert str(exc) == "mode must be mock or live\n→ Check next: the notebook's parameters cell or the connection file"
    assert exc._render_traceback_() == [f"ConfigurationError: {exc}"]


def test_attach_explains_a_missing_or_dead_lab(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigurationError, match="no connection file"):
        attach(tmp_path / "nope.json")
    bogus = tmp_path / "connection.json"
    bogus.write_text(json.dumps({"ca_bundle": str(tmp_path / "ca.pem"),
                                 "anthropic": {"base_url": "https://127.0.0.1:9"}}))
    (tmp_path / "ca.pem").write_text("")
    with pytest.raises(errors.ConfigurationError, match=r"cannot use the CA bundle"):
        attach(bogus)
    (tmp_path / "other.json").write_text("[]")
    with pytest.raises(errors.ConfigurationError, match="not a wif-lab connection file"):
        Connection.load(tmp_path / "other.json")


def test_run_with_no_notebooks_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(directory=tmp_path) == 0
    assert "No notebooks found" in capsys.readouterr().out


def test_parameters_stay_as_typed_until_a_notebook_types_them() -> None:
    assert parse_parameters([("mode", "live"), ("n", "3"), ("flag", "true"), ("path", "/x/y")]) == {
        "mode": "live", "n": "3", "flag": "true", "path": "/x/y"}


def test_normalise_drops_volatile_metadata_and_stateless_widget_metadata() -> None:
    nb = {"metadata": {"papermill": {"x": 1}, "widgets": {}, "language_info": {"name": "python", "version": "3"},
                       "kernelspec": {"name": "other"}},
          "cells": [{"id": "abc", "metadata": {"papermill": {}, "execution": {}, "tags": ["parameters"]}},
                    {"id": "w", "metadata": {}, "outputs": [{"data": {
                        "application/vnd.jupyter.widget-view+json": {"model_id": "f00d", "version_major": 2}}}]}]}
    out = normalise(nb)
    assert out["cells"][1]["outputs"][0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] == (
        "widget-in-cell-01")
    assert "papermill" not in out["metadata"] and "widgets" not in out["metadata"]
    assert out["metadata"]["kernelspec"]["name"] == "python3" and "version" not in out["metadata"]["language_info"]
    assert out["cells"][0] == {"id": "cell-00", "metadata": {"tags": ["parameters"]}}
    assert out["cells"][1]["id"] == "cell-01"


def test_tables_render_text_and_html_and_escape() -> None:
    table = Table("T", ["a", "b"], [("<x>", "y" * 300)])
    assert "&lt;x&gt;" in table._repr_html_() and "<x>" in repr(table)
    assert len(repr(table).splitlines()[-1]) < 200  # long values wrap onto more lines
    assert "field" in repr(summary("S", {"k": [1, 2]}))


def test_events_table_shows_reasons_without_secrets() -> None:
    event = {"created_at": "2026-11-23T10:00:00Z",
             "status": {"outcome": "denied", "reason": "jti_reused",
                        "detail": "token sk-ant-oat01-SECRETSECRETSECRET was reused"}}
    text = repr(events_table([event], now=1795428000 + 30))
    assert "jti_reused" in text and "SECRETSECRET" not in text and "just now" in text


def test_labs_sharing_a_state_dir_keep_their_own_token_files(state_dir: Path, tmp_path: Path) -> None:
    """Two kernels (notebooks run side by side) each start a lab on the default state dir: both
    reuse the cached keys and CA, but each kubelet must write its own pod's token files, signed for
    its own issuer URL."""
    import shutil

    import jwt

    from wif_lab.lab import start

    for sub in ("keys", "tls"):  # warm start from the session's cache
        if (state_dir / "shared" / sub).exists():
            shutil.copytree(state_dir / "shared" / sub, tmp_path / sub, dirs_exist_ok=True)
    first, second = start(tmp_path), start(tmp_path)
    try:
        files = []
        for lab in (first, second):
            section = lab.connection.section("aks")
            token_file = Path(section["env"]["AZURE_FEDERATED_TOKEN_FILE"])
            claims = jwt.decode(token_file.read_text(), options={"verify_signature": False})
            assert claims["iss"] == section["issuer"]
            files.append(token_file)
        assert files[0] != files[1]
        assert first.ca_bundle == second.ca_bundle  # shared CA
    finally:
        first.close()
        second.close()
    assert not files[0].exists() and not files[1].exists()
    assert (tmp_path / "keys").is_dir()  # the cache stays


def test_settings_name_an_unknown_connection_section(lab: MockStack) -> None:
    """A misspelt provider section must not quietly fill every setting with None."""
    from tests.helpers import lab_of
    from wif_lab.runbook import Runbook

    the_lab = lab_of(lab)
    rb = Runbook("mock", the_lab, base_url=the_lab.base_url, organization_id=the_lab.organization_id,
                 verify=the_lab.ca_bundle, admin_token=None, ids={})
    assert rb.settings("azure", tenant_id="", resource="").tenant_id
    with pytest.raises(errors.ConfigurationError, match="no section 'imds'") as info:
        rb.settings("imds", tenant_id="")
    assert "azure" in info.value.hint and "aks" in info.value.hint


def test_starting_a_lab_prunes_run_dirs_of_dead_processes(tmp_path: Path) -> None:
    """papermill kills kernels outright, so their atexit never removes the run dir; the next start does."""
    import os
    import subprocess
    import sys

    from wif_lab.lab import _prune_run_dirs

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    run_root = tmp_path / "run"
    (run_root / f"{dead_pid}-abcd1234" / "kubernetes").mkdir(parents=True)
    (run_root / f"connection-{dead_pid}-7f.json").write_text("{}")  # the older layout
    (run_root / f"{os.getpid()}-live0001").mkdir()
    (run_root / "notes").mkdir()  # not ours to judge
    _prune_run_dirs(run_root)
    assert sorted(p.name for p in run_root.iterdir()) == sorted([f"{os.getpid()}-live0001", "notes"])
