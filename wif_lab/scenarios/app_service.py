"""The same workload code on App Service, Azure Functions and Container Apps: the lab's app, the two
managed-identity endpoints side by side, and what a stray ``IDENTITY_ENDPOINT`` does to
``azure-identity``'s choice of endpoint.

The trials run the real ``ManagedIdentityCredential`` in this process under a temporary environment (the
platform's variables set or cleared, everything else that could steer it removed) and report what it
chose, which endpoint it asked and what came back, as a table: never an exception. Steps that need the
lab's identity endpoint are skipped in live mode (the notebook then runs on a VM, where there is none).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..difference import mark_values
from ..display import ShownAsTable, Table
from ..environ import variables
from ..errors import WifLabError
from ..examples import ExampleRun, run
from ..providers.app_service_identity import AppServiceIdentityClient
from ..providers.azure_imds import HOST_ENV as IMDS_HOST_ENV
from ..providers.azure_imds import ImdsClient
from ..redact import Secret, redact, redact_text
from ..runbook import Note, Runbook, Settings

APP_IDENTITY = "claude-inference"  # the user-assigned identity the lab's app (and the VM) carry
LEFTOVER_ENDPOINT = "http://localhost:8081/msi/token"  # what an App Service sets; copied into a VM's config
# Variables that steer ManagedIdentityCredential to one path or another (azure.md §1.1), cleared for a trial.
STEERING = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT",
            "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "AZURE_TENANT_ID", "AZURE_CLIENT_ID",
            "AZURE_POD_IDENTITY_AUTHORITY_HOST")
_LOGGER = "azure.identity"  # the credential logs its choice here; its warnings would land on stderr


def _live_note(what: str) -> Note:
    return Note(f"live mode: skipped {what}, which needs the lab's App Service identity endpoint (live, this "
                "notebook runs on a VM). On App Service, Functions or Container Apps the same code runs unchanged: "
                "the platform sets IDENTITY_ENDPOINT and IDENTITY_HEADER.")


def app_settings(rb: Runbook) -> Settings | Note:
    """The lab's app: its identity endpoint and header (what the platform would set), the audience, and
    the client ID of its user-assigned identity (the app has no system-assigned one)."""
    if rb.lab is None:
        return _live_note("the app's settings")
    section = rb.lab.section("app_service")
    chosen = next(i for i in section["identities"] if i["name"] == rb.object_name(APP_IDENTITY))
    return Settings({"resource": section["resource"], "client_id": chosen["client_id"],
                     "identity_endpoint": section["identity_endpoint"], "identity_header": section["identity_header"]})


def compare_endpoints(rb: Runbook, azure: Mapping[str, Any], app: Mapping[str, Any] | Note) -> Table | Note:
    """Ask IMDS (as the VM) and the identity endpoint (as the app) for the same identity and audience:
    the requests differ, the tokens' claims do not."""
    if rb.lab is None or isinstance(app, Note):
        return _live_note("this comparison")
    vm = ImdsClient(app["resource"], base_url=azure["imds_url"], client_id=app["client_id"])
    hosted = AppServiceIdentityClient(app["resource"], endpoint=app["identity_endpoint"],
                                      header=app["identity_header"], client_id=app["client_id"])
    vm_claims, hosted_claims = vm.get_token().claims(), hosted.get_token().claims()
    rows: list[tuple[Any, ...]] = [
        ("asks", f"GET {vm.token_url}", f"GET {hosted.endpoint}", "differs"),
        ("proves the request is local with", "header Metadata: true",
         f"header X-IDENTITY-HEADER: {redact(app['identity_header'])}", "differs"),
        ("api-version", "2018-02-01", "2019-08-01", "differs"),
        ("names the identity with", f"client_id={app['client_id']}", f"client_id={app['client_id']}", "same"),
        ("answers with", "access_token, expires_in, expires_on, not_before, …", "access_token, expires_on, …",
         "differs"),
    ]
    for claim in ("iss", "aud", "oid", "azp", "tid", "ver"):
        a, b = str(vm_claims.get(claim)), str(hosted_claims.get(claim))
        rows.append((f"token {claim}", *mark_values(a, b), "same" if a == b else "differs"))
    return Table("The same identity asked on a VM and on App Service", ["", "VM (IMDS)", "App Service / Functions / "
                                                                        "Container Apps", ""], rows)


def register_app_rule(rb: Runbook, app: Mapping[str, Any] | Note, *, issuer: Any, service_account: Any,
                      audience: str, tenant_id: str) -> Any:
    """A rule (lab only) pinning the app's identity: the VM workload's rule pins the VM's own identity."""
    if rb.lab is None or isinstance(app, Note):
        print(_live_note("the app's rule").text)
        return None
    identity = next(i for i in rb.lab.section("app_service")["identities"] if i["client_id"] == app["client_id"])
    return rb.register_rule(name="azure-app-service", issuer=issuer, service_account=service_account, lab_only=True,
                            match={"audience": audience, "claims": {"oid": identity["object_id"], "tid": tenant_id}},
                            token_lifetime_seconds=600)


def run_example(rb: Runbook, name: str, app: Mapping[str, Any] | Note, *, rule: Any) -> ExampleRun | Note:
    """``examples/<name>`` as deployed on the lab's app: the platform's variables, the app's identity."""
    if rb.lab is None or isinstance(app, Note) or rule is None:
        return _live_note(f"running examples/{name} on App Service")
    return run(name, rb, settings=app, rule=rule)


# --- what a stray IDENTITY_ENDPOINT does -----------------------------------------------------------------


