"""JupyterHub as the workshop's engine: a real hub (PyPI) and configurable-http-proxy (npm), started from
deploy/jupyterhub_config.py on loopback. Users are created and their servers started through the REST API, and
the workshop check notebook (deploy/attendee_check.ipynb: open the lab, register, exchange, one Messages call,
clean up) runs in each through Jupyter Server's kernel API, attached to one shared lab as its JupyterHub user.
Notebook 01 for several attendees at once is tests/test_shared_lab.py's job (the same kernels, without a hub).

Node is required: without it the proxy cannot be installed and this test fails (it never skips)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wif_lab.mock.stack import MockStack

from ._hub import ROOT, Hub, free_ports, proxy_command, run_cells

USERS = ("ada", "grace")  # two attendees: enough to show isolation, cheap enough for the suite


@pytest.fixture(scope="module")
def shared_lab(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockStack]:
    run_dir = tmp_path_factory.mktemp("hub-lab")
    stack = MockStack(state_dir / "shared", connection_file=run_dir / "connection.json", run_dir=run_dir,
                      connection_mode=0o644)
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def hub(shared_lab: MockStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    data = tmp_path_factory.mktemp("hub")
    port, api_port, proxy_api_port = free_ports(3)
    token = secrets.token_hex(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIF_LAB_", "JUPYTERHUB_"))}
    env.update(WIF_LAB_HUB_DATA=str(data), WIF_LAB_HUB_PORT=str(port), WIF_LAB_HUB_API_PORT=str(api_port),
               WIF_LAB_HUB_PROXY_API_PORT=str(proxy_api_port), WIF_LAB_HUB_PROXY=str(proxy_command()),
               WIF_LAB_HUB_ADMIN_TOKEN=token, WIF_LAB_CONNECTION=str(shared_lab.connection_file),
               CONFIGPROXY_AUTH_TOKEN=secrets.token_hex(16))
    if os.geteuid() == 0:
        env["WIF_LAB_HUB_ALLOW_ROOT"] = "1"
    log = data / "hub.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(ROOT / "deploy" /
                                    "jupyterhub_config.py"), "--log-level=WARN"],
                                   cwd=data, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    the_hub = Hub(f"http://127.0.0.1:{port}", token, process, log)
    try:
        the_hub.wait_ready()
        yield the_hub
    finally:
        # The hub, its proxy and the servers it spawned share the hub's session: stop them all at once (the hub
        # alone would stop each server in turn, waiting for each).
        os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _code_cells(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def test_attendees_get_servers_and_run_the_check_notebook_through_the_hub(hub: Hub) -> None:
    t0 = time.perf_counter()
    created = hub.api("POST", "/users", json={"usernames": list(USERS)})
    assert created.status_code == 201, created.text
    for user in USERS:
        started = hub.api("POST", f"/users/{user}/server")
        assert started.status_code in (201, 202), f"{started.text}\n{hub.log_tail()}"
    for user in USERS:
        hub.wait_server(user)
    servers_ready = time.perf_counter() - t0

    cells = _code_cells(ROOT / "deploy" / "attendee_check.ipynb")

    async def everyone() -> list[list]:
        return await asyncio.gather(*(run_cells(hub.url, hub.token, user, "attendee_check.ipynb", cells)
                                      for user in USERS))

    results = asyncio.run(everyone())
    for user, ran in zip(USERS, results, strict=True):
        failed = [(i, c.outputs) for i, c in enumerate(ran) if c.status != "ok"]
        assert not failed and len(ran) == len(cells), f"{user}: {failed[:1]}"
        errors = [o for c in ran for o in c.outputs if o["output_type"] == "error"]
        assert not errors, f"{user}: {errors[:1]}"
        shown = json.dumps([c.outputs for c in ran])
        # Each kernel joined the shared lab as its JupyterHub user: its own namespace, never the other's.
        assert f"{user}-check" in shown and "Messages call succeeded" in shown
        assert not any(f"{other}-check" in shown for other in USERS if other != user)
    # The notebooks were copied into each attendee's own folder by the config's pre-spawn hook.
    users_dir = Path(hub.log.parent) / "users"
    assert all((users_dir / user / "attendee_check.ipynb").is_file() for user in USERS)
    assert all((users_dir / user / "01_okta.ipynb").is_file() for user in USERS)
    print(f"\nJupyterHub: {len(USERS)} servers ready in {servers_ready:.1f} s; the check notebook in each, at once, "
          f"{time.perf_counter() - t0 - servers_ready:.1f} s")


def test_the_idle_culler_runs_as_a_hub_managed_service(hub: Hub) -> None:
    services = hub.api("GET", "/services")
    assert services.status_code == 200, services.text
    culler = services.json()["idle-culler"]
    assert culler["command"][1:3] == ["-m", "jupyterhub_idle_culler"]
    assert culler["pid"], f"the hub did not start the idle culler:\n{hub.log_tail()}"
    os.kill(culler["pid"], 0)  # and it is still running (ProcessLookupError otherwise)
