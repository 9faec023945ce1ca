"""A real JupyterHub for the tests: configurable-http-proxy from npm (cached), the hub started from
deploy/jupyterhub_config.py on loopback, its REST API, and a kernel driven over Jupyter Server's websocket."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from wif_lab import typescript

ROOT = Path(__file__).resolve().parents[1]
PROXY_DIR = ROOT / "deploy" / "proxy"


def proxy_command() -> Path:
    """configurable-http-proxy installed with `npm ci` from deploy/proxy's lockfile into the Node cache (once)."""
    typescript.node()  # Node missing or too old: a ConfigurationError, so the test fails (never skips)
    npm = typescript.npm()
    manifest = [PROXY_DIR / "package.json", PROXY_DIR / "package-lock.json"]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in manifest)).hexdigest()[:16]
    target = typescript.cache_root() / f"hub-proxy-{digest}"
    command = target / "node_modules" / ".bin" / "configurable-http-proxy"
    if not command.exists():
        staging = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}")
        staging.mkdir(parents=True)
        for path in manifest:
            shutil.copy2(path, staging / path.name)
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=staging, capture_output=True, text=True,
                              timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"npm ci of configurable-http-proxy failed:\n{done.stderr[-2000:]}")
        try:
            staging.rename(target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return command


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


@dataclass
class Hub:
    url: str  # the proxy's public URL
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}/hub/api{path}", headers={"authorization": f"token {self.token}"},
                             timeout=30, **kwargs)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyterhub exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                if self.api("GET", "/").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"jupyterhub did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def wait_server(self, user: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.api("GET", f"/users/{user}").json()
            server = (model.get("servers") or {}).get("", {})
            if server.get("ready"):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyterhub exited:\n{self.log_tail()}")
            time.sleep(0.25)
        raise RuntimeError(f"{user}'s server was not ready within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


@dataclass
class Cell:
    status: str
    outputs: list[dict[str, Any]] = field(default_factory=list)


async def run_cells(base_url: str, token: str, user: str, path: str, cells: list[str],
                    timeout: float = 120) -> list[Cell]:
    """Start a kernel on ``user``'s server (cwd: ``path``'s folder), run ``cells`` in order over the kernel's
    websocket (Jupyter Server's kernel API, the route JupyterLab uses), and return each reply and its outputs."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    headers = {"authorization": f"token {token}"}
    async with httpx.AsyncClient(base_url=f"{base_url}/user/{user}", headers=headers, timeout=60) as http:
        started = await http.post("/api/kernels", json={"name": "python3", "path": path})
        started.raise_for_status()
        kernel_id = started.json()["id"]
        ws_url = f"{base_url.replace('http', 'ws', 1)}/user/{user}/api/kernels/{kernel_id}/channels"
        ws = await websocket_connect(HTTPRequest(ws_url, headers=headers))
        session = uuid.uuid4().hex
        results = []
        try:
            for code in cells:
                msg_id = uuid.uuid4().hex
                ws.write_message(json.dumps({
                    "header": {"msg_id": msg_id, "username": user, "session": session, "msg_type": "execute_request",
                               "version": "5.3", "date": datetime.datetime.now(datetime.UTC).isoformat()},
                    "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                    "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                                "allow_stdin": False, "stop_on_error": True},
                }))
                cell = Cell("")
                idle = False
                while not (cell.status and idle):
                    raw = await asyncio.wait_for(ws.read_message(), timeout)
                    if raw is None:
                        raise RuntimeError(f"{user}'s kernel websocket closed")
                    msg = json.loads(raw)
                    if msg.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    kind = msg["header"]["msg_type"]
                    if kind == "execute_reply":
                        cell.status = msg["content"]["status"]
                    elif kind == "status" and msg["content"]["execution_state"] == "idle":
                        idle = True
                    elif kind in ("stream", "display_data", "execute_result", "error"):
                        cell.outputs.append({"output_type": kind, **msg["content"]})
                results.append(cell)
                if cell.status != "ok":
                    break
        finally:
            ws.close()
            await http.delete(f"/api/kernels/{kernel_id}")
    return results
