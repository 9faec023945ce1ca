"""The Anthropic side of a notebook, identical in mock and live mode.

A notebook opens a :class:`Runbook` from its parameters. In mock mode it attaches to (or starts)
the lab and fills every empty parameter from the connection file; in live mode it uses the
parameters as given, against the real Okta / Azure / Anthropic. Cells call the same methods either
way. Steps that only make sense in the lab — creating Anthropic objects, provoking failures — are
marked lab-only: in live mode they are skipped with a note saying what to do in the Console
instead, and return ``None``, which the later steps understand.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .attendee import attendee_name, join
from .display import ShownAsTable, Table, event_detail, event_summary, summary, verdicts_table
from .errors import ConfigurationError, ExchangeRefused, WifLabError
from .exchange import ExchangeResult, exchange
from .lab import Lab, connect
from .parameters import SECRET_VARIABLES, credential_problem, missing_message
from .redact import Secret, redact, secret
from .rules import Evaluation, WorkspaceContext, evaluate
from .tokens import Verify, decode

MODES = ("mock", "live")
ENV_ADMIN_TOKEN = "WIF_LAB_ADMIN_TOKEN"
DEFAULT_AUDIENCE = "https://api.anthropic.com"
SECRET_KEYS = ("admin_token", "api_token", "private_key", "client_secret", "token", "identity_header",
               "secret_access_key", "session_token")


class Note:
    """A short message shown as a cell output (why a step was skipped, what to do instead)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return f"> ℹ️ {self.text}"


class Settings(ShownAsTable, dict[str, Any]):
    """Resolved parameters for one provider; attribute access, secrets redacted when shown."""

    def __init__(self, values: Any = (), /, **more: Any) -> None:
        super().__init__(values, **more)
        for key in SECRET_KEYS:
            value = self.get(key)
            # A private key given as a file path is configuration, not a secret; inline PEM is.
            if isinstance(value, str) and value and (key != "private_key" or "-----BEGIN" in value):
                self[key] = Secret(value)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def table(self, title: str = "Settings") -> Table:
        return summary(title, {k: _shown(k, v) for k, v in self.items()})


def _shown(key: str, value: Any) -> Any:
    if key == "private_key" and isinstance(value, str) and value.endswith(".pem"):
        return f"…/{value.rsplit('/', 1)[-1]} (path to the PEM; the key itself is never shown)"
    if key in SECRET_KEYS and isinstance(value, str) and value:
        return redact(value)
    if isinstance(value, dict):
        return {k: _shown(k, v) for k, v in value.items()}
    return value


@dataclass(repr=False)
class Outcome(ShownAsTable):
    """The result of a demonstration step: accepted, refused (with the event that explains it), or skipped."""

    title: str
    status: str  # "accepted" | "refused" | "skipped"
    result: ExchangeResult | None = None
    error: WifLabError | None = None
    event: dict[str, Any] | None = None
    note: str = ""
    extra: list[tuple[str, str]] = field(default_factory=list)
    history_read: bool = False  # the lab's history was searched for this request's entry

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def table(self) -> Table:
        rows: list[tuple[str, str]] = [("outcome", self.status)]
        if self.result is not None:
            rows += [("access_token", redact(self.result.access_token)), ("expires_in", str(self.result.expires_in)),
                     ("scope", str(self.result.scope))]
        if isinstance(self.error, ExchangeRefused):
            rows += [("HTTP status", str(self.error.status)), ("error", str(self.error.error)),
                     ("error_description", str(self.error.description)), ("request id", str(self.error.request_id))]
            if self.error.hint:
                rows.append(("check next", self.error.hint))
        elif self.error is not None:
            rows.append(("error", getattr(self.error, "message", str(self.error))))
            if self.error.hint:
                rows.append(("check next", self.error.hint))
        if self.note:
            rows.append(("note", self.note))
        rows += self.extra
        if self.event is not None:
            status = self.event.get("status", {})
            rows.append(("event reason", status.get("reason") or "—"))
            if status.get("detail"):
                rows.append(("event detail", event_detail(status)))
        elif self.history_read and isinstance(self.error, ExchangeRefused):
            why = ("a malformed request is refused before any rule is looked up" if self.error.status == 400
                   else "the organization has no rule with this id, so there was nothing to file it under")
            rows.append(("event reason", f"no history entry: {why}"))
        return Table(self.title, ["field", "value"], rows)


