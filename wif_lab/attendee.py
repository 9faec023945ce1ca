"""A workshop attendee's own corner of a shared lab (``wif-lab mock serve --shared``).

Attendees attached to one lab would otherwise share everything the notebooks name: the same Okta app
and key, the same federation objects. Joining gives each attendee a namespace derived from who they are
(``WIF_LAB_ATTENDEE``, else JupyterHub's ``JUPYTERHUB_USER``): Okta apps of their own, registered with
public keys generated here (the private keys stay in the attendee's own folder, mode 600), and
Anthropic object names prefixed with their name. On Azure's side the attendee gets a VM and an App Service
app of their own carrying their own managed identities (``<attendee>-wif-lab-vm``, ``<attendee>-claude-inference``,
``<attendee>-batch-reporting``), and on the AKS-style cluster namespaces of their own (``<attendee>-inference``, …)
with the guide's pod and its federated credential. Every part is created the first time and found afterwards, by
the mock under its own lock. An embedded lab belongs to one kernel already and never joins.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from . import http
from .errors import ConfigurationError, ProviderError

if TYPE_CHECKING:
    from .lab import Lab

ENV_ATTENDEE = "WIF_LAB_ATTENDEE"
ENV_HUB_USER = "JUPYTERHUB_USER"
ENV_KEY_DIR = "WIF_LAB_ATTENDEE_DIR"
APP_ROLES = ("workload", "second_app", "new_app")  # the Okta apps each attendee gets
NAME_MAX = 32
FIC = "aks-claude-inference"  # the guide's federated credential, as the lab names its own (mock/aks.py)


def attendee_name(given: str = "") -> str | None:
    """The attendee's namespace: ``given``, else $WIF_LAB_ATTENDEE, else $JUPYTERHUB_USER; None when none is set.

    Reduced to what every service accepts in a name (a-z, 0-9, '-'): ``Ada.Lovelace@example.org`` becomes
    ``ada-lovelace-example-org``.
    """
    raw = given or os.environ.get(ENV_ATTENDEE) or os.environ.get(ENV_HUB_USER) or ""
    if not raw:
        return None
    name = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")[:NAME_MAX].strip("-")
    if not name:
        raise ConfigurationError(f"the attendee name {raw!r} has no letters or digits to build a namespace from",
                                 hint=f"set {ENV_ATTENDEE} to a short name of letters and digits")
    return name


def key_dir(name: str) -> Path:
    """The attendee's own folder for private keys (mode 700): $WIF_LAB_ATTENDEE_DIR, else under ~/.local/share."""
    base = os.environ.get(ENV_KEY_DIR)
    root = Path(base).expanduser() if base else (
        Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "wif-lab" / "attendees")
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    return folder


def own_key(path: Path) -> rsa.RSAPrivateKey:
    """The attendee's key at ``path``, made the first time (RSA 2048, readable by its owner only)."""
    if not path.exists():
        key = rsa.generate_private_key(65537, 2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another kernel of the same attendee made it first: use that one
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ConfigurationError(f"{path} is not an RSA private key", hint="delete it; joining makes a new one")
    return loaded


def join(lab: Lab, name: str) -> dict[str, Any]:
    """Register the attendee's apps on the shared lab's Okta and point the lab's ``okta`` section at them.

    Returns what the lab answered (client ids and key ids per app). Joining again finds the same apps.
    """
    okta = lab.section("okta")
    folder = key_dir(name)
    paths = {role: folder / f"okta-{role}.pem" for role in APP_ROLES}
    keys = {role: json.loads(RSAAlgorithm.to_jwk(own_key(path).public_key())) for role, path in paths.items()}
    url = f"{okta['base_url']}/lab/attendees/{name}"
    r = http.request("PUT", url, what="the shared lab's Okta", verify=lab.ca_bundle, deadline=15,
                     json={"keys": keys}, headers={"authorization": f"SSWS {okta['api_token']}"})
    try:
        r.raise_for_status()
        apps = r.json()
        if not all(isinstance(apps[role]["client_id"], str) and apps[role]["key_id"] for role in APP_ROLES):
            raise ValueError("an app without client_id or key_id")
    except (httpx.HTTPStatusError, ValueError, KeyError, TypeError) as exc:
        raise ProviderError(f"{url} answered HTTP {r.status_code} without the attendee's apps",
                            status=r.status_code,
                            hint="is the lab a `wif-lab mock serve` of this version? Restart it, or unset "
                            "WIF_LAB_CONNECTION to run an embedded lab of your own") from exc
    workload = apps["workload"]
    okta.update(client_id=workload["client_id"], key_id=workload["key_id"], private_key=str(paths["workload"]))
    for role in ("second_app", "new_app"):
        okta[role].update(apps[role], private_key=str(paths[role]))
    join_azure(lab, name)
    lab.attendee = name
    return dict(apps)


def _put(lab: Lab, url: str, what: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = http.request("PUT", url, what=what, verify=lab.ca_bundle, deadline=15, json=body or {})
    try:
        r.raise_for_status()
        answer = r.json()
        if not isinstance(answer, dict):
            raise ValueError("not a JSON object")
    except (httpx.HTTPStatusError, ValueError) as exc:
        raise ProviderError(f"{url} answered HTTP {r.status_code}: {r.text[:300]}", status=r.status_code,
                            hint="is the lab a `wif-lab mock serve` of this version? Restart it, or unset "
                            "WIF_LAB_CONNECTION to run an embedded lab of your own") from exc
    return answer


def join_azure(lab: Lab, name: str) -> None:
    """The attendee's own VM (IMDS), App Service app and cluster namespace, each section pointed at them.

    Sections the lab lacks are left alone. The guide's federated credential (the attendee's
    ``claude-inference`` identity trusting their ``inference/claude-inference`` service account) is added the
    first time, as the lab does for its own pod.
    """
    data = lab.connection.data
    own: dict[str, dict[str, Any]] = {}
    for section in ("azure", "app_service"):
        if section in data:
            answer = _put(lab, f"{data[section]['base_url']}/lab/attendees/{name}", f"the shared lab's {section}")
            data[section].replace(answer)
            own.update({i["name"]: i for i in answer.get("identities", [])})
    if "entra" in data and own:
        known = {i["name"] for i in data["entra"]["identities"]}
        data["entra"].replace({"identities": [*data["entra"]["identities"],
                                              *(i for n, i in own.items() if n not in known)]})
    inference = own.get(f"{name}-claude-inference")
    if "aks" in data and "entra" in data and inference is not None:
        aks = _put(lab, f"{data['aks']['base_url']}/lab/attendees/{name}", "the shared lab's cluster",
                   {"client_id": inference["client_id"]})
        data["aks"].replace(aks)
        credential = f"{data['entra']['base_url']}/lab/identities/{inference['name']}/federated_credentials/{FIC}"
        _put(lab, credential, "the shared lab's tenant", {"issuer": aks["issuer"], "subject": aks["subject"]})
