"""Lab-only routes of the cluster (no real API server has them): the look-alike workloads notebook 03 shows.

A scenario changes the lab only through routes like these, so it works the same against an embedded lab and
against `wif-lab mock serve` (style guide §6). ``PUT /lab/pods/{namespace}/{name}`` runs a pod as that service
account, creating the account (annotated with ``client_id``) on first use and finding both afterwards: create-or-
get under one lock. ``POST /lab/tokens`` mints a projected token for a running pod's account as the API server
would have ``age_seconds`` ago (a copy someone took and never re-read). Like ``/lab/rotate``, they take no
credentials: the cluster is a lab's, on the lab's own address.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..errors import MockRefusal

if TYPE_CHECKING:
    from .cluster import KubernetesMock, Pod

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")  # what Kubernetes accepts as a namespace or name


def _refused(message: str, status: int = 400) -> MockRefusal:
    return MockRefusal(status, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                                "code": status})


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise _refused("the body is not JSON") from None
    if not isinstance(body, dict):
        raise _refused("the body must be a JSON object")
    return body


def pod_json(pod: Pod) -> dict[str, Any]:
    sa = pod.service_account
    return {"namespace": sa.namespace, "service_account": sa.name, "subject": sa.subject, "pod": pod.name,
            "client_id": sa.client_id, "token_files": {name: str(v.path) for name, v in pod.volumes.items()}}


def lab_routes(cluster: KubernetesMock) -> list[Route]:
    lock = threading.Lock()

    async def put_pod(request: Request) -> JSONResponse:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        for value in (namespace, name):
            if not DNS_LABEL.fullmatch(value):
                raise _refused(f"{value!r}: a lowercase RFC 1123 label (a-z, 0-9, '-'), at most 63 characters")
        client_id = (await _body(request)).get("client_id")
        if client_id is not None and not isinstance(client_id, str):
            raise _refused("client_id: a string (the identity's client ID) or absent")
        with lock:
            try:
                pod = cluster.pod(namespace, name)
            except KeyError:
                try:
                    account = cluster.service_account(namespace, name)
                except KeyError:
                    account = cluster.add_service_account(namespace, name, client_id=client_id)
                pod = cluster.deploy(account)
        return JSONResponse(pod_json(pod))

    async def get_pod(request: Request) -> JSONResponse:
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
    ]
