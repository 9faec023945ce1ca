"""The committed-notebook checks: first that they catch what they claim to, then the real notebooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from wif_lab.nbcheck import check_files, problems

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def nb(*cells: dict, kernel: str = "python3") -> dict:
    return {"metadata": {"kernelspec": {"name": kernel}}, "cells": list(cells)}


def code(outputs: list | None = None, tags: list | None = None, count: int | None = 1) -> dict:
    return {"cell_type": "code", "execution_count": count, "metadata": {"tags": tags or []},
            "outputs": outputs or [], "source": ""}


PARAMS = code(tags=["parameters"])
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"


def stdout(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def shown(model_id: str) -> dict:
    view = {"model_id": model_id, "version_major": 2, "version_minor": 0}
    return {"output_type": "display_data", "data": {"application/vnd.jupyter.widget-view+json": view}, "metadata": {}}


def with_widgets(notebook: dict, state: dict) -> dict:
    saved = {"state": state, "version_major": 2, "version_minor": 0}
    notebook["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": saved}
    return notebook


def test_clean_notebook_passes() -> None:
    assert problems(nb(PARAMS, code([stdout("eyJhbGciOi….eyJzdWIiOi….‹signature redacted›")]))) == []


@pytest.mark.parametrize(
    ("notebook", "expected"),
    [
        (nb(PARAMS, kernel="python"), "kernelspec"),
        (nb(code()), "tagged 'parameters'"),
        (nb(PARAMS, code(count=None)), "not executed"),
        (nb(PARAMS, code([{"output_type": "error", "ename": "ValueError", "evalue": "x"}])), "error output"),
        (nb(PARAMS, code([stdout(JWT)])), "JWT with signature"),
        (nb(PARAMS, code([{"output_type": "stream", "name": "stderr", "text": "INFO: Started server"}])), "stderr"),
        (nb(PARAMS, code([stdout("sk-ant-oat01-" + "A" * 40)])), "Anthropic access token"),
        (nb(PARAMS, code([stdout("-----BEGIN PRIVATE KEY-----\nMII")])), "PEM private key"),
        (with_widgets(nb(PARAMS), {"m": {"state": {"outputs": [stdout(JWT)]}}}), "saved widget state contains"),
        (with_widgets(nb(PARAMS, code([shown("gone")])), {"m": {"state": {}}}), "saved widget state lacks"),
    ],
)
def test_each_problem_is_caught(notebook: dict, expected: str) -> None:
    found = problems(notebook)
    assert any(expected in p for p in found), found


def test_widgets_with_their_state_saved_pass() -> None:
    assert problems(with_widgets(nb(PARAMS, code([shown("w")])), {"w": {"state": {"value": "x"}}})) == []


def test_no_error_output_is_allowed_even_in_a_tagged_cell() -> None:
    err = {"output_type": "error", "ename": "ExchangeRefused", "evalue": "refused"}
    assert any("error output" in p for p in problems(nb(PARAMS, code([err], tags=["raises-exception"]))))


def test_a_papermill_banner_is_caught() -> None:
    banner = {"cell_type": "markdown", "metadata": {"tags": ["papermill-error-cell-tag"]}, "source": "An Exception"}
    assert any("papermill error banner" in p for p in problems(nb(banner, PARAMS)))


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks committed yet")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebook(path: Path) -> None:
    assert check_files([path]) == []
