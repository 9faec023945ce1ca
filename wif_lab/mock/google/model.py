"""The Google Cloud side of the lab: projects, service accounts, the VMs they are attached to and the
GKE pods bound to them, with IDs shaped as Google's (numeric, seeded so every run shows the same ones).

What the identity token says about a workload comes from here: ``sub``/``azp`` are the service
account's numeric unique ID, ``email`` its address, and ``google.compute_engine`` the VM (or, on GKE,
the node) that asked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def seeded_number(seed: int, label: str, digits: int) -> str:
    """A stable decimal ID of ``digits`` digits (no leading zero) for ``label`` in this lab."""
    value = int.from_bytes(hashlib.sha256(f"{seed}:{label}".encode()).digest()[:16], "big")
    low = 10 ** (digits - 1)
    return str(low + value % (9 * low))


@dataclass(frozen=True)
class ServiceAccount:
    """A Google service account; ``unique_id`` is what tokens carry as ``sub`` and ``azp``."""

    email: str
    unique_id: str
    project_id: str
    user_managed: bool = True  # False for the project's default compute service account


@dataclass(frozen=True)
class Project:
    project_id: str
    project_number: int


@dataclass(frozen=True)
class Instance:
    """A Compute Engine VM (or a GKE node): what ``google.compute_engine`` describes."""

    name: str
    instance_id: str
    zone: str
    project: Project
    creation_timestamp: int


@dataclass(frozen=True)
class Host:
    """One machine whose metadata server the lab plays: a VM, or a GKE pod (on its node).

    ``prefix`` is where its metadata server answers on the lab's port ("" for the default VM).
    """

    name: str
    kind: str  # "gce" | "gke"
    prefix: str
    instance: Instance
    service_account: ServiceAccount
    scopes: tuple[str, ...] = ("https://www.googleapis.com/auth/cloud-platform",)
    kubernetes: dict[str, str] = field(default_factory=dict)  # namespace, service account, annotation


CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
GKE_ANNOTATION = "iam.gke.io/gcp-service-account"


def _project(seed: int, project_id: str) -> Project:
    return Project(project_id, int(seeded_number(seed, f"project:{project_id}", 12)))


def _account(seed: int, project: Project, name: str) -> ServiceAccount:
    email = f"{name}@{project.project_id}.iam.gserviceaccount.com"
    return ServiceAccount(email, seeded_number(seed, f"sa:{email}", 21), project.project_id)


def _default_compute(seed: int, project: Project) -> ServiceAccount:
    email = f"{project.project_number}-compute@developer.gserviceaccount.com"
    return ServiceAccount(email, seeded_number(seed, f"sa:{email}", 21), project.project_id, user_managed=False)


def _instance(seed: int, project: Project, name: str, zone: str, created: int) -> Instance:
    return Instance(name, seeded_number(seed, f"vm:{project.project_id}/{name}", 19), zone, project, created)


@dataclass
class GoogleCloud:
    """The lab's Google Cloud: the workload's project, and a stranger's project on the same Google."""

    seed: int
    project: Project = field(init=False)
    workload: ServiceAccount = field(init=False)
    hosts: dict[str, Host] = field(init=False)

    def __post_init__(self) -> None:
        seed = self.seed
        created = 1_767_225_600  # 2026-01-01T00:00:00Z: when the lab's VMs were "created"
        self.project = _project(seed, "wif-lab-project")
        self.workload = _account(seed, self.project, "claude-inference")
        stranger_project = _project(seed, "someone-elses-project")
        stranger = _account(seed, stranger_project, "claude-inference")
        zone = "us-central1-a"
        vm = _instance(seed, self.project, "inference-vm", zone, created)
        node = _instance(seed, self.project, "gke-inference-default-pool-3f9c2a1b-x7kq", zone, created + 86_400)
        hosts = [
            Host("inference-vm", "gce", "", vm, self.workload),
            Host("default-sa-vm", "gce", "/vms/default-sa-vm",
                 _instance(seed, self.project, "default-sa-vm", zone, created), _default_compute(seed, self.project)),
            Host("stranger-vm", "gce", "/vms/stranger-vm",
                 _instance(seed, stranger_project, "stranger-vm", "europe-west1-b", created), stranger),
            Host("gke-pod", "gke", "/pods/inference/claude-inference", node, self.workload,
                 kubernetes={"namespace": "inference", "service_account": "claude-inference",
                             "annotation": f"{GKE_ANNOTATION}: {self.workload.email}"}),
        ]
        self.hosts = {h.name: h for h in hosts}

    def host_at(self, prefix: str) -> Host | None:
        return next((h for h in self.hosts.values() if h.prefix == prefix), None)
