"""Saved widget state survives regeneration with stable ids, consistently in state and cell outputs."""

from __future__ import annotations

import copy
import json

from wif_lab.runner import normalise
from wif_lab.widgetstate import STATE_MIME, VIEW_MIME, saved_state, stabilise, views


def _view(model_id: str) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {VIEW_MIME: {"model_id": model_id, "version_major": 2, "version_minor": 0},
                     "text/plain": "VBox(...)"}}


def _model(name: str, **state: object) -> dict:
    return {"model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0",
            "model_name": name, "state": dict(state)}


def executed(ids: dict[str, str]) -> dict:
    """A notebook as nbclient saves it: a VBox(Dropdown, Output) shown in cell 1, ids random per run."""
    box, dd, out, lay1, lay2, orphan = (ids[k] for k in ("box", "dd", "out", "lay1", "lay2", "orphan"))
    state = {
        orphan: _model("LayoutModel", width="10px"),
        out: _model("OutputModel", layout=f"IPY_MODEL_{lay2}", outputs=[{"output_type": "stream", "text": "hi"}]),
        box: _model("VBoxModel", children=[f"IPY_MODEL_{dd}", f"IPY_MODEL_{out}"], layout=f"IPY_MODEL_{lay1}"),
        dd: _model("DropdownModel", layout=f"IPY_MODEL_{lay2}", index=0),
        lay1: _model("LayoutModel"),
        lay2: _model("LayoutModel"),
    }
    return {
        "metadata": {"kernelspec": {"name": "python3"}, "language_info": {"name": "python"},
                     "widgets": {STATE_MIME: {"state": state, "version_major": 2, "version_minor": 0}}},
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": ""},
                  {"cell_type": "code", "metadata": {}, "outputs": [_view(box)], "source": "box"}],
    }


RUN_1 = {"box": "a1", "dd": "b2", "out": "c3", "lay1": "d4", "lay2": "e5", "orphan": "f6"}
RUN_2 = {"box": "99", "dd": "11", "out": "55", "lay1": "77", "lay2": "33", "orphan": "00"}


def test_two_runs_with_different_random_ids_normalise_to_identical_json() -> None:
    one, two = normalise(executed(RUN_1)), normalise(executed(RUN_2))
    assert json.dumps(one) == json.dumps(two)


def test_ids_are_named_after_the_showing_cell_and_every_reference_follows() -> None:
    nb = stabilise(executed(RUN_1))
    state = saved_state(nb)
    assert [v["model_id"] for _, v in views(nb)] == ["widget-in-cell-01"]
    box = state["widget-in-cell-01"]["state"]
    assert box["children"] == ["IPY_MODEL_widget-in-cell-01-1", "IPY_MODEL_widget-in-cell-01-3"]
    for model in state.values():  # no reference dangles
        text = json.dumps(model)
        for ref in [w for w in text.replace('"', " ").split() if w.startswith("IPY_MODEL_")]:
            assert ref.removeprefix("IPY_MODEL_") in state, ref
    assert "widget-not-shown" in state  # the model no cell shows keeps its state too
    assert len(state) == 6


def test_stabilising_twice_changes_nothing() -> None:
    once = stabilise(executed(RUN_1))
    assert stabilise(copy.deepcopy(once)) == once


def test_without_saved_state_views_are_still_renamed_and_empty_metadata_dropped() -> None:
    nb = executed(RUN_1)
    nb["metadata"]["widgets"] = {}
    out = stabilise(nb)
    assert "widgets" not in out["metadata"]
    assert [v["model_id"] for _, v in views(out)] == ["widget-in-cell-01"]
