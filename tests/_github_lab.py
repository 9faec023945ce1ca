"""An in-process GitHub Actions mock on a settable clock, for the mock's and the workload client's unit tests."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from tests._azure_lab import FakeClock
from wif_lab.mock.base import LabContext
from wif_lab.mock.github_actions import GitHubActionsMock
from wif_lab.mock.keys import KeyStore
from wif_lab.mock.tls import ensure_lab_tls

BASE = "https://pipelines.actions.test"
_KEYSTORES: dict[Path, KeyStore] = {}


def github_mock(state_dir: Path, clock: FakeClock | None = None) -> GitHubActionsMock:
    home = state_dir / "github-actions-unit"
    home.mkdir(parents=True, exist_ok=True)
    keys = _KEYSTORES.setdefault(home, KeyStore(home))
    ctx = LabContext(home, keys, ensure_lab_tls(home), {"github_actions": BASE}, clock=clock or FakeClock())
    return GitHubActionsMock(ctx)


def http(mock: GitHubActionsMock) -> TestClient:
    return TestClient(mock.asgi(), base_url=BASE)
