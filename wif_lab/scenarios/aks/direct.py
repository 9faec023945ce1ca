"""Notebook 03's direct path (section 14): the pod's second projected token, audience https://api.anthropic.com,
exchanged with Anthropic against a rule on the cluster's own issuer — the same cells in mock and live mode.

In mock mode the lab registers the issuer, service account and rule, and the token file is the lab pod's. In
live mode the rule is the one ``direct_federation_rule_id`` names (read back through the Admin API), and the
file is ``anthropic_token_file`` (default ``ANTHROPIC_IDENTITY_TOKEN_FILE``, else the guide's mount path).

A projected token carries a ``jti``, and an issuer that checks it accepts each token once. The lab has its kubelet
write a new token before each step; a real kubelet rewrites the file only at about 80 % of the token's life. So
every step here presents the file's current token only if this run has not presented it yet, or the issuer does
not check ``jti`` — otherwise it says so instead of provoking a refusal.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from ... import examples
from ...display import Table
from ...errors import ConfigurationError
from ...parameters import PROVIDERS, missing_message
from ...providers.aks import ANTHROPIC_VOLUME, POD_MOUNT_ROOT, VOLUME_PATHS, read_token_file, shown_path
from ...redact import Secret
from ...runbook import Note, Outcome, Runbook, Settings
from ...tokens import decode
from .views import _wrapped

POD_TOKEN_FILE = f"{POD_MOUNT_ROOT}/{VOLUME_PATHS[ANTHROPIC_VOLUME]}"  # /var/run/secrets/anthropic.com/token
TOKEN_VARIABLE = "ANTHROPIC_IDENTITY_TOKEN_FILE"


class DirectPath(Settings):
    """The direct path's token file and Anthropic IDs, and the ``jti`` values this run has presented."""

    def __init__(self, values: dict[str, Any], *, skipped: str = "", in_lab: bool = False) -> None:
        super().__init__(values)
        self.skipped = skipped  # live mode without the direct path's parameters: why its cells do nothing
        self.in_lab = in_lab
        self.presented: set[str] = set()

    def table(self, title: str = "The direct path's settings") -> Table:
        empty = "— (the lab registers it below)" if self.in_lab else "—"
        rows = [(key, shown_path(str(value)) if key == "anthropic_token_file" else value or empty)
                for key, value in self.items()]
        return Table(title, ["parameter", "value"], rows)

    def __repr__(self) -> str:
        return self.skipped or super().__repr__()

    def _repr_markdown_(self) -> str | None:
        return Note(self.skipped)._repr_markdown_() if self.skipped else None

    def _repr_html_(self) -> str | None:
        return None if self.skipped else self.table()._repr_html_()

    def read(self) -> Secret | None:
        """The file's current token (the kubelet replaces it before it expires); None when the path is skipped."""
        if self.skipped:
            return None
        return read_token_file(self["anthropic_token_file"], variable=TOKEN_VARIABLE)

    def used_again(self, token: str, issuer: Any) -> str:
        """Why presenting ``token`` now would be a replay ("" when it would not): this run presented its ``jti``
        already, and the issuer checks ``jti`` (assumed on when the issuer could not be read back)."""
        jti = decode(token).claims.get("jti")
        if not isinstance(jti, str) or jti not in self.presented or getattr(issuer, "check_jti", True) is False:
            return ""
        return (f"skipped: the token file still holds the token this run presented above (jti {jti}) and the issuer "
                "checks jti, so a second exchange would be refused as a replay; the kubelet writes a new token at "
                "about 80 % of the old one's life (run the cell again then)")

    def mark(self, token: str) -> None:
        jti = decode(token).claims.get("jti")
        if isinstance(jti, str):
            self.presented.add(jti)