class Runbook:
    def __init__(self, mode: str, lab: Lab | None, *, base_url: str, organization_id: str, verify: Verify,
                 admin_token: str | None, ids: dict[str, str | None], attendee: str | None = None) -> None:
        self.mode = mode
        self.attendee = attendee  # on a shared lab: the prefix of every object name this run registers
        self.lab = lab
        self.base_url = base_url
        self.organization_id = organization_id
        self.verify = verify
        self._admin_token = secret(admin_token)
        self._admin: Any = None
        self.federation_rule_id = ids.get("federation_rule_id")
        self.service_account_id = ids.get("service_account_id")
        self.workspace_id = ids.get("workspace_id")
        self.federation_issuer_id = ids.get("federation_issuer_id")
        self._registered: list[tuple[str, Any]] = []  # (kind, object) this run created or updated in the lab
        self._also_named: list[tuple[str, str]] = []  # live: (kind, id) of further objects read back (live_id=)
        self._requests: dict[str, str] = {}  # rule id -> request id of this run's latest exchange through it

    # --- parameters ---------------------------------------------------------------------------

    @property
    def is_lab(self) -> bool:
        return self.lab is not None

    def settings(self, provider: str, *, required: tuple[str, ...] = (), **params: Any) -> Settings:
        """Provider settings: the given parameters, with empty ones filled from the lab in mock mode.

        ``provider`` may name a nested part of the connection file, e.g. ``"okta.second_app"``.
        """
        given = {k: v for k, v in params.items() if v not in ("", None)}
        if self.lab is not None:
            section: Any = self.lab.connection.data
            for part in provider.split("."):
                if not isinstance(section, dict) or not isinstance(section.get(part), dict):
                    known = ", ".join(k for k, v in self.lab.connection.data.items() if isinstance(v, dict))
                    raise ConfigurationError(f"the lab's connection file has no section {provider!r}",
                                             hint=f"sections it has: {known}")
                section = section[part]
            merged = {k: given.get(k, section.get(k)) for k in params}
            return Settings(merged)
        missing = [k for k in (required or tuple(params)) if k not in given]
        if missing:
            message, hint = missing_message(provider, missing)
            raise ConfigurationError(message, hint=hint)
        values = {k: given.get(k) for k in params}
        # Secrets come from the environment only (papermill writes parameters into the executed notebook).
        for key, variable in SECRET_VARIABLES.get(provider, {}).items():
            if os.environ.get(variable):
                values[key] = os.environ[variable]
        problem = credential_problem(provider, values)
        if problem:
            raise ConfigurationError(problem[0], hint=problem[1])
        return Settings(values)

    def __repr__(self) -> str:
        where = "the embedded lab" if self.lab and self.lab.private else ("an attached lab" if self.lab else "LIVE")
        return (f"Runbook(mode={self.mode!r}, against {where}: Claude API {self.base_url}, "
                f"organization {self.organization_id})")

    # --- admin (configure Anthropic) --------------------------------------------------------------

    def admin(self) -> Any:
        """The official SDK on an ``org:admin`` token: the lab's, or the one given in live mode."""
        if self._admin is None:
            if self.lab is not None:
                self._admin = self.lab.admin()
            elif self._admin_token:
                from .sdk import admin_client

                self._admin = admin_client(base_url=self.base_url, admin_token=self._admin_token, verify=self.verify)
            else:
                raise ConfigurationError("reading federation objects needs an org:admin OAuth token",
                                         hint=f"export {ENV_ADMIN_TOKEN} (from `ant auth login --scope org:admin`)")
        return self._admin

    def _live_lookup(self, kind: str, object_id: str | None, fetch: Callable[[str], Any], *,
                     second: bool = False) -> Any:
        if second and object_id and (kind.removeprefix("the "), object_id) not in self._also_named:
            self._also_named.append((kind.removeprefix("the "), object_id))
        if second and not object_id:
            return None  # a further object whose parameters were not given: its section says so once
        if not object_id:
            print(Note(f"live mode: {kind} not created here (a lab-only step). Create it in the Console "
                       f"(Settings → Workload identity) and pass its ID as a parameter.").text)
            return None
        if not self._admin_token:
            print(Note(f"live mode: using {kind} {object_id} from the parameters; export {ENV_ADMIN_TOKEN} (an "
                       "org:admin OAuth token) to read it back for the preflight check.").text)
            return None
        return fetch(object_id)

    @property
    def can_read_back(self) -> bool:
        """Whether the Anthropic objects can be read (the lab's admin, or an org:admin token in live mode)."""
        return self.lab is not None or bool(self._admin_token)

    def _rule_issuer_id(self) -> str | None:
        """In live mode without federation_issuer_id: the issuer the rule names, when the rule can be read."""
        if not self._admin_token or not self.federation_rule_id:
            return None
        return self.admin().organization.federation.rules.retrieve(self.federation_rule_id).issuer_id

    def _find(self, items: Any, name: str) -> Any:
        return next((item for item in items if item.name == name), None)

    def object_name(self, name: str) -> str:
        """The name an object gets in the lab: on a shared lab, prefixed with the attendee's namespace."""
        return f"{self.attendee}-{name}" if self.attendee else name

    def _create_or_get(self, resource: Any, name: str, create: Callable[[], Any]) -> tuple[Any, bool]:
        """Create the named object, or find it when the name is taken (the API's 409): (object, created).

        Creating first makes this atomic: the service checks the name under its own lock, so two kernels
        racing for one name end with one object, never two.
        """
        from anthropic import ConflictError

        try:
            return create(), True
        except ConflictError:
            found = self._find(resource.list(limit=100), name)
            if found is None:
                raise
            return found, False

    def register_issuer(self, *, name: str, issuer_url: str, lab_only: bool = False, live_id: str | None = None,
                        **kwargs: Any) -> Any:
        """Create (or update) a federation issuer in the lab; in live mode read the given one.

        ``live_id`` marks a second issuer of the notebook (the AKS direct path's), named by a parameter of its
        own: the lab registers it without making it the runbook's, and live mode reads that ID back.
        """
        if self.lab is None:
            if lab_only:
                return self._skip(f"issuer {name}")
            object_id = live_id if live_id is not None else self.federation_issuer_id or self._rule_issuer_id()
            return self._live_lookup("the federation issuer", object_id,
                                     lambda i: self.admin().organization.federation.issuers.retrieve(i),
                                     second=live_id is not None)
        issuers = self.admin().organization.federation.issuers
        name = self.object_name(name)
        obj, created = self._create_or_get(issuers, name,
                                           lambda: issuers.create(name=name, issuer_url=issuer_url, **kwargs))
        if not created:
            obj = issuers.update(obj.id, issuer_url=issuer_url, **kwargs)
        self._registered.append(("federation issuer", obj))
        if not lab_only and live_id is None:
            self.federation_issuer_id = obj.id
        return obj

    def register_service_account(self, *, name: str, lab_only: bool = False, live_id: str | None = None,
                                 **kwargs: Any) -> Any:
        """Create a service account in the lab (or find it by name); in live mode read the given one."""
        if self.lab is None:
            if lab_only:
                return self._skip(f"service account {name}")
            return self._live_lookup("the service account", live_id if live_id is not None else self.service_account_id,
                                     lambda i: self.admin().organization.service_accounts.retrieve(i),
                                     second=live_id is not None)
        accounts = self.admin().organization.service_accounts
        name = self.object_name(name)
        obj, _ = self._create_or_get(accounts, name, lambda: accounts.create(name=name, **kwargs))
        self._registered.append(("service account", obj))
        if not lab_only and live_id is None:
            self.service_account_id = obj.id
        return obj

    def register_rule(self, *, name: str, issuer: Any, service_account: Any, match: dict[str, Any],
                      oauth_scope: str = "workspace:developer", lab_only: bool = False, live_id: str | None = None,
                      **kwargs: Any) -> Any:
        """Create (or replace) a federation rule in the lab; in live mode read the given one (``live_id``: as
        for :meth:`register_issuer`)."""
        if self.lab is None:
            if lab_only:
                return self._skip(f"rule {name}")
            return self._live_lookup("the federation rule", live_id if live_id is not None else self.federation_rule_id,
                                     lambda i: self.admin().organization.federation.rules.retrieve(i),
                                     second=live_id is not None)
        rules = self.admin().organization.federation.rules
        kwargs.setdefault("workspace_id", self.workspace_id or self.lab.default_workspace_id)
        target = {"type": "service_account", "service_account_id": service_account.id}
        name = self.object_name(name)
        obj, created = self._create_or_get(rules, name, lambda: rules.create(
            name=name, issuer_id=issuer.id, match=match, target=target, oauth_scope=oauth_scope, **kwargs))
        if not created:
            kwargs.pop("workspace_id", None)
            obj = rules.update(obj.id, match=match, target=target, oauth_scope=oauth_scope, **kwargs)
        self._registered.append(("federation rule", obj))
        if not lab_only and live_id is None:
            self.federation_rule_id = obj.id
            self.service_account_id = service_account.id
        return obj

    def update_rule(self, rule: Any, **changes: Any) -> Any:
        """Change a rule (lab: through the Admin API; live: skipped with a note)."""
        if rule is None or self.lab is None:
            return self._skip("rule update")
        return self.admin().organization.federation.rules.update(rule.id, **changes)

    def update_issuer(self, issuer: Any, **changes: Any) -> Any:
        if issuer is None or self.lab is None:
            return self._skip("issuer update")
        return self.admin().organization.federation.issuers.update(issuer.id, **changes)

    def _skip(self, what: str) -> None:
        print(Note(f"live mode: skipped the lab-only step ({what}).").text)
        return None

    # --- clean up -------------------------------------------------------------------------------

    def clean_up(self, *, archive_live: bool = False) -> Table:
        """Archive what this run registered: rules first, then issuers, then service accounts.

        In the lab that is every object the notebook's cells created (an attached workshop stack keeps no
        leftovers). In live mode the notebook created nothing: the table lists the objects its parameters
        name and how to archive them, and only ``archive_live=True`` archives them. Refusals (an issuer
        another live rule still uses) are rows of the table, never exceptions.
        """
        if self.lab is not None:
            return self._archive(self._registered, "Clean up: what this run registered in the lab, archived")
        named = [("federation rule", self.federation_rule_id), ("federation issuer", self.federation_issuer_id),
                 ("service account", self.service_account_id)]
        named = [(kind, object_id) for kind, object_id in named if object_id] + self._also_named
        if archive_live:
            try:
                fetch = {"federation rule": self.admin().organization.federation.rules.retrieve,
                         "federation issuer": self.admin().organization.federation.issuers.retrieve,
                         "service account": self.admin().organization.service_accounts.retrieve}
                objects = [(kind, fetch[kind](object_id)) for kind, object_id in named]
            except WifLabError as exc:
                return Table("Clean up (live): nothing archived", ["object", "id", "result"],
                             [(kind, object_id, f"{exc.message} → {exc.hint}") for kind, object_id in named])
            except Exception as exc:  # the SDK's refusal (unknown id, no permission): shown, not raised
                return Table("Clean up (live): nothing archived", ["object", "id", "result"],
                             [(kind, object_id, f"could not read it back: {_api_message(exc)}")
                              for kind, object_id in named])
            return self._archive(objects, "Clean up (live): archived on request (archive_live=True)")
        rows = [(kind, object_id, "left in place (live mode archives only with archive_live=True)")
                for kind, object_id in named]
        rows.append(("to archive", "—", "wif-lab setup anthropic <your setup file> --archive --dry-run, then without "
                     "--dry-run (rule, then issuer and service account if no other rule uses them); or Console → "
                     "Settings → Workload identity"))
        return Table("Clean up (live): what this run used", ["object", "id", "result"], rows)

    def _archive(self, registered: list[tuple[str, Any]], title: str) -> Table:
        order = {"federation rule": 0, "federation issuer": 1, "service account": 2}
        seen: dict[str, tuple[str, Any]] = {}
        for kind, obj in registered:
            seen.setdefault(obj.id, (kind, obj))
        org = self.admin().organization
        archive = {"federation rule": org.federation.rules.archive,
                   "federation issuer": org.federation.issuers.archive,
                   "service account": org.service_accounts.archive}
        rows = []
        for kind, obj in sorted(seen.values(), key=lambda pair: order[pair[0]]):
            try:
                done = archive[kind](obj.id)
                result = "archived" if done.archived_at is not None else "not archived (the API kept it live)"
            except Exception as exc:  # refused (still in use): an outcome of the clean-up, not a failure
                result = f"kept: {_api_message(exc)}"
            rows.append((kind, f"{obj.name} ({obj.id})", result))
        if not rows:
            rows.append(("—", "—", "nothing was registered by this run"))
        return Table(title, ["object", "name", "result"], rows)

    # --- preflight, exchange, events ----------------------------------------------------------

    def preflight(self, token: str, *, issuer: Any, rule: Any) -> Evaluation | None:
        """Evaluate the rule against the token's claims, as the exchange will (without presenting it)."""
        if issuer is None or rule is None:
            print(Note("preflight skipped: the issuer and rule could not be read (see above).").text)
            return None
        members = None
        if self.lab is not None:
            sa_id = rule.target.service_account_id
            listing = self.admin().organization.service_accounts.workspaces.list(sa_id)
            members = frozenset(m.workspace_id for m in listing if not getattr(m, "implicit", False))
        default_ws = self.lab.default_workspace_id if self.lab is not None else "default"
        return evaluate(issuer, rule, decode(token).claims, default_audience=DEFAULT_AUDIENCE,
                        requested_workspace=self.workspace_id,
                        workspaces=WorkspaceContext(default_workspace_id=default_ws, member_workspace_ids=members))

    def show_preflight(self, evaluation: Evaluation | None) -> Table | Note:
        if evaluation is None:
            return Note("no preflight verdicts (skipped)")
        return verdicts_table(evaluation)

    def exchange(self, token: str, *, rule: Any = None, **fields: str | None) -> ExchangeResult:
        """The raw jwt-bearer exchange for the current (or given) rule.

        ``fields`` override the request's ``federation_rule_id``, ``service_account_id`` or
        ``workspace_id`` (``None`` leaves a field out), to show how the service answers a wrong one.
        """
        request: dict[str, str | None] = {
            "federation_rule_id": rule.id if rule is not None else self.federation_rule_id,
            "service_account_id": rule.target.service_account_id if rule is not None else self.service_account_id,
            "workspace_id": self.workspace_id,
        }
        unknown = set(fields) - set(request)
        if unknown:
            raise ConfigurationError(f"exchange() cannot override {sorted(unknown)}",
                                     hint="override only federation_rule_id, service_account_id or workspace_id")
        request.update(fields)
        if not request["federation_rule_id"]:
            raise ConfigurationError("no federation rule to exchange against",
                                     hint="set federation_rule_id (live) or run the 'configure Anthropic' cells")
        rule_id = str(request["federation_rule_id"])
        try:
            result = exchange(token, base_url=self.base_url, federation_rule_id=rule_id,
                              organization_id=self.organization_id, service_account_id=request["service_account_id"],
                              workspace_id=request["workspace_id"], verify=self.verify)
        except ExchangeRefused as exc:
            self._remember(rule_id, exc.request_id)
            raise
        self._remember(rule_id, result.request_id)
        return result

    def _remember(self, rule_id: str, request_id: str | None) -> None:
        if request_id:
            self._requests[rule_id] = request_id

    def try_exchange(self, token: str | None, *, rule: Any = None, title: str = "Exchange", lab_only: str = "",
                     **fields: str | None) -> Outcome:
        """Exchange and report the outcome instead of raising, with the authentication event behind it.

        ``lab_only`` says why the demonstration must not reach a real organization (a replayed token, a
        request made malformed on purpose): in live mode the step is then skipped with that reason.
        """
        if self.lab is None and lab_only:
            return Outcome(title, "skipped", note=f"skipped in live mode: {lab_only}")
        if token is None or rule is None:
            return Outcome(title, "skipped", note="lab-only demonstration (skipped in live mode)")
        try:
            result = self.exchange(token, rule=rule, **fields)
        except ExchangeRefused as exc:
            return Outcome(title, "refused", error=exc, event=self.event_for(exc.request_id),
                           history_read=self.lab is not None)
        except WifLabError as exc:
            return Outcome(title, "refused", error=exc)
        return Outcome(title, "accepted", result=result, event=None)

    def event_for(self, request_id: str | None) -> dict[str, Any] | None:
        """The history entry of one exchange (lab only), or None when it left none."""
        if self.lab is None or not request_id:
            return None
        return self.lab.event_for(request_id)

    def last_event(self, rule: Any = None) -> dict[str, Any] | None:
        """The event of this run's latest exchange through the rule (lab only: live events are in the Console).

        Looked up by that exchange's own request id, so on a shared lab it is never another attendee's
        (nor another kernel's) newer attempt against the same rule.
        """
        if self.lab is None:
            return None
        rule_id = rule.id if rule is not None else self.federation_rule_id
        request_id = self._requests.get(str(rule_id))
        if request_id is None and self.attendee:
            return None  # on a shared lab, an event this run did not cause is someone else's
        for _ in range(20):  # the event is written as the response is sent; allow a moment
            # Without an exchange of this run through the rule (the SDK exchanged by itself), a lab of one
            # user shows the rule's newest event.
            event = self.lab.event_for(request_id) if request_id else self.lab.last_event(rule_id)
            if event is not None:
                return event
            time.sleep(0.05)
        return None

    def show_last_event(self, rule: Any = None) -> Table | Note:
        if self.lab is None:
            return Note("live mode: open Console → Settings → Workload identity → history for the event.")
        return event_summary(self.last_event(rule))

    def client(self, identity_token_provider: Callable[[], str], *, rule: Any = None) -> Any:
        """The official ``anthropic`` client federating through this runbook's rule."""
        from .sdk import federated_client

        return federated_client(
            identity_token_provider=identity_token_provider, base_url=self.base_url,
            federation_rule_id=rule.id if rule is not None else self.federation_rule_id,
            organization_id=self.organization_id,
            service_account_id=rule.target.service_account_id if rule is not None else self.service_account_id,
            workspace_id=self.workspace_id, verify=self.verify,
        )


