"""Lab-only route of the Okta mock (no real org has it): a workshop attendee's own service apps.

On a shared lab every attendee needs apps of their own, or one attendee's token would pass another's
rule. ``PUT /lab/attendees/{name}`` creates the attendee's three API Services apps (the workload, a
second workload, and one left at Okta's defaults with DPoP required) the first time, or finds them, and
registers the public keys the attendee sent: the private keys never leave the attendee's kernel. The
lookup and the creation happen under one lock, so two kernels of the same attendee get the same apps.
It takes the Management API's SSWS token, as an admin creating the apps in the console would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import errors as E
from .console import ServiceApp
from .management import Refused, _json_body

if TYPE_CHECKING:
    from .service import OktaMock

LAB_POLICY = "Anthropic workloads"  # the lab server's access policy (service.py sets it up)
ATTENDEE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
APP_ROLES = ("workload", "second_app", "new_app")  # the connection file's names for the three apps
_PROFILES = {"workload": "wif-lab-pipeline", "second_app": "wif-lab-other", "new_app": "wif-lab-new"}


@dataclass
class AttendeeApps:
    workload: ServiceApp
    second_app: ServiceApp
    new_app: ServiceApp

    def app(self, role: str) -> ServiceApp:
        return getattr(self, role)  # type: ignore[no-any-return]


class Attendees:
    """Each attendee's apps, made on first join and found on every later one."""

    def __init__(self, org: OktaMock) -> None:
        self.org = org
        self.apps: dict[str, AttendeeApps] = {}
        self._lock = threading.Lock()

    def join(self, name: str, keys: dict[str, dict[str, Any]]) -> dict[str, Any]:
        org = self.org
        with self._lock:
            apps = self.apps.get(name)
            if apps is None:
                made = {role: org.create_service_app(f"{name} {role.replace('_', ' ')}",
                                                     profile={"workload": _PROFILES[role], "attendee": name},
                                                     require_dpop=role == "new_app")
                        for role in APP_ROLES}
                apps = AttendeeApps(**made)
                if org.workload_app is None or org.lab_server is None:
                    raise Refused(E.api_error(404, "E0000007", "Not found: the lab scenario (started without it)"))
                apps.workload.grant_okta_api_scopes(*org.workload_app.okta_api_scopes)
                policy = org.lab_server.policy(LAB_POLICY)
                if policy is not None and policy.clients is not None:  # assigned to the listed apps: add these
                    policy.clients.extend(app.client_id for app in made.values())
                self.apps[name] = apps
            section: dict[str, Any] = {}
            for role in APP_ROLES:
                app = apps.app(role)
                jwk = keys[role]
                kid = jwk.get("kid") or thumbprint_of(jwk)
                if not any(k["kid"] == kid for k in app.jwks):  # the same key again (another kernel): kept as is
                    app.add_public_key({**jwk, "kid": kid})
                entry = {"client_id": app.client_id, "key_id": kid}
                if role == "new_app":
                    entry["require_dpop"] = app.require_dpop
                section[role] = entry
        return section


def thumbprint_of(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint: the same public key always gets the same kid, so joining twice changes nothing."""
    members = ("e", "kty", "n") if jwk.get("kty") == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({k: jwk[k] for k in members}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _checked_keys(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    keys = body.get("keys")
    if not isinstance(keys, dict) or set(keys) != set(APP_ROLES):
        raise Refused(E.api_error(400, "E0000001", "Api validation failed: keys",
                                  [f"keys: one public JWK for each of {', '.join(APP_ROLES)}"]))
    for role, jwk in keys.items():
        probe = ServiceApp("probe", "probe", "private_key_jwt")
        try:
            if not isinstance(jwk, dict):
                raise ValueError("a JSON object")
            probe.add_public_key(jwk)
            thumbprint_of(jwk)
        except (ValueError, TypeError, KeyError) as exc:
            raise Refused(E.api_error(400, "E0000001", "Api validation failed: keys",
                                      [f"keys.{role}: {exc}"])) from None
    return keys


def attendee_routes(org: OktaMock) -> list[Route]:
    attendees = Attendees(org)

    async def join(request: Request) -> Response:
        try:
            org.management._caller(request)
            name = request.path_params["name"]
            if not ATTENDEE_NAME.fullmatch(name):
                raise Refused(E.api_error(400, "E0000001", "Api validation failed: name",
                                          ["name: 1 to 32 characters a-z, 0-9 and '-', starting with a letter "
                                           "or digit"]))
            keys = _checked_keys(await _json_body(request))
            return JSONResponse(attendees.join(name, keys))
        except Refused as refused:
            return refused.response

    return [Route("/lab/attendees/{name}", join, methods=["PUT"])]
