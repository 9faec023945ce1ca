"""Lab-only routes of the cluster (no real API server has them): the look-alike workloads notebook 03 shows.

A scenario changes the lab only through routes like these, so it works the same against an embedded lab and
against `wif-lab mock serve` (style guide §6). ``PUT /lab/pods/{namespace}/{name}`` runs a pod as that service
account, creating the account (annotated with ``client_id``) on first use and finding both afterwards: create-or-
get under one lock. ``POST /lab/tokens`` mints a projected token for a running pod's account as the API server
would have ``age_seconds`` ago (a copy someone took and never re-read). Like ``/lab/rotate``, they take no
credentials: the cluster is a lab's, on the lab's own address.

On a shared lab each attendee works in namespaces of their own, ``<attendee>-<namespace>``: ``PUT
/lab/attendees/{attendee}`` runs the attendee's copy of the guide's pod (``<attendee>-inference/claude-inference``,
annotated with the client ID the body names) and answers with their ``aks`` section; under
``/lab/attendees/{attendee}/`` the ``pods`` routes act only in the attendee's namespaces, and ``rotate`` refreshes
only the attendee's pods, so one attendee's rotation never changes another's token files.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..base import ATTENDEE_NAME
from ..errors import MockRefusal
from ..inbound import Rejected, json_object

if TYPE_CHECKING:
    from .cluster import KubernetesMock, Pod, ServiceAccount

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")  # what Kubernetes accepts as a namespace or name


def _refused(message: str, status: int = 400) -> MockRefusal:
    return MockRefusal(status, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                                "code": status})


async def _body(request: Request) -> dict[str, Any]:
    """A JSON object, read strictly: nothing a later answer could not serialise reaches an account or a token."""
    try:
        return await json_object(request)
    except Rejected as exc:
        raise _refused(exc.reason) from None


def pod_json(pod: Pod) -> dict[str, Any]:
    sa = pod.service_account
    return {"namespace": sa.namespace, "service_account": sa.name, "subject": sa.subject, "pod": pod.name,
            "client_id": sa.client_id, "token_files": {name: str(v.path) for name, v in pod.volumes.items()}}


def _attendee(request: Request) -> str | None:
    attendee = request.path_params.get("attendee")
    if attendee is not None and not ATTENDEE_NAME.fullmatch(attendee):
        raise _refused("attendee: 1 to 32 characters a-z, 0-9 and '-', starting with a letter or digit")
    return attendee  # type: ignore[no-any-return]


async def _client_id(request: Request) -> str | None:
    client_id = (await _body(request)).get("client_id")
    if client_id is not None and not isinstance(client_id, str):
        raise _refused("client_id: a string (the identity's client ID) or absent")
    return client_id  # type: ignore[no-any-return]


def lab_routes(cluster: KubernetesMock) -> list[Route]:
    lock = threading.Lock()

    def running(namespace: str, name: str, client_id: str | None, attendee: str | None) -> Pod:
        """The pod running as ``namespace/name``, created (with its account) the first time: one lock for both."""
        for value in (namespace, name):
            if not DNS_LABEL.fullmatch(value):
                raise _refused(f"{value!r}: a lowercase RFC 1123 label (a-z, 0-9, '-'), at most 63 characters")
        with lock:
            if attendee is not None:
                try:
                    cluster.claim(namespace, attendee)
                except ValueError as exc:
                    raise _refused(str(exc), 403) from None
            try:
                return cluster.pod(namespace, name)
            except KeyError:
                account: ServiceAccount
                try:
                    account = cluster.service_account(namespace, name)
                except KeyError:
                    account = cluster.add_service_account(namespace, name, client_id=client_id)
                return cluster.deploy(account)

    async def put_pod(request: Request) -> JSONResponse:
        attendee = _attendee(request)
        pod = running(request.path_params["namespace"], request.path_params["name"], await _client_id(request),
                      attendee)
        return JSONResponse(pod_json(pod))

    async def join(request: Request) -> JSONResponse:
        """The attendee's copy of the guide's pod, as their ``aks`` connection section."""
        attendee = _attendee(request)
        assert attendee is not None
        default = cluster.default_pod.service_account
        pod = running(f"{attendee}-{default.namespace}", default.name, await _client_id(request), attendee)
        return JSONResponse(cluster.connection(pod, attendee=attendee))

    async def get_pod(request: Request) -> JSONResponse:
        _attendee(request)
        try:
            pod = cluster.pod(request.path_params["namespace"], request.path_params["name"])
        except KeyError:
            raise _refused("no pod runs as this service account", 404) from None
        return JSONResponse(pod_json(pod))

    async def mint(request: Request) -> JSONResponse:
        body = await _body(request)
        namespace, name, audience = body.get("namespace"), body.get("service_account"), body.get("audience")
        age = body.get("age_seconds", 0)
        if not all(isinstance(v, str) and v for v in (namespace, name, audience)):
            raise _refused("namespace, service_account and audience: required strings")
        if not isinstance(age, int) or isinstance(age, bool) or not 0 <= age <= 7 * 86400:
            raise _refused("age_seconds: an integer from 0 to 604800")
        try:
            pod = cluster.pod(namespace, name)
        except KeyError:
            raise _refused(f"no pod runs as {namespace}/{name}", 404) from None
        token = cluster.mint(pod.service_account, audience, pod=pod, now=cluster.ctx.clock() - age)
        return JSONResponse({"token": token})

    return [
        Route("/lab/pods/{namespace}/{name}", put_pod, methods=["PUT"]),
        Route("/lab/pods/{namespace}/{name}", get_pod, methods=["GET"]),
        Route("/lab/tokens", mint, methods=["POST"]),
        Route("/lab/attendees/{attendee}", join, methods=["PUT"]),
        Route("/lab/attendees/{attendee}/pods/{namespace}/{name}", put_pod, methods=["PUT"]),
        Route("/lab/attendees/{attendee}/pods/{namespace}/{name}", get_pod, methods=["GET"]),
        Route("/lab/attendees/{attendee}/rotate", cluster.lab_rotate, methods=["POST"]),
    ]
