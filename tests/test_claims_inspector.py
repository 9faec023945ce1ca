"""The claims inspector shows the chosen token's claims in an HTML widget, and nothing in an Output widget
(for an Output widget papermill's client writes on the kernel's shell socket mid-cell, which could leave the
cell's reply unnoticed until the cell timeout)."""

from __future__ import annotations

import ipywidgets as w
import jwt

from wif_lab.widgets import ClaimsInspector


def _token(sub: str) -> str:
    return jwt.encode({"iss": "https://issuer.example", "sub": sub, "aud": "https://api.anthropic.com"},
                      "k" * 32, algorithm="HS256")


def test_the_chosen_tokens_claims_are_the_html_widgets_value() -> None:
    inspector = ClaimsInspector({"first": _token("workload-a"), "second": _token("workload-b"), "none": None},
                                issuer=None, rule=None)
    assert list(inspector.tokens) == ["first", "second"]
    children = inspector.box.children
    assert [type(c) for c in children] == [w.Dropdown, w.HTML]
    assert not any(isinstance(c, w.Output) for c in children)
    assert "workload-a" in inspector.view.value and "workload-b" not in inspector.view.value
    inspector.picker.value = "second"
    assert "workload-b" in inspector.view.value and "workload-a" not in inspector.view.value
