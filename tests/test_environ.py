"""wif_lab.environ.variables: exactly the given variables for a block, and everything touched put back."""

from __future__ import annotations

import os

import pytest

from wif_lab.environ import variables


def test_sets_clears_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIF_T_KEPT", "host")
    monkeypatch.setenv("WIF_T_CLEARED", "host")
    monkeypatch.delenv("WIF_T_NEW", raising=False)
    with variables({"WIF_T_NEW": "lab", "WIF_T_KEPT": "lab"}, clear=["WIF_T_CLEARED"]):
        assert (os.environ["WIF_T_NEW"], os.environ["WIF_T_KEPT"]) == ("lab", "lab")
        assert "WIF_T_CLEARED" not in os.environ
    assert os.environ["WIF_T_KEPT"] == "host" and os.environ["WIF_T_CLEARED"] == "host"
    assert "WIF_T_NEW" not in os.environ


def test_restores_after_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIF_T_KEPT", "host")
    with pytest.raises(RuntimeError), variables({"WIF_T_KEPT": "lab"}):
        raise RuntimeError("inside")
    assert os.environ["WIF_T_KEPT"] == "host"
