"""``wif-lab setup anthropic``: the issuer, service account, membership and rule, as code.

Idempotent by name: each object is looked up by its name among the live (non-archived) ones, created
when missing and updated only in the fields the setup file sets and that differ. ``issuer_id`` and a
service account's ``name`` are immutable in the Admin API, so a change there is an error that says
what to do, never a silent second object. Everything goes through the official ``anthropic`` SDK on
an ``org:admin`` OAuth token from the environment (never an argument: it would land in shell history).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anthropic

from ..errors import ConfigurationError, ProviderError, ProviderUnreachable
from .anthropic_config import DEFAULT_BASE_URL, AnthropicConfig
from .outputs import env_file_step, profile_step, write_env_file, write_profile
from .plan import ABSENT, ARCHIVE, CREATE, NEW, UNCHANGED, UPDATE, FieldChange, Plan, Step, diff

ENV_ADMIN_TOKEN = "WIF_LAB_ADMIN_TOKEN"
TOKEN_HINT = (f"export {ENV_ADMIN_TOKEN} with an org:admin OAuth token (`ant auth login --scope org:admin`); "
              "Admin API keys (sk-ant-admin01-…) are not accepted by the federation endpoints")


def admin_token_from_env() -> str:
    token = os.environ.get(ENV_ADMIN_TOKEN, "").strip()
    if not token:
        raise ConfigurationError(f"{ENV_ADMIN_TOKEN} is not set: setup needs an org:admin OAuth token",
                                 hint=TOKEN_HINT)
    return token


@contextmanager
def admin_errors(base_url: str) -> Iterator[None]:
    """The SDK's exceptions as one :mod:`wif_lab.errors` error each, with what to check next."""
    try:
        yield
    except anthropic.APIStatusError as exc:
        status, message = exc.status_code, _api_message(exc)
        hints = {
            401: TOKEN_HINT + "; the token may also have expired",
            403: "the token needs the org:admin scope; rules with other scopes than workspace:developer or "
                 "workspace:inference need the Console",
            404: f"that base_url ({base_url}) is the Claude API and the object ids in the message exist",
            409: "another live object already has that name: pick another name in the setup file",
        }
        raise ProviderError(f"the Admin API refused the request (HTTP {status}): {message}", status=status,
                            error=getattr(exc, "type", None), description=message,
                            hint=hints.get(status, "the setup file's value for the field the message names")) from exc
    except anthropic.APIConnectionError as exc:
        if isinstance(exc, ProviderUnreachable):  # wif_lab.sdk's deadline error already says it all
            raise
        cause = exc.__cause__ or exc
        tls = "CERTIFICATE_VERIFY_FAILED" in str(cause)
        raise ProviderUnreachable(
            f"cannot reach the Admin API at {base_url}: {type(cause).__name__}: {cause}",
            hint=("the CA bundle: set ca_bundle in [anthropic] (a TLS-inspecting proxy's CA, or the lab's)" if tls
                  else "base_url in [anthropic], the network path to it, and any proxy variables"),
        ) from exc


