"""The official ``anthropic`` SDK against the self-managed cluster over real sockets and TLS: its own
``IdentityTokenFile`` across kubelet rotations, and an inline issuer before and after a signing-key rotation.

One small stack (Anthropic and the cluster) is shared by the module; each test registers its own rule.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anthropic.lib.credentials import IdentityTokenFile

from tests._examples_lab import mock_runbook
from tests.helpers import lab_of
from wif_lab.lab import Lab
from wif_lab.mock.registry import default_specs
from wif_lab.mock.stack import MockStack
from wif_lab.providers.kubernetes import ApiServer, read_token_file
from wif_lab.runbook import Runbook
from wif_lab.scenarios import kubernetes as k8s_lab
from wif_lab.tokens import decode

AUDIENCE = "https://api.anthropic.com"


@pytest.fixture(scope="module")
def the_lab(state_dir: Path) -> Iterator[Lab]:
    home = state_dir / "k8s-real-clients"
    for sub in ("keys", "tls"):  # warm: the session's keys and CA when they exist
        if (state_dir / "shared" / sub).exists():
            shutil.copytree(state_dir / "shared" / sub, home / sub, dirs_exist_ok=True)
    specs = [spec for spec in default_specs() if spec.name in ("anthropic", "kubernetes_cluster")]
    with MockStack(home, specs=specs) as stack:
        yield lab_of(stack)


@pytest.fixture
def rb(the_lab: Lab) -> Runbook:
    return mock_runbook(the_lab)


def guide_setup(rb: Runbook, name: str, **rule: Any) -> tuple[Any, Any, ApiServer]:
    """The guide's inline issuer (keys as `kubectl get --raw /openid/v1/jwks` prints them) and its rule."""
    pod = k8s_lab.pod_settings(rb)
    api = k8s_lab.api_server(rb, pod)
    assert isinstance(api, ApiServer)
    issuer = rb.register_issuer(name=name, issuer_url=api.discovery()["issuer"],
                                jwks={"type": "inline", "keys": k8s_lab.inline_keys(api.jwks())})
    account = rb.register_service_account(name=name)
    rule_obj = rb.register_rule(name=name, issuer=issuer, service_account=account,
                                match={"subject_prefix": pod.subject, "audience": AUDIENCE}, **rule)
    return issuer, rule_obj, api


def test_the_sdk_reads_the_file_anew_at_each_exchange(rb: Runbook, the_lab: Lab) -> None:
    _, rule, _ = guide_setup(rb, "sdk-rotation", token_lifetime_seconds=120)  # every call refreshes
    path = the_lab.section("kubernetes")["token_file"]
    k8s_lab.rotate_tokens(rb)
    client = rb.client(IdentityTokenFile(path), rule=rule)
    seen = []
    for _ in range(2):
        seen.append(decode(read_token_file(path)).claims["jti"])
        reply = client.messages.create(model="claude-haiku-4-5", max_tokens=20,
                                       messages=[{"role": "user", "content": "hi"}])
        assert f"({rule.target.service_account_id})" in reply.content[0].text
        k8s_lab.rotate_tokens(rb)
    events = the_lab.events(federation_rule_id=rule.id, limit=10)
    assert [e["status"]["outcome"] for e in events] == ["success", "success"]
    assert [e["event_data"]["oidc_token"]["jti"] for e in reversed(events)] == seen


def test_inline_keys_go_stale_at_a_signing_key_rotation_until_re_registered(rb: Runbook, the_lab: Lab) -> None:
    issuer, rule, api = guide_setup(rb, "key-rotation", token_lifetime_seconds=600)
    k8s_lab.rotate_signing_key(rb)
    k8s_lab.rotate_tokens(rb)
    token = read_token_file(the_lab.section("kubernetes")["token_file"])
    refused = rb.try_exchange(token, rule=rule)
    assert refused.status == "refused" and refused.event is not None
    assert refused.event["status"]["reason"] == "key_not_found"
    issuer = rb.update_issuer(issuer, jwks={"type": "inline", "keys": k8s_lab.inline_keys(api.jwks())})
    assert rb.try_exchange(token, rule=rule).accepted  # refused before its jti was looked at: still unused
    k8s_lab.rotate_signing_key(rb, retire_previous=True)  # the API server drops the old key; so can the issuer
    assert [k["kid"] for k in api.jwks()["keys"]] == [decode(k8s_lab.issued_token(
        rb, api, "inference", "inference-worker", audiences=[AUDIENCE])).header["kid"]]
