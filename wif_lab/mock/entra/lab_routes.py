"""Lab-only routes of the tenant (Entra has no such API; a real admin uses `az identity federated-credential`
and the sign-in logs): what notebook 03's look-alike workloads need, so its set-up works against an attached lab.

``PUT /lab/identities/{identity}/federated_credentials/{name}`` adds a federated credential the first time and
returns the existing one afterwards, also one trusting the same issuer and subject under another name
(create-or-get under the tenant's lock). ``GET /lab/federated_requests``
is the sign-in log of the federated token endpoint, newest first: which assertion each request presented and
what Entra answered; ``?client_id=`` keeps one identity's requests (on a shared lab, an attendee's own).
Like the cluster's lab routes, they take no credentials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..errors import MockRefusal
from ..inbound import Rejected, json_object

if TYPE_CHECKING:
    from .service import EntraMock


def _refused(message: str, status: int = 400) -> MockRefusal:
    return MockRefusal(status, {"error": {"code": "BadRequest" if status == 400 else "NotFound", "message": message}})


def lab_routes(entra: EntraMock) -> list[Route]:
    async def put_credential(request: Request) -> JSONResponse:
        identity, name = request.path_params["identity"], request.path_params["name"]
        try:
            body = await json_object(request)  # strict: nothing that cannot be serialised is stored
        except Rejected as exc:
            raise _refused(exc.reason) from None
        if not all(isinstance(body.get(k), str) for k in ("issuer", "subject")):
            raise _refused("issuer and subject: required strings")
        with entra._lock:  # reentrant: add_federated_credential takes it again
            try:
                wanted = (body["issuer"], body["subject"])  # the same trust under another name is found too
                found = next((f for f in entra.federated_credentials(identity)
                              if f.name == name or (f.issuer, f.subject) == wanted), None)
                fic = found or entra.add_federated_credential(identity, name=name, issuer=body["issuer"],
                                                              subject=body["subject"])
            except KeyError:
                raise _refused(f"no managed identity {identity!r} in this tenant", 404) from None
            except ValueError as exc:
                raise _refused(str(exc)) from None
        return JSONResponse(fic.summary())

    async def federated_requests(request: Request) -> JSONResponse:
        raw = request.query_params.get("limit", "20")
        if not raw.isdigit():
            raise _refused("limit: an integer")
        client_id = request.query_params.get("client_id", "").strip().lower()
        with entra._lock:
            seen = [r for r in entra.federated_requests if not client_id or str(r.client_id).lower() == client_id]
        seen = seen[-max(1, min(256, int(raw))):]
        return JSONResponse({"data": [_request_json(r) for r in reversed(seen)]})

    return [
        Route("/lab/identities/{identity}/federated_credentials/{name}", put_credential, methods=["PUT"]),
        Route("/lab/federated_requests", federated_requests, methods=["GET"]),
    ]


def _request_json(seen: Any) -> dict[str, Any]:
    return {"at": seen.at, "client_id": seen.client_id, "claims": seen.claims, "issued": seen.issued,
            "error_code": seen.error_code}