@dataclass(repr=False)
class Trial(ShownAsTable):
    """One run of ``ManagedIdentityCredential`` under a given environment: what it chose and what came back."""

    case: str
    variables: str
    chose: str = "nothing: no managed identity endpoint found"
    asked: list[str] = field(default_factory=list)
    token: Secret | None = None
    error: WifLabError | None = None

    @property
    def accepted(self) -> bool:
        return self.token is not None

    def row(self) -> tuple[Any, ...]:
        outcome = "token" if self.token is not None else "refused"
        detail = redact(self.token, short=True) if self.token is not None else getattr(self.error, "message", "")
        return (self.case, self.variables, self.chose, "\n".join(self.asked) or "none", outcome, detail,
                self.error.hint if self.error is not None else "")

    def table(self) -> Table:
        return trials_table([self])


def trials_table(trials: list[Trial], title: str = "ManagedIdentityCredential under each environment") -> Table:
    return Table(title, ["case", "variables set", "azure-identity chose", "requests sent", "outcome", "detail",
                         "check next"], [t.row() for t in trials])


@dataclass(repr=False)
class Trials(ShownAsTable):
    """Several trials, shown as one table; ``by_case`` for tests and later cells."""

    trials: list[Trial]

    def by_case(self, case: str) -> Trial:
        return next(t for t in self.trials if t.case == case)

    def table(self) -> Table:
        return trials_table(self.trials)


class _ChoiceLog(logging.Handler):
    """azure-identity logs which managed-identity path a new credential uses ("… will use App Service …");
    its failure warnings are kept here too, instead of reaching the notebook's stderr."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.choice: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if " will use " in message:
            self.choice = message.split(" will use ", 1)[1].split(" with ", 1)[0]


@contextmanager
def _choice_log() -> Iterator[_ChoiceLog]:
    logger = logging.getLogger(_LOGGER)
    handler, level, propagate = _ChoiceLog(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Exactly ``values`` among the steering variables for the duration (plus loopback in NO_PROXY)."""
    loopback = "127.0.0.1,localhost"
    no_proxy = {name: f"{os.environ[name]},{loopback}" if os.environ.get(name) else loopback
                for name in ("NO_PROXY", "no_proxy")}
    with variables({**values, **no_proxy}, clear=STEERING):
        yield


_HINTS = {
    "no managed identity endpoint found": ("IDENTITY_ENDPOINT is set without IDENTITY_HEADER, so azure-identity "
                                           "never tries IMDS: remove the stray variable from the VM's environment "
                                           "(image, .env, systemd unit)"),
    "401": ("the identity endpoint refused the header: IDENTITY_HEADER is the platform's rotating secret; read both "
            "variables from the environment the platform sets, never copy them"),
    "Unable to load the proper Managed Identity": ("unlike IMDS, the endpoint does not fall back to a lone "
                                                   "user-assigned identity: set AZURE_CLIENT_ID (client_id=)"),
}


def _error(exc: Exception) -> WifLabError:
    text = redact_text(str(exc).splitlines()[0])
    hint = next((h for key, h in _HINTS.items() if key.lower() in text.lower()), "the credential's message")
    return WifLabError(text, hint=hint)


def try_credential(case: str, variables: Mapping[str, str], *, scope: str, client_id: str | None) -> Trial:
    """Build ``ManagedIdentityCredential`` under ``variables`` and ask it for ``scope``; never raises."""
    from azure.core.exceptions import AzureError
    from azure.identity import ManagedIdentityCredential

    shown = ", ".join(f"{k} (stale)" if k == "IDENTITY_HEADER" and v.startswith("stale") else k
                      for k, v in variables.items()) or "none"
    trial = Trial(case, shown)

    def record(request: Any) -> None:
        url = urlsplit(request.http_request.url)
        trial.asked.append(f"{request.http_request.method} {url.scheme}://{url.netloc}{url.path}")

    with _choice_log() as log:
        try:
            with _environment(variables):
                credential = ManagedIdentityCredential(client_id=client_id or None, raw_request_hook=record)
                trial.token = Secret(credential.get_token(scope).token)
        except (AzureError, ValueError) as exc:
            trial.error = _error(exc)
    if log.choice:
        trial.chose = log.choice
    return trial


def stray_endpoint_trials(rb: Runbook, azure: Mapping[str, Any], app: Mapping[str, Any] | Note) -> Trials:
    """The credential on a VM as deployed, with a leftover ``IDENTITY_ENDPOINT``, with a stale header, and
    on App Service without and with the identity's client ID (the last three in the lab only)."""
    scope = azure["resource"].rstrip("/") + "/.default"
    imds = azure.get("imds_url") or os.environ.get(IMDS_HOST_ENV)  # as ImdsClient and azure-identity find IMDS
    vm: dict[str, str] = {IMDS_HOST_ENV: imds} if imds else {}
    client_id = azure.get("client_id") or None
    trials = [
        try_credential("a VM, as deployed", vm, scope=scope, client_id=client_id),
        try_credential("a VM with a leftover IDENTITY_ENDPOINT", {**vm, "IDENTITY_ENDPOINT": LEFTOVER_ENDPOINT},
                       scope=scope, client_id=client_id),
    ]
    if rb.lab is None or isinstance(app, Note):
        print(_live_note("the App Service cases").text)
        return Trials(trials)
    platform = {"IDENTITY_ENDPOINT": app["identity_endpoint"], "IDENTITY_HEADER": app["identity_header"]}
    trials += [
        try_credential("a VM with both variables copied from an app", {
            **vm, "IDENTITY_ENDPOINT": app["identity_endpoint"], "IDENTITY_HEADER": "stale-copied-from-an-app"},
            scope=scope, client_id=app["client_id"]),
        try_credential("App Service, no client_id", {**vm, **platform}, scope=scope, client_id=None),
        try_credential("App Service, client_id of its identity", {**vm, **platform}, scope=scope,
                       client_id=app["client_id"]),
    ]
    return Trials(trials)
