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
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert f"Connection file: {tmp_path / 'connection.json'}" in out