def _api_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return f"HTTP {getattr(exc, 'status_code', '?')} {error['message']}"
    return str(exc)


def open_runbook(
    mode: str = "mock",
    *,
    anthropic_base_url: str = "",
    organization_id: str = "",
    ca_bundle: str = "",
    federation_issuer_id: str = "",
    federation_rule_id: str = "",
    service_account_id: str = "",
    workspace_id: str = "",
    connection_file: str = "",
    attendee: str = "",
) -> Runbook:
    """Open the notebook's runbook: the lab in mock mode, your real organization in live mode.

    Attached to a shared lab, the run joins it as ``attendee`` (default $WIF_LAB_ATTENDEE or
    $JUPYTERHUB_USER): apps and keys of its own, object names prefixed with that namespace.
    """
    if mode not in MODES:
        raise ConfigurationError(f"mode must be 'mock' or 'live', not {mode!r}")
    ids = {"federation_issuer_id": federation_issuer_id or None, "federation_rule_id": federation_rule_id or None,
           "service_account_id": service_account_id or None, "workspace_id": workspace_id or None}
    if mode == "mock":
        lab = connect(connection_file or None)
        name = None if lab.private else attendee_name(attendee)
        if name:
            join(lab, name)
        return Runbook(mode, lab, base_url=lab.base_url, organization_id=lab.organization_id, verify=lab.ca_bundle,
                       admin_token=None, ids=ids, attendee=name)
    required = {"organization_id": organization_id, "federation_rule_id": federation_rule_id,
                "service_account_id": service_account_id}
    missing = [name for name, value in required.items() if not value]
    if missing:
        message, hint = missing_message("anthropic", missing)
        raise ConfigurationError(message, hint=hint)
    # A secret never travels as a notebook parameter (papermill writes parameters into the executed
    # notebook); an optional org:admin token for reading the rule back comes from the environment.
    admin_token = os.environ.get(ENV_ADMIN_TOKEN) or None
    return Runbook(mode, None, base_url=anthropic_base_url or "https://api.anthropic.com",
                   organization_id=organization_id, verify=ca_bundle or True, admin_token=admin_token, ids=ids)


def federation_table(issuer: Any, service_account: Any, rule: Any) -> Table | Note:
    """What is registered with Anthropic for this workload, in one table."""
    if rule is None:
        return Note("nothing to show: the federation objects were not created or read in this run")
    match = rule.match.model_dump(exclude_none=True) if hasattr(rule.match, "model_dump") else rule.match
    rows = {
        "issuer": f"{issuer.name} ({issuer.id})" if issuer is not None else "—",
        "issuer_url": issuer.issuer_url if issuer is not None else "—",
        "jwks": issuer.jwks.type if issuer is not None else "—",
        "max_jwt_lifetime_seconds": issuer.max_jwt_lifetime_seconds if issuer is not None else "—",
        "service account": f"{service_account.name} ({service_account.id})" if service_account is not None else "—",
        "rule": f"{rule.name} ({rule.id})",
        "match": match,
        "oauth_scope": rule.oauth_scope,
        "token_lifetime_seconds": rule.token_lifetime_seconds,
        "workspaces": rule.workspace_ids,
    }
    return summary("Registered with Anthropic", rows)
