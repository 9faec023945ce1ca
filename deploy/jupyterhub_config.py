"""JupyterHub on one machine for a wif-lab workshop (up to ~20 attendees on 8 cores / 16 GiB; see the README).

Run from the repository root, after `npm ci --prefix deploy/proxy` (configurable-http-proxy):

    WIF_LAB_HUB_PASSWORD=<shared workshop password> jupyterhub -f deploy/jupyterhub_config.py

Every attendee signs in with any user name and the shared password and gets a server of their own, running
as this machine's user, with a copy of the notebooks in their own folder. Each kernel starts an embedded lab
of its own, unless WIF_LAB_CONNECTION names a shared lab (`wif-lab mock serve --shared`): then every
attendee's kernel attaches to it and joins as their JupyterHub user name (JUPYTERHUB_USER).

Settings from the environment (all optional): WIF_LAB_HUB_IP / _PORT (the address attendees open, default
127.0.0.1:8000), WIF_LAB_HUB_API_PORT (8081), WIF_LAB_HUB_PROXY_API_PORT (8001), WIF_LAB_HUB_DATA (hub
database, cookie secret, attendees' folders; default ./build/hub), WIF_LAB_HUB_PROXY (the proxy command),
WIF_LAB_HUB_PASSWORD, WIF_LAB_HUB_ADMIN_TOKEN (an instructor token for the REST API), WIF_LAB_HUB_ALLOW_ROOT=1
(servers as root, for a throwaway CI container only), WIF_LAB_HUB_CULL_TIMEOUT (seconds idle before a server is
stopped, default 3600; 0 turns the idle culler off) and WIF_LAB_HUB_CULL_EVERY (how often it looks, default 300).
WIF_LAB_* variables of the hub's own environment (WIF_LAB_CONNECTION, WIF_LAB_STATE_DIR, WIF_LAB_RUN_DIR) reach
every kernel.
"""

import os
import shutil
import sys
from pathlib import Path
from typing import Any

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - JupyterHub defines it when loading this file

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("WIF_LAB_HUB_DATA", ROOT / "build" / "hub")).resolve()
USERS = DATA / "users"
USERS.mkdir(parents=True, exist_ok=True)
LOCAL_PROXY = ROOT / "deploy" / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"

# --- where it listens ----------------------------------------------------------------------------
c.JupyterHub.ip = os.environ.get("WIF_LAB_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("WIF_LAB_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("WIF_LAB_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('WIF_LAB_HUB_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [os.environ.get("WIF_LAB_HUB_PROXY") or
                                   (str(LOCAL_PROXY) if LOCAL_PROXY.exists() else "configurable-http-proxy")]
c.JupyterHub.db_url = f"sqlite:///{DATA / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(DATA / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(DATA / "jupyterhub.pid")

# --- who signs in ----------------------------------------------------------------------------------
# A workshop's attendees are not accounts of this machine: any name with the shared password.
c.JupyterHub.authenticator_class = "dummy"
if os.environ.get("WIF_LAB_HUB_PASSWORD"):
    c.DummyAuthenticator.password = os.environ["WIF_LAB_HUB_PASSWORD"]
c.Authenticator.allow_all = True
services: list[dict[str, Any]] = []
roles: list[dict[str, Any]] = []
admin_token = os.environ.get("WIF_LAB_HUB_ADMIN_TOKEN")
if admin_token:  # the instructor's scripts (and tests/test_jupyterhub.py) drive the REST API with it
    services.append({"name": "instructor", "api_token": admin_token})
    roles.append({"name": "instructor", "services": ["instructor"],
                  "scopes": ["admin:users", "admin:servers", "access:servers", "tokens", "list:services",
                             "read:services"]})

# --- idle culling ------------------------------------------------------------------------------------
# jupyterhub-idle-culler (PyPI), started and stopped by the hub: a server idle for CULL_TIMEOUT seconds is stopped
# (the attendee's folder stays; signing in again starts a new one), so a forgotten tab does not hold memory all day.
# It lists users and their activity and stops servers: exactly the scopes its README names, nothing more.
CULL_TIMEOUT = int(os.environ.get("WIF_LAB_HUB_CULL_TIMEOUT", "3600"))
CULL_EVERY = int(os.environ.get("WIF_LAB_HUB_CULL_EVERY", "300"))
CULLER_SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
if CULL_TIMEOUT > 0:
    services.append({"name": "idle-culler", "command": [
        sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={CULL_TIMEOUT}", f"--cull-every={CULL_EVERY}"]})
    roles.append({"name": "idle-culler", "services": ["idle-culler"], "scopes": CULLER_SCOPES})
c.JupyterHub.services = services
c.JupyterHub.load_roles = roles

# --- each attendee's server ------------------------------------------------------------------------
# Every server runs as this machine's user, in a folder of its own with a copy of the notebooks.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(USERS / "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]  # the hub's environment: wif-lab installed
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120
if os.environ.get("WIF_LAB_HUB_ALLOW_ROOT") == "1":  # a throwaway container (CI) that runs everything as root
    c.Spawner.args = ["--allow-root"]
c.Spawner.environment = {k: v for k, v in os.environ.items() if k.startswith("WIF_LAB_") and "HUB" not in k}


def copy_notebooks(spawner: Any) -> None:
    """The notebooks (and the workshop check) into the attendee's folder on their first start; later starts keep
    their edits."""
    home = Path(spawner.home_dir_template.format(username=spawner.user.name))
    home.mkdir(parents=True, exist_ok=True)
    for notebook in [ROOT / "deploy" / "attendee_check.ipynb", *sorted((ROOT / "notebooks").glob("*.ipynb"))]:
        if not (home / notebook.name).exists():
            shutil.copy2(notebook, home / notebook.name)


c.Spawner.pre_spawn_hook = copy_notebooks