def _api_message(exc: anthropic.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    return str(error.get("message") or exc.message)


def _dump(obj: Any) -> dict[str, Any]:
    return obj.model_dump(exclude_none=True, mode="json") if hasattr(obj, "model_dump") else dict(obj)


def _live(items: Any, name: str) -> list[Any]:
    return [item for item in items if item.name == name and getattr(item, "archived_at", None) is None]


class AnthropicSetup:
    """One run against one organization. ``client``: an SDK client (tests pass one); else built from the file."""

    def __init__(self, config: AnthropicConfig, *, admin_token: str | None = None, client: Any = None) -> None:
        self.config = config
        if client is None:
            from ..sdk import admin_client

            client = admin_client(base_url=config.base_url, admin_token=admin_token or admin_token_from_env(),
                                  verify=str(config.ca_bundle) if config.ca_bundle else True)
        self.client = client
        self.org = client.organization

    # --- reading ------------------------------------------------------------------------------

    def _one(self, kind: str, found: list[Any], name: str) -> Any:
        if len(found) > 1:
            ids = ", ".join(f.id for f in found)
            raise ConfigurationError(f"{len(found)} live {kind}s are named {name!r} ({ids}); setup cannot tell which "
                                     "is yours", hint=f"archive all but one of them, or give the {kind} another name")
        return found[0] if found else None

    def organization_id(self) -> str:
        info = self.org.retrieve()
        wanted = self.config.organization_id
        if wanted and wanted != info.id:
            raise ConfigurationError(
                f"the admin token belongs to organization {info.id}, but {self.config.source} names {wanted}",
                hint="use an org:admin token of the organization in the file, or fix organization_id")
        return str(info.id)

    def default_workspace_id(self) -> str:
        """The org's default workspace: listed with ``include_default`` and not without it."""
        everything = {w.id for w in self.org.workspaces.list(include_default=True, limit=1000)}
        others = {w.id for w in self.org.workspaces.list(limit=1000)}
        found = everything - others
        if len(found) != 1:
            raise ProviderError("cannot tell the organization's default workspace from the workspace list",
                                status=200, hint="set workspace_id in [anthropic.rule] to a wrkspc_… id instead")
        return found.pop()

    # --- the run ------------------------------------------------------------------------------

    def run(self, *, dry_run: bool = False) -> Plan:
        """Create or update everything the file describes (``dry_run``: only say what would change).

        A real run plans first, so a conflict it cannot resolve (a rule under another issuer, two objects
        of one name) stops it before the first write rather than halfway.
        """
        if not dry_run:
            self._plan(dry_run=True)
        return self._plan(dry_run=dry_run)

    def _plan(self, *, dry_run: bool) -> Plan:
        cfg = self.config
        plan = Plan(f"Anthropic setup from {cfg.source.name}", dry_run)
        with admin_errors(cfg.base_url):
            org_id = self.organization_id()
            issuer_id = self._issuer(plan, dry_run)
            account_id = self._service_account(plan, dry_run)
            workspace = self._workspace()
            if workspace is not None and workspace != "default":
                self._membership(plan, dry_run, account_id, workspace)
            rule_id = self._rule(plan, dry_run, issuer_id, account_id, workspace)
        plan.values = {"organization_id": org_id, "federation_issuer_id": issuer_id,
                       "service_account_id": account_id, "federation_rule_id": rule_id}
        if cfg.rule.workspace_id:
            plan.values["workspace_id"] = cfg.rule.workspace_id
        self._outputs(plan, dry_run)
        return plan

    def _workspace(self) -> str | None:
        """The rule's workspace id as the API stores it ("default" resolved), or None (not managed)."""
        ref = self.config.rule.workspace_id
        if ref is None:
            return None
        if ref == "default":
            return "default"
        return ref

    def _apply(self, dry_run: bool, action: Callable[[], Any]) -> Any:
        return None if dry_run else action()

    def _issuer(self, plan: Plan, dry_run: bool) -> str:
        spec = self.config.issuer
        issuers = self.org.federation.issuers
        found = self._one("federation issuer", _live(issuers.list(limit=100), spec.name), spec.name)
        wanted = {"issuer_url": spec.issuer_url, **spec.managed}
        if found is None:
            step = plan.add(Step("federation issuer", spec.name, CREATE, diff({}, wanted)))
            made = self._apply(dry_run, lambda: issuers.create(name=spec.name, **wanted))
            step.object_id = made.id if made is not None else None
            return step.object_id or NEW
        changes = diff(_dump(found), wanted)
        changed = {c.field.split(".")[0] for c in changes}
        step = plan.add(Step("federation issuer", spec.name, UPDATE if changes else UNCHANGED, changes, found.id))
        if changes:
            self._apply(dry_run, lambda: issuers.update(found.id, **{k: wanted[k] for k in changed}))
        return str(found.id)

    def _service_account(self, plan: Plan, dry_run: bool) -> str:
        spec = self.config.service_account
        accounts = self.org.service_accounts
        found = self._one("service account", _live(accounts.list(limit=100), spec.name), spec.name)
        if found is None:
            step = plan.add(Step("service account", spec.name, CREATE, diff({}, spec.managed)))
            made = self._apply(dry_run, lambda: accounts.create(name=spec.name, **spec.managed))
            step.object_id = made.id if made is not None else None
            return step.object_id or NEW
        changes = diff(_dump(found), spec.managed)
        plan.add(Step("service account", spec.name, UPDATE if changes else UNCHANGED, changes, found.id))
        if changes:
            self._apply(dry_run, lambda: accounts.update(found.id, **spec.managed))
        return str(found.id)

    def _membership(self, plan: Plan, dry_run: bool, account_id: str, workspace_id: str) -> None:
        """A rule bound to a non-default workspace needs its service account to be a member of it."""
        role = self.config.service_account.workspace_role
        name = f"{self.config.service_account.name} in {workspace_id}"
        members = [] if account_id == NEW else list(self.org.service_accounts.workspaces.list(account_id))
        found = next((m for m in members if m.workspace_id == workspace_id), None)
        if found is None:
            plan.add(Step("workspace membership", name, CREATE, [FieldChange("workspace_role", None, role)]))
            self._apply(dry_run, lambda: self.org.service_accounts.workspaces.add(
                account_id, workspace_id=workspace_id, workspace_role=role))
        elif found.workspace_role != role:
            plan.add(Step("workspace membership", name, UPDATE,
                          [FieldChange("workspace_role", found.workspace_role, role)]))
            self._apply(dry_run, lambda: self.org.workspaces.service_accounts.update(
                account_id, workspace_id=workspace_id, workspace_role=role))
        else:
            plan.add(Step("workspace membership", name, UNCHANGED))

    def _rule(self, plan: Plan, dry_run: bool, issuer_id: str, account_id: str, workspace: str | None) -> str:
        spec = self.config.rule
        rules = self.org.federation.rules
        found = self._one("federation rule", _live(rules.list(limit=100), spec.name), spec.name)
        wanted: dict[str, Any] = {"match": spec.match, "oauth_scope": spec.oauth_scope,
                                  "target": {"service_account_id": account_id}, **spec.managed}
        if found is None:
            shown = {"issuer_id": issuer_id, **wanted, **({"workspace_id": workspace} if workspace else {})}
            step = plan.add(Step("federation rule", spec.name, CREATE, diff({}, shown)))
            target = {"type": "service_account", "service_account_id": account_id}
            extra = {"workspace_id": workspace} if workspace else {}
            made = self._apply(dry_run, lambda: rules.create(name=spec.name, issuer_id=issuer_id, **{
                **wanted, "target": target}, **extra))
            step.object_id = made.id if made is not None else None
            return step.object_id or NEW
        if found.issuer_id != issuer_id:
            raise ConfigurationError(
                f"the federation rule {spec.name!r} ({found.id}) belongs to issuer {found.issuer_id}, not to "
                f"{self.config.issuer.name!r} ({issuer_id}); a rule's issuer cannot change",
                hint="archive that rule (`wif-lab setup anthropic FILE --archive` with the old file) or give the rule "
                     "another name")
        current = _dump(found)
        current["target"] = {"service_account_id": found.target.service_account_id}
        changes = diff(current, wanted)
        update = {k: wanted[k] for k in {c.field.split(".")[0] for c in changes}}
        if "target" in update:
            update["target"] = {"type": "service_account", "service_account_id": account_id}
        if workspace is not None:
            have = list(found.workspace_ids or [])
            resolved = self.default_workspace_id() if workspace == "default" else workspace
            if have != [resolved]:
                changes.append(FieldChange("workspace_ids", have, [resolved]))
                update["workspace_id"] = workspace
        step = plan.add(Step("federation rule", spec.name, UPDATE if changes else UNCHANGED, changes, found.id))
        if update:
            self._apply(dry_run, lambda: rules.update(found.id, **update))
        return str(step.object_id)

    # --- what the workload reads ----------------------------------------------------------------

    def _outputs(self, plan: Plan, dry_run: bool) -> None:
        out, values = self.config.output, plan.values
        if self.config.base_url != DEFAULT_BASE_URL:
            values["base_url"] = self.config.base_url
        if out.env_file is not None:
            step = plan.add(env_file_step(out.env_file, values, out.identity_token_file))
            if not dry_run and step.action != UNCHANGED:
                write_env_file(out.env_file, values, out.identity_token_file, source=self.config.source)
        if out.profile is not None:
            step = plan.add(profile_step(out.profile, out.profile_dir, values, out.identity_token_file))
            if not dry_run and step.action != UNCHANGED:
                write_profile(out.profile, out.profile_dir, values, out.identity_token_file)

    # --- clean up -----------------------------------------------------------------------------

    def archive(self, *, dry_run: bool = False) -> Plan:
        """Archive the file's rule, then its issuer, then its service account (the order the API allows).

        An issuer or service account that another live rule still uses is left alone and said so.
        """
        cfg = self.config
        plan = Plan(f"Anthropic clean-up from {cfg.source.name}", dry_run)
        fed, accounts = self.org.federation, self.org.service_accounts
        with admin_errors(cfg.base_url):
            self.organization_id()
            rule = self._one("federation rule", _live(fed.rules.list(limit=100), cfg.rule.name), cfg.rule.name)
            issuer = self._one("federation issuer", _live(fed.issuers.list(limit=100), cfg.issuer.name),
                               cfg.issuer.name)
            account = self._one("service account", _live(accounts.list(limit=100), cfg.service_account.name),
                                cfg.service_account.name)
            others = [r for r in fed.rules.list(limit=100) if rule is None or r.id != rule.id]
            for kind, obj, archive, users in (
                ("federation rule", rule, fed.rules.archive, []),
                ("federation issuer", issuer, fed.issuers.archive,
                 [r for r in others if issuer is not None and r.issuer_id == issuer.id]),
                ("service account", account, accounts.archive,
                 [r for r in others if account is not None and r.target.service_account_id == account.id]),
            ):
                name = {"federation rule": cfg.rule.name, "federation issuer": cfg.issuer.name,
                        "service account": cfg.service_account.name}[kind]
                if obj is None:
                    plan.add(Step(kind, name, ABSENT))
                elif users:
                    kept = ", ".join(f"{r.name} ({r.id})" for r in users)
                    plan.add(Step(kind, name, UNCHANGED, [FieldChange("kept: still used by", None, kept)], obj.id))
                else:
                    plan.add(Step(kind, name, ARCHIVE, [], obj.id))
                    self._apply(dry_run, lambda archive=archive, obj=obj: archive(obj.id))
        return plan
