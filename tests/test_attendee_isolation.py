"""A shared lab's attendees, in-process: each gets their own VM (IMDS), App Service app and cluster namespaces, so
one attendee's change never reaches another's tokens or objects; joining is create-or-get, also under threads."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from tests._azure_lab import FakeClock, azure_context, build_app_service, build_pair
from wif_lab.mock.aks import aks_cluster
from wif_lab.mock.app_service_identity import AppServiceIdentityMock
from wif_lab.mock.azure_imds import ImdsMock
from wif_lab.mock.entra import EntraMock
from wif_lab.mock.kubernetes import KubernetesMock

K8S_BASE = "https://oic.aks.test"
THREADS = 8


@pytest.fixture
def lab(state_dir: Path) -> tuple[EntraMock, ImdsMock, AppServiceIdentityMock, KubernetesMock]:
    ctx = azure_context(state_dir / "attendees", FakeClock())
    ctx.base_urls["kubernetes"] = K8S_BASE
    ctx.run_dir = state_dir / "attendees" / f"run-{uuid.uuid4().hex[:8]}"
    entra, imds = build_pair(ctx)
    return entra, imds, build_app_service(ctx), aks_cluster(ctx, entra)


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _imds_token(http: TestClient, prefix: str = "", **selector: str) -> dict[str, Any]:
    r = http.get(f"{prefix}/metadata/identity/oauth2/token", headers={"Metadata": "true"},
                 params={"api-version": "2018-02-01", "resource": "https://api.anthropic.com", **selector})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_each_attendee_has_a_vm_of_their_own(lab: Any) -> None:
    entra, imds, _, _ = lab
    http = TestClient(imds.asgi(), base_url="http://imds.test")
    lab_vm = _claims(_imds_token(http)["access_token"])
    alice = http.put("/lab/attendees/alice").json()
    bob = http.put("/lab/attendees/bob").json()
    assert [i["name"] for i in alice["identities"]] == ["alice-wif-lab-vm", "alice-claude-inference",
                                                        "alice-batch-reporting"]
    assert alice["imds_url"] == "http://imds.test/attendees/alice" and alice["resource"] == bob["resource"]
    oids = {who: _claims(_imds_token(http, f"/attendees/{who}")["access_token"])["oid"] for who in ("alice", "bob")}
    system = {i["name"]: i["object_id"] for i in alice["identities"] + bob["identities"]}
    assert oids == {"alice": system["alice-wif-lab-vm"], "bob": system["bob-wif-lab-vm"]}
    assert lab_vm["oid"] == entra.identity("wif-lab-vm").object_id  # the lab's own VM is unchanged
    assert len({lab_vm["oid"], *oids.values()}) == 3
    # The attendee's VM carries only the attendee's identities: another attendee's client id is not found.
    other = bob["identities"][1]["client_id"]
    refused = http.get("/attendees/alice/metadata/identity/oauth2/token", headers={"Metadata": "true"},
                       params={"api-version": "2018-02-01", "resource": "https://api.anthropic.com",
                               "client_id": other})
    assert refused.status_code == 400 and refused.json()["error_description"] == "Identity not found"
    # One attendee's change to their VM (az vm identity remove) leaves the other's alone.
    imds.attendees.get("alice").unassign("alice-batch-reporting")
    assert len(http.put("/lab/attendees/alice").json()["identities"]) == 2
    assert len(http.put("/lab/attendees/bob").json()["identities"]) == 3
    assert http.put("/lab/attendees/bob").json() == bob  # joining again: the same VM, the same identities
    assert http.get("/attendees/nobody/metadata/identity/oauth2/token", headers={"Metadata": "true"}).status_code == 404
    assert http.put("/lab/attendees/Not%20A%20Name").status_code == 400


def test_each_attendee_has_an_app_of_their_own(lab: Any) -> None:
    _, imds, app_service, _ = lab
    http = TestClient(app_service.asgi(), base_url="http://app-service.test")
    alice = http.put("/lab/attendees/alice").json()
    assert [i["name"] for i in alice["identities"]] == ["alice-claude-inference", "alice-batch-reporting"]
    assert alice["identity_endpoint"] == alice["env"]["IDENTITY_ENDPOINT"] == \
        "http://app-service.test/attendees/alice/msi/token"
    mine = alice["identities"][0]
    r = http.get("/attendees/alice/msi/token", headers={"X-IDENTITY-HEADER": alice["identity_header"]},
                 params={"api-version": "2019-08-01", "resource": alice["resource"], "client_id": mine["client_id"]})
    assert r.status_code == 200 and _claims(r.json()["access_token"])["oid"] == mine["object_id"]
    # The same identities as the attendee's VM: created once in the tenant, found by both endpoints.
    vm = TestClient(imds.asgi(), base_url="http://imds.test").put("/lab/attendees/alice").json()
    assert mine in vm["identities"]
    assert http.get("/attendees/bob/msi/token", headers={"X-IDENTITY-HEADER": alice["identity_header"]},
                    params={"api-version": "2019-08-01", "resource": alice["resource"]}).status_code == 404


def test_joining_at_once_creates_one_vm_and_one_set_of_identities(lab: Any) -> None:
    entra, imds, _, _ = lab
    before = len(entra.tenant.identities)
    with ThreadPoolExecutor(THREADS) as pool:
        hosts = list(pool.map(lambda _: imds.attendees.join("carol"), range(THREADS)))
    assert all(host is hosts[0] for host in hosts)
    assert len(entra.tenant.identities) == before + 3


def test_one_attendees_rotation_leaves_anothers_token_files_alone(lab: Any) -> None:
    entra, _, _, cluster = lab
    http = TestClient(cluster.asgi(), base_url=K8S_BASE)
    sections = {}
    for who in ("alice", "bob"):
        client_id = entra.attendee_identities(who)[1].client_id
        sections[who] = http.put(f"/lab/attendees/{who}", json={"client_id": client_id}).json()
    alice, bob = sections["alice"], sections["bob"]
    assert alice["service_account"] == "alice-inference/claude-inference"
    assert alice["subject"] == "system:serviceaccount:alice-inference:claude-inference"
    assert alice["env"]["AZURE_CLIENT_ID"] == entra.identity("alice-claude-inference").client_id
    assert alice["rotate_url"] == f"{K8S_BASE}/lab/attendees/alice/rotate"
    lab_file = cluster.connection()["token_file"]
    before = {path: Path(path).read_text() for path in (alice["token_file"], bob["token_file"], lab_file)}

    rotated = http.post("/lab/attendees/alice/rotate").json()["rotated"]
    assert {v["path"] for v in rotated} == {alice["token_file"], alice["anthropic_token_file"]}
    assert Path(alice["token_file"]).read_text() != before[alice["token_file"]]
    assert Path(bob["token_file"]).read_text() == before[bob["token_file"]]
    assert Path(lab_file).read_text() == before[lab_file]
    # An attendee acts in their own namespaces only.
    assert http.put("/lab/attendees/alice/pods/bob-inference/x", json={}).status_code == 403
    assert http.put("/lab/attendees/alice/pods/inference/x", json={}).status_code == 403
    # Joining again finds the same pod (a restarted kernel keeps its token files).
    again = http.put("/lab/attendees/alice", json={"client_id": alice["env"]["AZURE_CLIENT_ID"]}).json()
    assert (again["pod"], again["token_file"]) == (alice["pod"], alice["token_file"])


def test_concurrent_create_or_get_of_a_pod_yields_one_pod(lab: Any) -> None:
    _, _, _, cluster = lab
    http = TestClient(cluster.asgi(), base_url=K8S_BASE)
    url = "/lab/attendees/dana/pods/dana-inference/claude-batch"
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(lambda _: http.put(url, json={"client_id": "c"}).json(), range(THREADS)))
    assert len({a["pod"] for a in answers}) == 1
    assert len([p for p in cluster.pods() if p.namespace == "dana-inference"]) == 1
    assert http.get(url).json() == answers[0]


def test_the_sign_in_log_is_read_per_identity(lab: Any) -> None:
    entra, _, _, cluster = lab
    http = TestClient(entra.asgi(), base_url="https://entra.test")
    pod = cluster.connection()
    form = {"grant_type": "client_credentials", "client_id": pod["env"]["AZURE_CLIENT_ID"], "scope": pod["scope"],
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": Path(pod["token_file"]).read_text()}
    mine, other = form["client_id"], entra.identity("batch-reporting").client_id
    for client_id in (mine, other):  # the cluster's keys are out of reach here: both are refused, both logged
        http.post(f"/{entra.tenant_id}/oauth2/v2.0/token", data={**form, "client_id": client_id})
    newest = http.get("/lab/federated_requests", params={"limit": 1}).json()["data"]
    assert [r["client_id"] for r in newest] == [other]
    own = http.get("/lab/federated_requests", params={"limit": 5, "client_id": mine.upper()}).json()["data"]
    assert [r["client_id"] for r in own] == [mine]