def direct_settings(rb: Runbook, *, anthropic_token_file: str = "", direct_federation_rule_id: str = "",
                    direct_service_account_id: str = "", direct_federation_issuer_id: str = "") -> DirectPath:
    """Parameters first; the lab pod's file in mock mode (the lab registers the objects, so their IDs fill in
    later); in live mode the rule and service account IDs are needed together, or neither (no direct path)."""
    token_file = anthropic_token_file or (rb.lab.section("aks")["anthropic_token_file"] if rb.lab is not None
                                          else os.environ.get(TOKEN_VARIABLE) or POD_TOKEN_FILE)
    values = {"anthropic_token_file": token_file, "direct_federation_rule_id": direct_federation_rule_id,
              "direct_service_account_id": direct_service_account_id,
              "direct_federation_issuer_id": direct_federation_issuer_id}
    if rb.lab is not None:
        return DirectPath(values, in_lab=True)
    given = {"direct_rule_id": direct_federation_rule_id, "direct_service_account_id": direct_service_account_id}
    missing = [key for key, value in given.items() if not value]
    if len(missing) == len(given):
        names = " and ".join(PROVIDERS["aks_direct"][key].name for key in given)
        return DirectPath(values, skipped=(
            f"live mode: no {names} given, so the direct path (section 14) has nothing to run against. To run "
            f"it, register the cluster's issuer, a service account and a rule (Before you begin) and pass {names}; "
            f"{PROVIDERS['aks_direct']['direct_rule_id'].where}."))
    if missing:
        message, hint = missing_message("aks_direct", missing)
        raise ConfigurationError(message, hint=hint)
    if rb.can_read_back:  # read the rule now: a wrong ID stops the run before any exchange
        try:
            rule = rb.admin().organization.federation.rules.retrieve(direct_federation_rule_id)
        except Exception as exc:  # the SDK's refusal (unknown ID, another organization, no permission)
            where = PROVIDERS["aks_direct"]["direct_rule_id"]
            raise ConfigurationError(f"direct_federation_rule_id {direct_federation_rule_id} could not be read back "
                                     f"({type(exc).__name__})", hint=f"{where.name}: {where.where}") from exc
        target = getattr(rule.target, "service_account_id", None)
        if target != direct_service_account_id:
            where = PROVIDERS["aks_direct"]["direct_service_account_id"]
            raise ConfigurationError(f"direct_service_account_id {direct_service_account_id} is not the target of "
                                     f"rule {direct_federation_rule_id} (it targets {target})",
                                     hint=f"{where.name}: {where.where}")
        values["direct_federation_issuer_id"] = direct_federation_issuer_id or rule.issuer_id
    return DirectPath(values)


def _target(direct: DirectPath, rule: Any) -> Any:
    """The rule read back, or (live, no org:admin token to read it) a reference made of the parameters' IDs:
    the exchange, the SDK and the programs need only the rule's ID and its service account's."""
    if rule is not None or direct.skipped or not direct["direct_federation_rule_id"]:
        return rule
    return SimpleNamespace(id=direct["direct_federation_rule_id"],
                           target=SimpleNamespace(service_account_id=direct["direct_service_account_id"]))


def _presentable(direct: DirectPath, token: str | None, issuer: Any, rule: Any) -> Any:
    """The rule to present ``token`` against, or a note saying why this step presents nothing (the direct path
    is not set up, or the token would be a ``jti`` replay)."""
    rule = _target(direct, rule)
    if direct.skipped or token is None or rule is None:
        return Note(direct.skipped or "no direct-path token or rule to present (see the cells above)")
    reason = direct.used_again(token, issuer)
    return Note(reason) if reason else rule


def exchange(rb: Runbook, direct: DirectPath, token: str | None, *, issuer: Any, rule: Any, title: str
             ) -> Outcome | Note:
    """The raw exchange of the file's token, unless that would replay a ``jti`` (then a note saying why)."""
    rule = _presentable(direct, token, issuer, rule)
    if isinstance(rule, Note):
        return rule
    direct.mark(token)
    return rb.try_exchange(token, rule=rule, title=title)


def _provider(direct: DirectPath) -> Callable[[], str]:
    """The SDK's identity-token provider: the file, re-read on every call, each token noted as presented."""

    def provide() -> str:
        token = direct.read()
        assert token is not None
        direct.mark(token)
        return token

    return provide


def sdk_call(rb: Runbook, direct: DirectPath, *, issuer: Any, rule: Any, model: str) -> Table | Note:
    """The official SDK on the direct path, its provider re-reading the projected file; one Messages call."""
    rule = _presentable(direct, direct.read(), issuer, rule)
    if isinstance(rule, Note):
        return rule
    claude = rb.client(_provider(direct), rule=rule)
    reply = claude.messages.create(model=model, max_tokens=200,
                                   messages=[{"role": "user", "content": "Which identity am I calling as?"}])
    return Table("Claude, called with the projected token", ["field", "value"],
                 _wrapped("reply", reply.content[0].text))


def run_example(rb: Runbook, direct: DirectPath, name: str, *, issuer: Any, rule: Any,
                profile: str | None = None) -> examples.ExampleRun | Note:
    """``examples/<name>`` with the direct path's token file and rule, unless the file's token is used up."""
    token = direct.read()
    rule = _presentable(direct, token, issuer, rule)
    if isinstance(rule, Note):
        return rule
    direct.mark(token)  # the program's process reads the same file content
    return examples.run(name, rb, settings=direct, rule=rule, profile=profile)
