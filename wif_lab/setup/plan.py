"""What a setup run changes, object by object and field by field.

The same :class:`Plan` is the ``--dry-run`` output (what *would* change) and the record of a real run
(what did). Field changes are flattened (``match.audience``) so a reviewer sees exactly which value
moves, and values that are secrets never appear: setup only ever handles public material.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..display import ShownAsTable, Table

CREATE, UPDATE, UNCHANGED, ARCHIVE, DELETE, ABSENT = "create", "update", "unchanged", "archive", "delete", "absent"
NEW = "(new)"  # an id that only exists once an earlier step of a real run has created its object


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass
class Step:
    """One object: its kind, name, what happens to it, and the fields that differ."""

    kind: str
    name: str
    action: str
    changes: list[FieldChange] = field(default_factory=list)
    object_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "action": self.action, "id": self.object_id,
                "changes": [{"field": c.field, "before": c.before, "after": c.after} for c in self.changes]}


@dataclass(repr=False)
class Plan(ShownAsTable):
    title: str
    dry_run: bool
    steps: list[Step] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # what the run produced (ids, URLs): no secrets

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    @property
    def changed(self) -> bool:
        return any(s.action not in (UNCHANGED, ABSENT) for s in self.steps)

    def table(self) -> Table:
        rows: list[tuple[str, str, str, str]] = []
        for step in self.steps:
            verb = step.action if not self.dry_run or step.action in (UNCHANGED, ABSENT) else f"would {step.action}"
            label = f"{step.name} ({step.object_id})" if step.object_id else step.name
            rows.append((step.kind, label, verb, ""))
            rows.extend(("", "", f"  {c.field}", f"{_shown(c.before)} → {_shown(c.after)}") for c in step.changes)
        title = f"{self.title}: {'dry run, nothing changed' if self.dry_run else 'applied'}"
        return Table(title, ["object", "name", "action", "before → after"], rows)

    def as_json(self) -> str:
        return json.dumps({"title": self.title, "dry_run": self.dry_run, "changed": self.changed,
                           "steps": [s.as_dict() for s in self.steps], "values": self.values}, indent=2)


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"match": {"audience": "x"}}`` → ``{"match.audience": "x"}`` (lists and scalars stay whole)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def diff(current: dict[str, Any], wanted: dict[str, Any]) -> list[FieldChange]:
    """Field-by-field differences for the keys ``wanted`` names (a key it leaves out is not managed)."""
    changes: list[FieldChange] = []
    for key, want in wanted.items():
        have = current.get(key)
        if have == want:
            continue
        before, after = flatten(have, key), flatten(want, key)
        for name in dict.fromkeys([*before, *after]):
            if before.get(name) != after.get(name):
                changes.append(FieldChange(name, before.get(name), after.get(name)))
    return changes
