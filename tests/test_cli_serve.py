"""`wif-lab mock serve` as a workshop runs it: a separate process, reached only through its
connection file, by a client that registers its own issuer (inline JWKS) and federates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from wif_lab.mock.keys import public_jwk
from wif_lab.tokens import ssl_context


def test_serve_writes_a_connection_file_an_outside_client_can_use(tmp_path: Path, state_dir: Path) -> None:
    import shutil

    for sub in ("keys", "tls"):  # warm start from the session's cached CA and keys
        if (state_dir / "shared" / sub).exists():
            shutil.copytree(state_dir / "shared" / sub, tmp_path / sub)
    proc = subprocess.Popen(
        [sys.executable, "-m", "wif_lab.cli", "mock", "serve", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        conn_file = tmp_path / "connection.json"
        deadline = time.monotonic() + 30
        while not conn_file.exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "no connection file after 30 s"
            time.sleep(0.05)
        conn = json.loads(conn_file.read_text())
        assert {"version", "ca_bundle", "anthropic"} <= set(conn)
        assert {"base_url", "organization_id", "admin_token"} <= set(conn["anthropic"])
        api = conn["anthropic"]["base_url"]
        http = httpx.Client(verify=ssl_context(conn["ca_bundle"]), timeout=10)
        admin = {"authorization": f"Bearer {conn['anthropic']['admin_token']}", "anthropic-beta": "oauth-2025-04-20",
                 "anthropic-version": "2023-06-01"}

        # The outside workload's own issuer: a key pair only it holds, published inline.
        key = ec.generate_private_key(ec.SECP256R1())
        issuer_url = "https://ci.internal.example/issuer"
        issuer = http.post(f"{api}/v1/organizations/federation_issuers", headers=admin, json={
            "name": "outside-ci", "issuer_url": issuer_url,
            "jwks": {"type": "inline", "keys": [public_jwk(key, "ci-1")]}})
        assert issuer.status_code == 200, issuer.text
        sa = http.post(f"{api}/v1/organizations/service_accounts", headers=admin, json={"name": "outside-ci"})
        rule = http.post(f"{api}/v1/organizations/federation_rules", headers=admin, json={
            "name": "outside-ci", "issuer_id": issuer.json()["id"],
            "match": {"subject_prefix": "repo:acme/app:ref:refs/heads/main", "audience": "https://api.anthropic.com"},
            "target": {"type": "service_account", "service_account_id": sa.json()["id"]},
            "oauth_scope": "workspace:inference", "workspace_id": "default", "token_lifetime_seconds": 900})
        assert rule.status_code == 200, rule.text

        now = int(time.time())
        assertion = jwt.encode({"iss": issuer_url, "sub": "repo:acme/app:ref:refs/heads/main",
                                "aud": "https://api.anthropic.com", "iat": now, "exp": now + 600, "jti": "run-1"},
                               key, algorithm="ES256", headers={"kid": "ci-1"})
        token = http.post(f"{api}/v1/oauth/token", json={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion,
            "federation_rule_id": rule.json()["id"], "organization_id": conn["anthropic"]["organization_id"],
            "service_account_id": sa.json()["id"]})
        assert token.status_code == 200, token.text
        assert token.json()["scope"] == "workspace:inference"
        reply = http.post(f"{api}/v1/messages", headers={
            "authorization": f"Bearer {token.json()['access_token']}", "anthropic-version": "2023-06-01"},
            json={"model": "claude-haiku-4-5", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]})
        assert reply.status_code == 200, reply.text
        assert "outside-ci" in reply.json()["content"][0]["text"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert f"Connection file: {tmp_path / 'connection.json'}" in out


# --- what serve refuses, before it starts anything: one line, what to check next, exit code 2 ------------


def _refused(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    from wif_lab.cli import main

    assert main(["mock", "serve", *args]) == 2
    captured = capsys.readouterr()
    first, check = captured.err.splitlines()
    assert first.startswith("error: ") and check.startswith("→ Check next: ")
    assert "Traceback" not in captured.err and "Connection file" not in captured.out
    return first.removeprefix("error: "), check


@pytest.mark.parametrize("port", ["65530", "65535"])
def test_serve_refuses_a_port_out_of_range(capsys: pytest.CaptureFixture[str], tmp_path: Path, port: str) -> None:
    first, check = _refused(capsys, "--port", port, "--state-dir", str(tmp_path))
    assert first.startswith(f"--port {port} is out of range: the ") and "0 (the default) for free ports" in check
    assert not (tmp_path / "connection.json").exists()


@pytest.mark.parametrize("port", ["-1", "65536", "100000"])
def test_serve_refuses_what_is_not_a_port_number(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 port: str) -> None:
    first, check = _refused(capsys, "--port", port, "--state-dir", str(tmp_path))
    assert first == f"--port {port} is not a port number" and "0 (the default) for free ports" in check


@pytest.mark.parametrize("option", ["--state-dir", "--run-dir"])
def test_serve_refuses_an_empty_folder_option(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                              option: str) -> None:
    other = ["--state-dir", str(tmp_path)] if option == "--run-dir" else []
    first, check = _refused(capsys, option, "", *other)
    assert first == f"{option} is empty" and "leave the option out" in check
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_serve_refuses_a_wildcard_host(capsys: pytest.CaptureFixture[str], tmp_path: Path, host: str) -> None:
    first, check = _refused(capsys, "--host", host, "--state-dir", str(tmp_path))
    assert first.startswith(f"--host {host} would listen on every address") and "certificates" in first
    assert "--host <this machine's IP or DNS name" in check


def test_serve_refuses_a_host_that_is_not_this_machine(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    first, check = _refused(capsys, "--host", "192.0.2.1", "--state-dir", str(tmp_path))  # TEST-NET-1
    assert first.startswith("cannot listen on 192.0.2.1:0: ") and "address of this machine" in check
    assert not (tmp_path / "connection.json").exists()


def test_serve_refuses_a_state_dir_it_cannot_use(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a_file = tmp_path / "state"
    a_file.write_text("not a directory")
    first, check = _refused(capsys, "--state-dir", str(a_file))
    assert first == f"cannot use {a_file} as the state dir: it is a file, not a directory"
    assert "--state-dir must be a directory you can create and write" in check
    first, _ = _refused(capsys, "--state-dir", str(a_file / "below"))
    assert first == f"cannot use {a_file / 'below'} as the state dir: part of that path is a file, not a directory"

    if os.geteuid() == 0:  # root writes anywhere, except where the kernel says no
        unwritable = Path("/sys/wif-lab-test-state")
        if not Path("/sys").is_dir() or _can_mkdir(unwritable):
            pytest.skip("no directory this root user cannot write")
    else:
        parent = tmp_path / "read-only"
        parent.mkdir(mode=0o500)
        unwritable = parent / "state"
    first, _ = _refused(capsys, "--state-dir", str(unwritable))
    assert first.startswith(f"cannot use {unwritable} as the state dir: ")
    assert first.endswith(("permission denied", "operation not permitted", "read-only file system"))


def _can_mkdir(path: Path) -> bool:
    try:
        path.mkdir()
    except OSError:
        return False
    path.rmdir()
    return True


def test_a_second_serve_on_the_same_state_dir_is_refused(
    tmp_path: Path, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    for sub in ("keys", "tls"):  # warm start from the session's cached CA and keys
        if (state_dir / "shared" / sub).exists():
            shutil.copytree(state_dir / "shared" / sub, tmp_path / sub)
    first_serve = subprocess.Popen(
        [sys.executable, "-m", "wif_lab.cli", "mock", "serve", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        conn_file = tmp_path / "connection.json"
        deadline = time.monotonic() + 30
        while not conn_file.exists():
            assert first_serve.poll() is None, first_serve.stdout.read() if first_serve.stdout else ""
            assert time.monotonic() < deadline, "no connection file after 30 s"
            time.sleep(0.05)
        written = conn_file.read_bytes()

        first, check = _refused(capsys, "--state-dir", str(tmp_path))
        assert first == (f"another `wif-lab mock serve` (pid {first_serve.pid}) is already using the state dir "
                         f"{tmp_path}")
        assert f"export WIF_LAB_CONNECTION={conn_file}" in check and "another --state-dir" in check
        assert conn_file.read_bytes() == written  # the running stack's connection file is untouched
    finally:
        first_serve.send_signal(signal.SIGINT)
        out, _ = first_serve.communicate(timeout=60)
    assert first_serve.returncode == 0, out
    import fcntl

    with open(tmp_path / "serve.lock") as lock:  # released when the first serve stopped
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_serve_errors_exit_with_code_2_from_the_command_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "wif_lab.cli", "mock", "serve", "--port", "65530",
                             "--state-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: --port 65530 is out of range") and len(result.stderr.splitlines()) == 2


def test_a_served_address_gets_certificates_that_name_it(tmp_path: Path) -> None:
    import ipaddress

    from cryptography import x509

    from wif_lab.mock.tls import SERVER_NAMES, ensure_lab_tls

    loopback = ensure_lab_tls(tmp_path)
    assert ensure_lab_tls(tmp_path, "127.0.0.1") == ensure_lab_tls(tmp_path, "LOCALHOST") == loopback
    for host in ("192.0.2.10", "lab.workshop.example"):
        tls = ensure_lab_tls(tmp_path, host)
        assert tls.ca_bundle != loopback.ca_bundle  # its own CA: labs on loopback keep theirs
        leaf = x509.load_pem_x509_certificate(tls.server_cert_chain.read_bytes())
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        named = {str(n) for n in san.get_values_for_type(x509.IPAddress)} | set(san.get_values_for_type(x509.DNSName))
        assert named >= {host, *SERVER_NAMES}
        assert ipaddress.ip_address("::1") in san.get_values_for_type(x509.IPAddress)


def test_serve_explains_a_state_dir_whose_contents_it_cannot_write(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "tls").write_text("a file where the CA's folder belongs")
    first, check = _refused(capsys, "--state-dir", str(tmp_path))
    assert first.startswith(f"cannot start the mock stack in {tmp_path}: ") and str(tmp_path / "tls") in first
    assert "writable by this user" in check
