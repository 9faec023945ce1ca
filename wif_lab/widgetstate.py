"""Saved widget state with stable model ids, so committed notebooks show live widgets on static pages.

nbclient (under papermill) records every widget's state in ``metadata.widgets`` when it executes a
notebook; a static page renders a widget only from that state (the html-manager reads it). The model
ids in it are random per run, so a regenerated notebook would differ everywhere. Here each id is
renamed after the cell that shows the widget, the same way in the saved state, in the references
between models (``IPY_MODEL_<id>``) and in the cells' widget views, so ids change only when the
notebook does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

STATE_MIME = "application/vnd.jupyter.widget-state+json"
VIEW_MIME = "application/vnd.jupyter.widget-view+json"
REF_PREFIX = "IPY_MODEL_"


def saved_state(nb: dict[str, Any]) -> dict[str, Any]:
    """The saved models by id (empty when the notebook kept no widget state)."""
    saved = nb.get("metadata", {}).get("widgets", {}).get(STATE_MIME, {})
    state = saved.get("state") if isinstance(saved, dict) else None
    return state if isinstance(state, dict) else {}


def views(nb: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(cell index, widget view) for every widget a cell output shows."""
    for i, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(VIEW_MIME)
            if isinstance(view, dict) and "model_id" in view:
                yield i, view


def _refs(value: Any) -> Iterator[str]:
    """Model ids referenced from a model's state, in a stable order (keys sorted)."""
    if isinstance(value, str) and value.startswith(REF_PREFIX):
        yield value[len(REF_PREFIX):]
    elif isinstance(value, dict):
        view = value.get(VIEW_MIME)
        if isinstance(view, dict) and isinstance(view.get("model_id"), str):
            yield view["model_id"]  # a widget shown inside an Output widget
        for key in sorted(value):
            yield from _refs(value[key])
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _rename(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith(REF_PREFIX):
        old = value[len(REF_PREFIX):]
        return REF_PREFIX + names.get(old, old)
    if isinstance(value, dict):
        out = {k: _rename(v, names) for k, v in value.items()}
        view = out.get(VIEW_MIME)
        if isinstance(view, dict) and view.get("model_id") in names:
            out[VIEW_MIME] = {**view, "model_id": names[view["model_id"]]}
        return out
    if isinstance(value, list):
        return [_rename(v, names) for v in value]
    return value


def _blank_refs(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(REF_PREFIX):
        return REF_PREFIX
    if isinstance(value, dict):
        return {k: _blank_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank_refs(v) for v in value]
    return value


def _content_key(model: dict[str, Any]) -> str:
    """Sort key for models no cell shows: their content with every (random) reference blanked."""
    return json.dumps(_blank_refs(model), sort_keys=True)


def stabilise(nb: dict[str, Any]) -> dict[str, Any]:
    """Rename widget model ids after the cell showing them; drop widget metadata that holds no state."""
    state = saved_state(nb)
    names: dict[str, str] = {}
    taken: dict[str, int] = {}

    def claim(base: str) -> str:
        n = taken.get(base, 0)
        taken[base] = n + 1
        return base if n == 0 else f"{base}-{n}"

    def visit(model_id: str, base: str) -> None:
        if model_id in names:
            return
        names[model_id] = claim(base)
        for ref in _refs(state.get(model_id, {}).get("state", {})):
            if ref in state:
                visit(ref, base)

    for i, view in views(nb):
        visit(view["model_id"], f"widget-in-cell-{i:02d}")
    for model_id in sorted((m for m in state if m not in names), key=lambda m: _content_key(state[m])):
        visit(model_id, "widget-not-shown")

    for cell in nb.get("cells", []):
        if "outputs" in cell:
            cell["outputs"] = _rename(cell["outputs"], names)
    meta = nb.setdefault("metadata", {})
    if state:
        saved = meta["widgets"][STATE_MIME]
        renamed = {names[m]: _rename(state[m], names) for m in names if m in state}  # in visit order
        meta["widgets"] = {STATE_MIME: {**saved, "state": renamed}}
    else:
        meta.pop("widgets", None)
    return nb

