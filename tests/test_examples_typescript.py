"""The guides' TypeScript tab, run against the lab: ``examples/**/*.ts`` with ``@anthropic-ai/sdk``'s
``oidcFederationProvider`` (from the npm registry, versions pinned in ``examples/package.json``), compiled by
``tsc`` and run by Node, configured only by environment variables built from the connection file, trusting
the lab CA through ``NODE_EXTRA_CA_CERTS``, reaching the mock Claude API.

Node and npm are required: where either is missing (or Node is older than 20) these tests fail with a
message saying how to install them. They never skip. The packages are installed once per lockfile into
``$WIF_LAB_NODE_CACHE`` (default ``~/.cache/wif-lab/node``), so repeated runs start warm.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._examples_lab import entra_identity, mock_runbook, reached_claude, register
from tests.helpers import lab_of, own_stack, typed_mock
from wif_lab import examples, typescript
from wif_lab.errors import ConfigurationError
from wif_lab.lab import Lab
from wif_lab.mock.app_service_identity import AppServiceIdentityMock
from wif_lab.mock.azure_imds import ImdsMock
from wif_lab.mock.stack import MockStack
from wif_lab.runbook import Runbook

AUDIENCE = "https://api.anthropic.com"
SAMPLES = ("okta/sdk_client_credentials.ts", "azure_vm/sdk_managed_identity.ts")


@pytest.fixture(scope="module")
def toolchain() -> None:
    """Node, npm, the pinned packages and the compiled samples; a missing tool fails every test that needs it."""
    started = time.perf_counter()
    try:
        typescript.node(), typescript.npm()
        typescript.compile_examples()
    except ConfigurationError as exc:
        pytest.fail(str(exc), pytrace=False)
    print(f"\nTypeScript toolchain ready in {time.perf_counter() - started:.1f} s "
          f"(npm ci {typescript.TIMINGS.install:.1f} s, tsc {typescript.TIMINGS.compile:.1f} s; 0 = cached)")


@pytest.fixture(scope="module")
def stack(lab: MockStack, state_dir: Path) -> Iterator[MockStack]:
    with own_stack(state_dir, "examples-typescript") as running:
        yield running


@pytest.fixture(scope="module")
def the_lab(stack: MockStack) -> Lab:
    return lab_of(stack)


@pytest.fixture
def rb(the_lab: Lab) -> Runbook:
    return mock_runbook(the_lab)


def entra_rule(rb: Runbook, the_lab: Lab, name: str, identity_name: str) -> Any:
    entra = the_lab.section("entra")
    app = next(a["app_id"] for a in entra["apps"] if a["name"] == "claude-api-federation")
    return register(rb, name, entra["issuer_v2"],
                    {"audience": app, "claims": {"oid": entra_identity(the_lab, identity_name)["object_id"],
                                                 "tid": entra["tenant_id"]}},
                    max_jwt_lifetime_seconds=90000)


def test_okta_sample(toolchain: None, rb: Runbook, the_lab: Lab) -> None:
    okta = the_lab.section("okta")
    rule = register(rb, "ts-okta", okta["issuer"], {"subject_prefix": okta["client_id"], "audience": AUDIENCE})
    run = examples.run("okta/sdk_client_credentials.ts", rb)
    reached_claude(run, rule, the_lab)
    assert run.command[0].endswith("node") and run.env["NODE_EXTRA_CA_CERTS"] == str(the_lab.ca_bundle)
    event = the_lab.last_event(rule.id)
    assert event["event_data"]["oidc_token"]["claims"]["sub"] == okta["client_id"]


def test_azure_sample_on_a_vm(toolchain: None, rb: Runbook, the_lab: Lab, stack: MockStack) -> None:
    rule = entra_rule(rb, the_lab, "ts-azure-vm", "wif-lab-vm")  # the VM's system-assigned identity
    app, imds = typed_mock(stack, "app_service", AppServiceIdentityMock), typed_mock(stack, "imds", ImdsMock)
    before = (app.requests, imds.requests)
    reached_claude(examples.run("azure_vm/sdk_managed_identity.ts", rb), rule, the_lab)
    assert (app.requests, imds.requests) == (before[0], before[1] + 1)


def test_azure_sample_on_app_service(toolchain: None, rb: Runbook, the_lab: Lab, stack: MockStack) -> None:
    rule = entra_rule(rb, the_lab, "ts-azure-app-service", "claude-inference")  # the app's identity
    section = the_lab.section("app_service")
    settings = {"resource": section["resource"], "client_id": entra_identity(the_lab, "claude-inference")["client_id"],
                "identity_endpoint": section["identity_endpoint"], "identity_header": section["identity_header"],
                "imds_url": the_lab.section("azure")["imds_url"]}
    app, imds = typed_mock(stack, "app_service", AppServiceIdentityMock), typed_mock(stack, "imds", ImdsMock)
    before = (app.requests, imds.requests)
    run = examples.run("azure_vm/sdk_managed_identity.ts", rb, settings=settings)
    reached_claude(run, rule, the_lab)
    assert (app.requests, imds.requests) == (before[0] + 1, before[1])
    assert section["identity_header"] not in repr(run) + run._repr_html_()


def test_node_verifies_tls_against_what_it_is_told(toolchain: None, rb: Runbook, the_lab: Lab) -> None:
    """Without NODE_EXTRA_CA_CERTS the lab's certificates are not trusted: the sample stops at Okta's TLS."""
    okta = the_lab.section("okta")
    register(rb, "ts-okta-untrusted", okta["issuer"], {"subject_prefix": okta["client_id"], "audience": AUDIENCE})
    env = examples.environment(rb, "okta/sdk_client_credentials.ts").full()
    env.pop("NODE_EXTRA_CA_CERTS")
    script = typescript.compiled(examples.path_of("okta/sdk_client_credentials.ts"))
    done = subprocess.run([typescript.node(), script.name], cwd=script.parent, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert re.search(r"certificate|UNABLE_TO_VERIFY|SELF_SIGNED", done.stderr), done.stderr[-2000:]


def test_samples_are_standalone_and_follow_the_guide() -> None:
    for name in SAMPLES:
        text = examples.path_of(name).read_text()
        assert "wif_lab" not in text and "127.0.0.1" not in text, name
        assert not re.search(r"NODE_TLS_REJECT_UNAUTHORIZED|rejectUnauthorized", text), name  # TLS stays verified
        assert 'from "@anthropic-ai/sdk/lib/credentials/oidc-federation"' in text, name  # the guide's import
        assert "oidcFederationProvider({" in text and "identityTokenProvider:" in text, name
    assert examples.show(SAMPLES[0]).language == "typescript"


def test_versions_are_pinned_and_locked() -> None:
    manifest = json.loads((examples.EXAMPLES_DIR / "package.json").read_text())
    lock = json.loads((examples.EXAMPLES_DIR / "package-lock.json").read_text())
    pinned = {**manifest["dependencies"], **manifest["devDependencies"]}
    assert "@anthropic-ai/sdk" in pinned and "typescript" in pinned
    for package, version in pinned.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{package} {version}: pin an exact version"
        assert lock["packages"][f"node_modules/{package}"]["version"] == version, package
        assert lock["packages"][""]["dependencies" if package in manifest["dependencies"]
                                    else "devDependencies"][package] == version


def test_missing_node_fails_with_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no node, no npm
    with pytest.raises(ConfigurationError, match="node is not installed") as info:
        typescript.node()
    assert "apt-get install nodejs npm" in info.value.hint
    with pytest.raises(ConfigurationError, match="npm is not installed"):
        typescript.npm()


# The major version of the nodejs package in each release's own archive (Debian 12: 18.19, Debian 13: 20.19,
# Ubuntu 24.04: 18.19): `apt-get install nodejs` gives a usable Node only where it is MIN_NODE or later.
DISTRO_NODEJS = {"Debian 12": 18, "Debian 13": 20, "Ubuntu 24.04": 18}


def test_the_hint_offers_apt_only_where_its_nodejs_is_new_enough() -> None:
    """Following the hint must not install a Node that node() then refuses as too old."""
    apt_clause = typescript.INSTALL_HINT.split(";")[0]  # "...: `apt-get install nodejs npm` on <releases>"
    assert "apt-get install nodejs npm" in apt_clause
    for release, major in DISTRO_NODEJS.items():
        assert (release in apt_clause) == (major >= typescript.MIN_NODE), release
        assert release in typescript.INSTALL_HINT, f"the hint says nothing about {release}"


def test_old_node_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "node"
    fake.write_text("#!/bin/sh\necho v18.20.4\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigurationError, match=r"node v18\.20\.4 is too old"):
        typescript.node()
