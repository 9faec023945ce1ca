"""The runner hosts a fresh private lab per notebook: the kernel attaches through WIF_LAB_CONNECTION, treats the lab
as its own (no attendee namespace, "the embedded lab"), and nothing one notebook did is seen by the next."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

import wif_lab as wl
from wif_lab import hosted_lab, runner
from wif_lab.lab import ENV_CONNECTION


@pytest.fixture
def labs(state_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.delenv(ENV_CONNECTION, raising=False)
    monkeypatch.setenv("WIF_LAB_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("WIF_LAB_ATTENDEE", "someone")  # a private lab ignores it, as an embedded one does
    with hosted_lab.HostedLabs(state_dir / "shared") as hosted:
        yield hosted


def test_each_notebook_gets_a_fresh_private_lab_named_in_the_environment(labs: Any, tmp_path: Path) -> None:
    ids = []
    for _ in range(2):
        with labs.lab() as hosted:
            connection_file = hosted.connection_file
            assert Path(os.environ[ENV_CONNECTION]) == connection_file  # named before the lab is up
            assert hosted.ready() == connection_file
            assert json.loads(connection_file.read_text())["private"] is True
            rb = wl.open_runbook("mock")
            assert rb.lab is not None and rb.lab.stack is None and rb.lab.private and rb.attendee is None
            assert "against the embedded lab" in repr(rb)
            # What one notebook registers is not in the next one's lab, and IDs come out as in a fresh lab.
            names = {a.name for a in rb.admin().organization.service_accounts.list(limit=100)}
            assert "only-in-the-first" not in names
            account = rb.register_service_account(name="hosted-check")
            rb.register_service_account(name="only-in-the-first")
            ids.append((account.id, rb.lab.base_url))
        assert ENV_CONNECTION not in os.environ
    (first_id, first_url), (second_id, second_url) = ids
    assert first_id == second_id and first_url != second_url
    labs.close()
    with pytest.raises(httpx.HTTPError):  # stopped once the run is over, and its run files removed
        httpx.get(first_url, verify=False, timeout=2)
    assert list((tmp_path / "run").iterdir()) == []


def test_the_runner_hosts_labs_in_mock_mode_unless_the_user_named_one(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_CONNECTION, raising=False)
    assert hosted_lab.wanted("mock") and not hosted_lab.wanted("live")
    monkeypatch.setenv(ENV_CONNECTION, str(tmp_path / "connection.json"))
    assert not hosted_lab.wanted("mock")


def test_run_starts_each_kernel_with_a_hosted_lab(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   state_dir: Path) -> None:
    for name, source in (("a", "import wif_lab as wl"), ("b", "import wif_lab as wl"), ("c", "print(1)")):
        (tmp_path / f"{name}.ipynb").write_text(json.dumps({
            "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "cells": [{"cell_type": "code", "id": "p", "metadata": {"tags": ["parameters"]}, "execution_count": None,
                       "outputs": [], "source": 'mode = "mock"'},
                      {"cell_type": "code", "id": "q", "metadata": {}, "execution_count": None, "outputs": [],
                       "source": source}]}))
    seen: list[str | None] = []

    def execute(notebook: Path, output: Path, parameters: dict[str, Any], timeout: int,
                on_start: Any = None) -> runner.RunResult:
        seen.append(os.environ.get(ENV_CONNECTION))  # what a kernel started now would inherit
        if on_start is not None:  # papermill calls it once the kernel is ready: by then the lab answers
            on_start(notebook=None)
            assert wl.attach(os.environ[ENV_CONNECTION]).private
        return runner.RunResult(notebook, output, True, 0.0)

    monkeypatch.setattr(runner, "execute", execute)
    monkeypatch.setenv("WIF_LAB_STATE_DIR", str(state_dir / "shared"))
    monkeypatch.setenv("WIF_LAB_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.delenv(ENV_CONNECTION, raising=False)
    assert runner.run(directory=tmp_path, output_dir=tmp_path / "out") == 0
    # a and b use wif_lab: a fresh lab each; c does not, so no lab is started for it (an empty notebook's run
    # pays for no lab)
    assert len(seen) == 3 and all(seen[:2]) and len(set(seen[:2])) == 2 and seen[2] is None
    assert runner.run(directory=tmp_path, output_dir=tmp_path / "out", host_labs=False) == 0
    assert seen[3:] == [None, None, None]
    monkeypatch.setenv(ENV_CONNECTION, "/the/users/own/connection.json")
    assert runner.run(directory=tmp_path, output_dir=tmp_path / "out") == 0
    assert seen[6:] == ["/the/users/own/connection.json"] * 3


def test_a_lab_that_cannot_start_says_so_when_the_kernel_is_ready(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIF_LAB_RUN_DIR", str(tmp_path / "run"))
    (tmp_path / "not-a-folder").write_text("")
    with hosted_lab.HostedLabs(tmp_path / "not-a-folder") as labs, labs.lab() as hosted, \
            pytest.raises(OSError):
        hosted.ready()
