"""A connection file (WIF_LAB_CONNECTION) that cannot be used says why, in one ConfigurationError,
instead of an IsADirectoryError, a JSONDecodeError or a KeyError from deep inside a notebook."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wif_lab.errors import ConfigurationError
from wif_lab.lab import Connection, MissingSetting, connect

MINIMAL = {"version": 1, "ca_bundle": "/lab/ca.pem", "anthropic": {"base_url": "https://127.0.0.1:9"},
           "okta": {"issuer": "https://127.0.0.1:8/oauth2/aus1", "second_app": {"client_id": "0oa2"}},
           "azure": {"identities": [{"name": "vm", "kind": "system"}]}}


def _message(exc: pytest.ExceptionInfo[ConfigurationError]) -> tuple[str, str]:
    first, check = str(exc.value).splitlines()
    assert check.startswith("→ Check next: ")
    return first, check


def test_a_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIF_LAB_CONNECTION", str(tmp_path))
    with pytest.raises(ConfigurationError) as info:
        connect()
    first, check = _message(info)
    assert first == f"{tmp_path} is a directory, not a connection file"
    assert str(tmp_path / "connection.json") in check


def test_an_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "connection.json"
    path.write_text(json.dumps(MINIMAL))
    path.chmod(0)
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # root reads any file: make the read fail as it would
        def denied(self: Path, *args: object, **kwargs: object) -> str:
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(ConfigurationError) as info:
        Connection.load(path)
    first, check = _message(info)
    assert first == f"cannot read the connection file {path}: permission denied" and "user" in check


@pytest.mark.parametrize("content", [b"{\"anthropic\": ", b"\xff\xfe not utf-8", b""])
def test_not_json(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "connection.json"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError) as info:
        Connection.load(path)
    first, check = _message(info)
    assert first.startswith(f"{path} is not valid JSON: ") and "wif-lab mock serve" in check


@pytest.mark.parametrize(("data", "named"), [
    ([], "no 'anthropic' / 'ca_bundle'"),
    ({"ca_bundle": "/x"}, "no 'anthropic' / 'ca_bundle'"),
    ({"ca_bundle": "/x", "anthropic": "https://api"}, "no 'anthropic' / 'ca_bundle'"),
    ({"ca_bundle": 3, "anthropic": {"base_url": "https://a"}}, "no usable 'ca_bundle'"),
    ({"ca_bundle": "/x", "anthropic": {}}, "no usable 'anthropic.base_url'"),
])
def test_the_keys_every_client_needs_are_checked_on_load(tmp_path: Path, data: object, named: str) -> None:
    path = tmp_path / "connection.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationError) as info:
        Connection.load(path)
    first, _ = _message(info)
    assert named in first and str(path) in first


def test_a_missing_key_anywhere_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "connection.json"
    path.write_text(json.dumps(MINIMAL))
    conn = Connection.load(path)
    for read, name in [
        (lambda: conn.anthropic["admin_token"], "anthropic.admin_token"),
        (lambda: conn.section("okta")["second_app"]["private_key"], "okta.second_app.private_key"),
        (lambda: conn.section("azure")["identities"][0]["client_id"], "azure.identities[0].client_id"),
    ]:
        with pytest.raises(MissingSetting) as info:
            read()
        first, check = _message(info)
        assert first == f"the connection file {path} has no '{name}'" and "restart serve" in check
        assert isinstance(info.value, KeyError)  # code that expects a KeyError still gets one
    assert conn.section("okta").get("scope", "default") == "default"  # .get() is untouched
    assert json.loads(json.dumps(conn.data)) == MINIMAL  # still plain JSON data
