"""An ipywidgets claims inspector: pick a token, see its claims and the rule's verdicts.

The widget only wires a dropdown to :func:`inspect`; notebooks print ``inspect(...)`` for the
current choice in an ordinary cell too, because what a widget shows is not compared by nbval.

The tables are the value of an ``HTML`` widget, not displayed into an ``Output`` widget: for an Output
widget papermill's client (nbclient) writes a state update on the kernel's shell socket while it waits
for the cell's reply on that socket, and the send can swallow the socket's wake-up, so the reply was
found only at the cell timeout (30 s in the plain-papermill test, forever with no timeout).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .difference import Marked, mark_mismatch
from .display import Table, claims_table, verdicts_table
from .rules import Evaluation, evaluate
from .runbook import DEFAULT_AUDIENCE
from .tokens import decode


def inspect(token: str, *, issuer: Any, rule: Any, default_audience: str = DEFAULT_AUDIENCE
            ) -> tuple[Table, Table | None, Evaluation | None]:
    """Claims table (marked with what the rule reads) and verdicts for one token against one rule."""
    decoded = decode(token)
    if issuer is None or rule is None:
        return claims_table(decoded), None, None
    evaluation = evaluate(issuer, rule, decoded.claims, default_audience=default_audience)
    return claims_table(decoded, evaluation), verdicts_table(evaluation), evaluation


class ClaimsInspector:
    """Dropdown of named tokens → claims table and rule verdicts for the chosen one."""

    def __init__(self, tokens: Mapping[str, str | None], *, issuer: Any, rule: Any) -> None:
        import ipywidgets as w

        self.tokens = {name: tok for name, tok in tokens.items() if tok}
        self.issuer, self.rule = issuer, rule
        self.picker = w.Dropdown(options=list(self.tokens), description="token")
        self.view = w.HTML()
        self.picker.observe(lambda _change: self.render(), names="value")
        self.box = w.VBox([self.picker, self.view])
        self.render()

    def current(self) -> tuple[Table, Table | None, Evaluation | None]:
        return inspect(self.tokens[self.picker.value], issuer=self.issuer, rule=self.rule)

    def report(self) -> Table:
        """Every token's verdict under the rule, as one table (what the widget would show, all at once)."""
        rows = []
        verdict: Marked | str
        for name, token in self.tokens.items():
            _, _, evaluation = inspect(token, issuer=self.issuer, rule=self.rule)
            claims = decode(token).claims
            if evaluation is None:
                verdict = "(no rule to check against)"
            elif evaluation.passed:
                verdict = "would be accepted"
            else:
                first = evaluation.first_failure()
                text = f"refused: {first.matcher} — {first.reason}" if first else "refused"
                verdict = mark_mismatch(first.code if first else None, text)
            rows.append((name, str(claims.get("iss", "")), str(claims.get("sub", "")), verdict))
        return Table("Each token against the rule", ["token", "iss", "sub", "verdict"], rows)

    def render(self) -> None:
        claims, verdicts, _ = self.current()
        self.view.value = claims._repr_html_() + (verdicts._repr_html_() if verdicts is not None else "")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)
