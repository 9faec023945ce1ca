"""SPIFFE/SPIRE demonstrations for notebook 06: the other callers on the node, SPIRE's settings changed as an
operator would, and the tables that compare outcomes.

The lab is changed only through the SPIRE mock's ``/lab/…`` routes (so this works attached to ``wif-lab mock
serve`` too) and never by importing a mock. Lab-only: in live mode each helper returns ``None`` (or a
skipped outcome) and changes nothing in your SPIRE deployment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import http
from ..display import ShownAsTable, Table, summary
from ..errors import WifLabError
from ..providers.spiffe import JwtSvid, SpiffeRefused, WorkloadApiClient, from_connection
from ..redact import redact
from ..runbook import Outcome, Runbook

LAB_ONLY = "lab-only demonstration (skipped in live mode: it would change your SPIRE deployment)"


def _section(rb: Runbook) -> dict[str, Any] | None:
    return rb.lab.section("spire") if rb.lab is not None else None


def workload_client(rb: Runbook, name: str, **options: Any) -> WorkloadApiClient | None:
    """A Workload API client as another caller on the lab's node sees the agent (``reporter``, ``shell``)."""
    section = _section(rb)
    return from_connection(section, workload=name, **options) if section is not None else None


def _post(rb: Runbook, key: str, body: dict[str, Any] | None) -> dict[str, Any] | None:
    section = _section(rb)
    if section is None:
        return None
    response = http.request("POST", section[key], what="the lab's SPIRE settings", verify=rb.verify, deadline=10,
                            json=body or {})
    if response.status_code != 200:
        raise WifLabError(f"the lab refused the SPIRE change ({response.status_code}): {response.text[:200]}",
                          hint="the values passed to the scenario helper")
    return dict(response.json())


def configure_server(rb: Runbook, **changes: Any) -> dict[str, Any] | None:
    """Edit the lab's ``server.conf`` (``jwt_issuer``, ``default_jwt_svid_ttl``) and restart server and agent."""
    return _post(rb, "server_url", changes)


def set_entry_ttl(rb: Runbook, spiffe_id: str, jwt_svid_ttl: int) -> dict[str, Any] | None:
    """``spire-server entry update -jwtSVIDTTL``: the entry's own lifetime (0: the server's default)."""
    return _post(rb, "entries_url", {"spiffe_id": spiffe_id, "jwt_svid_ttl": jwt_svid_ttl})


def restore(rb: Runbook) -> dict[str, Any] | None:
    """Put the lab's SPIRE server back as the lab started it (clean up after the demonstrations)."""
    section = _section(rb)
    if section is None:
        return None
    set_entry_ttl(rb, section["spiffe_id"], 0)
    return configure_server(rb, jwt_issuer=section["jwt_issuer"], default_jwt_svid_ttl=section["default_jwt_svid_ttl"])


def svid_token(outcome: SvidOutcome) -> str | None:
    """The token of an issued outcome (``None`` when refused or skipped), to present it next."""
    return outcome.svid.token if outcome.svid is not None else None


def settings_table(rb: Runbook, settings: dict[str, Any], title: str = "Settings") -> Table:
    """The notebook's SPIFFE settings; in the lab, its run folder shown as ``<lab run dir>`` (it changes per run)."""
    run_dir = rb.lab.connection.path.parent if rb.lab is not None and rb.lab.connection.path is not None else None
    shown = {}
    for key, value in settings.items():
        text = str(value)
        if run_dir is not None:
            text = text.replace(str(run_dir), "<lab run dir>")
        shown[key] = text
    return summary(title, shown)


def server_table(settings: dict[str, Any] | None, title: str = "SPIRE server settings (lab)") -> Table | None:
    if settings is None:
        return None
    return summary(title, {"trust_domain": settings["trust_domain"], "jwt_issuer": settings["jwt_issuer"] or "(unset)",
                           "default_jwt_svid_ttl": f"{settings['default_jwt_svid_ttl']} s",
                           "entries": {e["spiffe_id"]: e["jwt_svid_ttl"] or "default" for e in settings["entries"]}})


@dataclass(repr=False)
class SvidOutcome(ShownAsTable):
    """One Workload API call shown as a table: the SVID (redacted) and its claims, or the agent's refusal."""

    title: str
    status: str  # "issued" | "refused" | "skipped"
    svid: JwtSvid | None = None
    error: WifLabError | None = None

    def table(self) -> Table:
        rows: list[tuple[str, str]] = [("outcome", self.status)]
        if self.status == "skipped":
            rows.append(("note", LAB_ONLY))
        if self.svid is not None:
            claims = self.svid.claims
            rows += [("svid", redact(self.svid.token, short=True)), ("spiffe_id", self.svid.spiffe_id),
                     ("iss", str(claims.get("iss", "(absent)"))), ("aud", str(claims.get("aud"))),
                     ("lifetime (exp − iat)", f"{self.svid.lifetime} s")]
        if isinstance(self.error, SpiffeRefused):
            rows += [("gRPC status", self.error.code), ("details", self.error.details)]
        elif self.error is not None:
            rows.append(("error", self.error.message))
        if self.error is not None and self.error.hint:
            rows.append(("check next", self.error.hint))
        return Table(self.title, ["field", "value"], rows)


def try_fetch(client: WorkloadApiClient | None, title: str, **request: Any) -> SvidOutcome:
    """Ask the agent for a JWT-SVID and report the answer instead of raising (``None`` client: skipped)."""
    if client is None:
        return SvidOutcome(title, "skipped")
    try:
        return SvidOutcome(title, "issued", svid=client.fetch_jwt_svid(**request))
    except WifLabError as exc:
        return SvidOutcome(title, "refused", error=exc)


@dataclass
class Attempt:
    """One SPIRE setting tried end to end: the SVID it produced and what the exchange said."""

    setting: str
    svid: JwtSvid | None
    outcome: Outcome
    notes: dict[str, str] = field(default_factory=dict)


def attempt(rb: Runbook, client: WorkloadApiClient, rule: Any, setting: str, **changes: Any) -> Attempt:
    """Change the lab's SPIRE server (``changes``), fetch a fresh JWT-SVID and present it (lab only)."""
    if rb.lab is None or rule is None:
        return Attempt(setting, None, Outcome(setting, "skipped", note=LAB_ONLY))
    if changes:
        configure_server(rb, **changes)
    svid = client.fetch_jwt_svid()
    return Attempt(setting, svid, rb.try_exchange(svid.token, rule=rule, title=setting))


def attempts_table(attempts: Sequence[Attempt], title: str) -> Table:
    """What each setting put in the SVID, and how the exchange answered (with the history's reason)."""
    rows = []
    for a in attempts:
        claims = a.svid.claims if a.svid is not None else {}
        event = a.outcome.event or {}
        reason = (event.get("status") or {}).get("reason") or ("—" if a.outcome.accepted else "")
        lifetime = f"{a.svid.lifetime} s" if a.svid is not None else "—"
        rows.append((a.setting, str(claims.get("iss", "(absent)")) if claims else "—", lifetime, a.outcome.status,
                     reason or ("(no history: skipped)" if a.outcome.status == "skipped" else "—")))
    return Table(title, ["SPIRE setting", "iss in the SVID", "exp − iat", "exchange", "history reason"], rows)
