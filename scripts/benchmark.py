#!/usr/bin/env python3
"""Side-by-side speed figures for the mock stack (a benchmark, not a test: it prints, it asserts nothing).

Three servers answer the same load generator (client threads with keep-alive httpx clients, TLS on,
the lab CA trusted), each in a process of its own:

- the peer: ``oauth2-mock-server`` from the npm registry (installed once into the Node cache folder
  when Node.js and npm are present; the peer rows are left out, saying why, when they are not). Its
  ``POST /token`` with ``client_credentials`` and no client authentication signs an RS256 JWT;
- the floor: bare uvicorn + starlette over TLS answering a small JSON body: what a Python server of
  this shape can do at all on this machine;
- the lab: ``wif-lab mock serve``. Mock Okta's token endpoint with ``private_key_jwt`` client
  authentication (assertion verified, ``jti`` recorded) and mock Anthropic's ``/v1/oauth/token``
  exchange (assertion verified against the issuer's JWKS, rule evaluated, ``jti`` recorded).

Runs are interleaved (peer, floor, Okta, Anthropic, then again) and each figure is given as min and
median over the repetitions; ratios are taken within one repetition. Assertions are signed before a
run starts, so the figures measure the servers, not the signing.

Targets (issue 15): P2 warm start ≤ the peer's start; P3 Okta ≥ 1.0× the peer; P4 Anthropic ≥ 2.0×
the peer; flat cost: the rate after 100,000 requests within 10 % of the first 2,000 (``--flat``, on a fresh lab
started for it; printed with the CPU per request and the lab's memory as it fills).

Run: python3 scripts/benchmark.py [--reps 5] [--requests 3000] [--flat 100000] [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _bootstrap import ensure, run

PEER_PACKAGE = "oauth2-mock-server"
PEER_VERSION = "8.2.3"  # the newest release whose engines include Node 20.19 (9.x wants Node 22.12+)
READY_DEADLINE = 60.0
SUB = "bench"


# --- processes ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), for CPU per request."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


@dataclass
class Server:
    """One server process under test."""

    name: str
    proc: subprocess.Popen[bytes]
    base_url: str
    started_in: float  # spawn to first good answer, seconds

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_ready(proc: subprocess.Popen[bytes], probe: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + READY_DEADLINE
    while not probe():
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before answering")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer within {READY_DEADLINE:g} s")
        time.sleep(0.002)


def https_ok(url: str, ca: Path) -> Callable[[], bool]:
    import ssl
    import urllib.request

    ctx = ssl.create_default_context(cafile=str(ca))

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    return probe


# --- the peer ---------------------------------------------------------------------------------------

def peer_install() -> tuple[Path | None, str]:
    """The peer's entry script (installing it once), or None and the reason it cannot run here."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None, "Node.js/npm not found: install Node.js 20.19+ with npm to compare with the peer"
    from wif_lab.typescript import cache_root

    folder = cache_root() / f"bench-{PEER_PACKAGE}-{PEER_VERSION}"
    entry = folder / "node_modules" / PEER_PACKAGE / "dist" / "oauth2-mock-server.mjs"
    if not entry.exists():
        print(f"installing {PEER_PACKAGE}@{PEER_VERSION} into {folder} (npm, once) …", flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder),
                               f"{PEER_PACKAGE}@{PEER_VERSION}"], capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not entry.exists():
            return None, f"npm could not install {PEER_PACKAGE}@{PEER_VERSION}: {done.stderr.strip()[-300:]}"
    return entry, ""


def start_peer(entry: Path, tls: Any, jwk_file: Path) -> Server:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(["node", str(entry), "-a", "127.0.0.1", "-p", str(port), "-c", str(tls.server_cert_chain),
                             "-k", str(tls.server_key), "--jwk", str(jwk_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"https://127.0.0.1:{port}"
    wait_ready(proc, https_ok(base + "/.well-known/openid-configuration", tls.ca_bundle), "the peer")
    return Server("peer", proc, base, time.perf_counter() - t0)


def peer_jwk(state: Path) -> Path:
    """An RS256 key for the peer, made once (so its start, like the lab's warm start, generates nothing)."""
    from jwt.algorithms import RSAAlgorithm

    from wif_lab.mock.keys import KeyStore

    path = state / "peer-jwk.json"
    if not path.exists():
        jwk = json.loads(RSAAlgorithm.to_jwk(KeyStore(state).private_key("bench-peer")))
        jwk.update(kid="bench-peer", alg="RS256", use="sig")
        path.write_text(json.dumps(jwk))
    return path


# --- the floor --------------------------------------------------------------------------------------

def floor_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def token(request: Any) -> JSONResponse:
        await request.body()
        return JSONResponse({"access_token": "x" * 40, "token_type": "Bearer", "expires_in": 3600})

    async def ok(request: Any) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/token", token, methods=["POST"]), Route("/", ok)])


def serve_floor(port: int, cert: str, key: str) -> None:
    """The floor runs with the lab's own server settings (HTTP parser, event loop), so the two compare fairly."""
    import asyncio

    import uvicorn

    from wif_lab.mock.stack import server_settings

    http, loop_factory = server_settings()
    config = uvicorn.Config(floor_app(), host="127.0.0.1", port=port, ssl_certfile=cert, ssl_keyfile=key,
                            log_level="critical", access_log=False, lifespan="off", http=http, loop="none")
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(uvicorn.Server(config).serve())


def start_floor(tls: Any) -> Server:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--floor", str(port), str(tls.server_cert_chain),
                             str(tls.server_key)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"https://127.0.0.1:{port}"
    wait_ready(proc, https_ok(base + "/", tls.ca_bundle), "the floor app")
    return Server("floor", proc, base, time.perf_counter() - t0)


# --- the lab ----------------------------------------------------------------------------------------

def start_lab(state: Path) -> Server:
    connection = state / "connection.json"
    connection.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "wif_lab.cli", "mock", "serve", "--state-dir", str(state)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(proc, connection.exists, "wif-lab mock serve")  # written once every mock answers
    data = json.loads(connection.read_text())
    return Server("lab", proc, data["anthropic"]["base_url"], time.perf_counter() - t0)


@dataclass
class LabTargets:
    """What the load generator needs to talk to a running lab."""

    connection: dict[str, Any]
    ca: Path
    rule_id: str
    service_account_id: str
    oidc_key: Any
    okta_key: Any

    @classmethod
    def prepare(cls, state: Path) -> LabTargets:
        import httpx
        from cryptography.hazmat.primitives import serialization

        from wif_lab.tokens import ssl_context

        connection = json.loads((state / "connection.json").read_text())
        anthropic = connection["anthropic"]
        # The Admin API over plain httpx: the SDK's import alone takes longer than the rest of the setup.
        admin = httpx.Client(base_url=anthropic["base_url"] + "/v1/organizations", verify=ssl_context(
            connection["ca_bundle"]), headers={"authorization": f"Bearer {anthropic['admin_token']}",
                                               "anthropic-beta": "oauth-2025-04-20"})

        def create(path: str, body: dict[str, Any]) -> str:
            r = admin.post(path, json=body)
            r.raise_for_status()
            return r.json()["id"]

        issuer = create("/federation_issuers", {"name": "bench", "issuer_url": connection["oidc"]["base_url"]})
        sa = create("/service_accounts", {"name": "bench"})
        rule = create("/federation_rules", {
            "name": "bench", "issuer_id": issuer, "match": {"subject_prefix": SUB},
            "target": {"type": "service_account", "service_account_id": sa},
            "oauth_scope": "workspace:inference", "workspace_id": "default"})
        admin.close()

        def key(path: str | Path) -> Any:
            return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)

        return cls(connection, Path(connection["ca_bundle"]), rule, sa,
                   key(state / "keys" / "oidc-rsa-1.pem"), key(connection["okta"]["private_key"]))

    def exchange_bodies(self, n: int) -> list[dict[str, Any]]:
        import jwt

        iss = self.connection["oidc"]["base_url"]
        org = self.connection["anthropic"]["organization_id"]
        now = int(time.time())
        out = []
        for _ in range(n):
            claims = {"iss": iss, "sub": SUB, "aud": "https://api.anthropic.com", "iat": now, "exp": now + 600,
                      "jti": str(uuid.uuid4())}
            token = jwt.encode(claims, self.oidc_key, algorithm="RS256", headers={"kid": "oidc-rsa-1"})
            out.append({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": token,
                        "federation_rule_id": self.rule_id, "organization_id": org,
                        "service_account_id": self.service_account_id})
        return out

    def okta_forms(self, n: int) -> list[dict[str, str]]:
        from wif_lab.providers.okta import build_client_assertion

        okta = self.connection["okta"]
        out = []
        for _ in range(n):
            assertion = build_client_assertion(okta["client_id"], okta["token_endpoint"], self.okta_key,
                                               key_id=okta["key_id"], lifetime=600)
            out.append({"grant_type": "client_credentials", "scope": okta["scope"],
                        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        "client_assertion": assertion.reveal()})
        return out


# --- the load generator -----------------------------------------------------------------------------

@dataclass
class Rate:
    per_second: float
    failures: int
    cpu_us: float | None  # server CPU per request, microseconds


# wrk's Lua side: each thread takes every n-th line of the bodies file (so no two threads send the same
# assertion: a replayed jti would be refused) and POSTs them in turn, one connection per thread.
WRK_SCRIPT = """
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
function init(args)
  local path, threads = args[1], tonumber(args[2])
  bodies, sent = {}, 0
  local i = 0
  for line in io.lines(path) do
    if i % threads == id then bodies[#bodies + 1] = line end
    i = i + 1
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = args[3]
end
function request()
  sent = sent + 1
  return wrk.format(nil, nil, nil, bodies[(sent - 1) % #bodies + 1])
end
"""
GENERATOR = {"name": "httpx"}  # set once by measure(): "wrk" when it is installed
WRK_BODIES_PER_SECOND = 6000  # about twice the fastest rate seen (4 threads), so an uneven thread never runs out


def load(url: str, requests: list[dict[str, Any]], *, threads: int, ca: Path, pid: int, form: bool) -> Rate:
    """The rate and the server's CPU per request, with :data:`GENERATOR`'s load generator."""
    if GENERATOR["name"] == "wrk":
        return load_wrk(url, requests, threads=threads, pid=pid, form=form, seconds=GENERATOR["seconds"])
    return load_httpx(url, requests, threads=threads, ca=ca, pid=pid, form=form)


def load_wrk(url: str, requests: list[dict[str, Any]], *, threads: int, pid: int, form: bool,
             seconds: float) -> Rate:
    """``threads`` wrk threads of one keep-alive connection each, for ``seconds``, cycling through ``requests``
    (each sent once while there are enough; a body sent twice shows as refused answers). wrk does not check
    the server's certificate; everything else is as with the httpx clients."""
    import urllib.parse

    with tempfile.TemporaryDirectory(prefix="wif-bench-wrk-") as tmp:
        bodies, script = Path(tmp) / "bodies", Path(tmp) / "bodies.lua"
        bodies.write_text("".join((urllib.parse.urlencode(item) if form else json.dumps(item, separators=(",", ":")))
                                  + "\n" for item in requests))
        script.write_text(WRK_SCRIPT)
        content_type = "application/x-www-form-urlencoded" if form else "application/json"
        cpu0 = cpu_seconds(pid)
        done = subprocess.run(["wrk", f"-t{threads}", f"-c{threads}", f"-d{seconds}s", "--timeout", "10s", "-s",
                               str(script), url, "--", str(bodies), str(threads), content_type],
                              capture_output=True, text=True, check=False)
        cpu1 = cpu_seconds(pid)
    out = done.stdout
    count = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out)
    if done.returncode != 0 or count is None:
        sys.exit(f"wrk failed ({done.returncode}):\n{out}\n{done.stderr}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[count.group(3)]
    n, elapsed = int(count.group(1)), float(count.group(2)) * scale
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failures = (int(refused.group(1)) if refused else 0) + (sum(map(int, errors.groups())) if errors else 0)
    cpu = (cpu1 - cpu0) / n * 1e6 if cpu0 is not None and cpu1 is not None and n else None
    return Rate(n / elapsed, failures, cpu)


def load_httpx(url: str, requests: list[dict[str, Any]], *, threads: int, ca: Path, pid: int, form: bool) -> Rate:
    """Send every request once from ``threads`` clients; the rate and the server's CPU per request."""
    import httpx

    from wif_lab.tokens import ssl_context

    clients = [httpx.Client(verify=ssl_context(ca)) for _ in range(threads)]
    for c in clients:  # connect and handshake before timing
        c.get(url.rsplit("/", 1)[0] + "/")
    work = iter(requests)
    lock = threading.Lock()
    failures = [0]

    def worker(client: httpx.Client) -> None:
        while True:
            with lock:
                item = next(work, None)
            if item is None:
                return
            r = client.post(url, data=item) if form else client.post(url, json=item)
            if r.status_code != 200:
                with lock:
                    failures[0] += 1

    pool = [threading.Thread(target=worker, args=(c,)) for c in clients]
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    cpu1 = cpu_seconds(pid)
    for c in clients:
        c.close()
    cpu = (cpu1 - cpu0) / len(requests) * 1e6 if cpu0 is not None and cpu1 is not None else None
    return Rate(len(requests) / elapsed, failures[0], cpu)


# --- reporting --------------------------------------------------------------------------------------

@dataclass
class Series:
    values: list[float] = field(default_factory=list)

    def add(self, v: float) -> None:
        self.values.append(v)

    def text(self, fmt: str = "{:,.0f}") -> str:
        if not self.values:
            return "—"
        return f"{fmt.format(min(self.values))} / {fmt.format(statistics.median(self.values))}"


def row(*cells: str) -> None:
    print("| " + " | ".join(cells) + " |")


def machine_load() -> str:
    """The 1/5/15-minute load averages: on a shared machine, read every figure beside them."""
    return "load average " + " / ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


@contextmanager
def servers() -> Iterator[list[Server]]:
    running: list[Server] = []
    try:
        yield running
    finally:
        for s in running:
            s.stop()


def measure(args: argparse.Namespace) -> None:
    from wif_lab.mock.stack import MockStack
    from wif_lab.mock.tls import ensure_lab_tls

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: still stop the servers it started
    tmp = Path(tempfile.mkdtemp(prefix="wif-bench-"))
    try:
        _measure(args, tmp, MockStack, ensure_lab_tls)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def choose_generator(args: argparse.Namespace) -> None:
    """wrk when it is installed: a Python client spends more CPU per request than the servers it measures,
    and on 2 cores it takes that CPU from them (at 4 client threads the floor managed only ~1,000 requests/s)."""
    wrk = shutil.which("wrk")
    if args.generator == "wrk" and wrk is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian/Ubuntu), or pass --generator httpx")
    if args.generator != "httpx" and wrk is not None:
        version = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False).stdout.split("[")[0]
        GENERATOR.update(name="wrk", seconds=args.seconds)
        print(f"load generator: {version.strip() or 'wrk'}, one keep-alive connection per thread, {args.seconds} s "
              f"per run cycling max(--requests, {WRK_BODIES_PER_SECOND:,} × seconds) distinct request bodies "
              "(the flat-cost check uses httpx clients: it counts requests)")
    else:
        why = "--generator httpx given" if args.generator == "httpx" else "wrk not found (apt-get install wrk)"
        print(f"load generator: httpx client threads, keep-alive, TLS verified ({why})")


def _measure(args: argparse.Namespace, tmp: Path, MockStack: Any, ensure_lab_tls: Any) -> None:
    choose_generator(args)
    state = tmp / "state"
    tls = ensure_lab_tls(state)
    entry, why_not = (None, "--no-peer given") if args.no_peer else peer_install()
    if entry is None:
        print(f"peer: not measured — {why_not}")
    jwk = peer_jwk(state)
    with MockStack(state):  # the lab's keys, made once: every later start in this state dir is warm
        pass

    # --- start-up (P2) ------------------------------------------------------------------------------
    start = {k: Series() for k in ("cold", "warm", "lab-process", "peer", "floor")}
    for rep in range(0 if args.skip_startup else args.reps):
        cold_dir = tmp / f"cold-{rep}"
        t0 = time.perf_counter()
        with MockStack(cold_dir):
            start["cold"].add((time.perf_counter() - t0) * 1000)
        shutil.rmtree(cold_dir, ignore_errors=True)
        t0 = time.perf_counter()
        with MockStack(state):
            start["warm"].add((time.perf_counter() - t0) * 1000)
        with servers() as running:
            if entry is not None:
                running.append(start_peer(entry, tls, jwk))
                start["peer"].add(running[-1].started_in * 1000)
            running.append(start_floor(tls))
            start["floor"].add(running[-1].started_in * 1000)
            running.append(start_lab(state))
            start["lab-process"].add(running[-1].started_in * 1000)

    if not args.skip_startup:
        print_startup(start, args.reps)
    throughput(args, state, tls, entry, jwk)


def print_startup(start: dict[str, Series], reps: int) -> None:
    print(f"\n## Start-up, {reps} repetitions (min / median)\n")
    print(f"at the end of the runs: {machine_load()}\n")
    row("what", "time", "vs peer (median)")
    row("---", "---", "---")
    peer_med = statistics.median(start["peer"].values) if start["peer"].values else None
    labels = {"cold": "lab stack in-process, cold (CA and keys generated)",
              "warm": "lab stack in-process, warm (P2)",
              "lab-process": "`wif-lab mock serve` process, warm, spawn to ready",
              "peer": f"peer `{PEER_PACKAGE}` process, spawn to ready",
              "floor": "floor uvicorn+starlette process, spawn to ready"}
    for key, label in labels.items():
        s = start[key]
        vs = f"{statistics.median(s.values) / peer_med:.2f}×" if peer_med and s.values else "—"
        row(label, s.text() + " ms" if s.values else "—", vs)


def throughput(args: argparse.Namespace, state: Path, tls: Any, entry: Path | None, jwk: Path) -> None:
    """P3 and P4, the floor, flat cost and memory, all against one lab process."""
    with servers() as running:
        peer = start_peer(entry, tls, jwk) if entry is not None else None
        floor = start_floor(tls)
        lab = start_lab(state)
        running.extend(s for s in (peer, floor, lab) if s is not None)
        targets = LabTargets.prepare(state)
        mem_start = rss_mib(lab.proc.pid)
        okta_url = targets.connection["okta"]["token_endpoint"]
        anth_url = targets.connection["anthropic"]["base_url"] + "/v1/oauth/token"
        results: dict[tuple[str, int], Series] = {}
        cpu: dict[tuple[str, int], Series] = {}
        ratios: dict[tuple[str, int], Series] = {}
        # wrk runs for a time, not a count, and each thread takes its own share of the bodies: enough that no
        # thread sends one twice (a replayed assertion is refused, and a refusal is cheaper than an exchange).
        n = max(args.requests, WRK_BODIES_PER_SECOND * args.seconds) if GENERATOR["name"] == "wrk" else args.requests
        peer_body = [{"grant_type": "client_credentials", "scope": "anthropic.access"}] * n
        floor_body = [{"grant_type": "client_credentials"}] * n
        failures: dict[str, int] = {}
        warm = min(n, 300)  # untimed: JIT, caches (the exchange's JWKS) and connections settle first
        if peer is not None:
            load(peer.base_url + "/token", peer_body[:warm], threads=1, ca=targets.ca, pid=peer.proc.pid, form=True)
        load(floor.base_url + "/token", floor_body[:warm], threads=1, ca=targets.ca, pid=floor.proc.pid, form=True)
        load(okta_url, targets.okta_forms(warm), threads=1, ca=targets.ca, pid=lab.proc.pid, form=True)
        load(anth_url, targets.exchange_bodies(warm), threads=1, ca=targets.ca, pid=lab.proc.pid, form=False)
        for threads in args.threads:
            for _rep in range(args.reps):
                okta_forms, bodies = targets.okta_forms(n), targets.exchange_bodies(n)
                got: dict[str, Rate] = {}
                if peer is not None:
                    got["peer"] = load(peer.base_url + "/token", peer_body, threads=threads, ca=targets.ca,
                                       pid=peer.proc.pid, form=True)
                got["floor"] = load(floor.base_url + "/token", floor_body, threads=threads, ca=targets.ca,
                                    pid=floor.proc.pid, form=True)
                got["okta"] = load(okta_url, okta_forms, threads=threads, ca=targets.ca, pid=lab.proc.pid, form=True)
                got["anthropic"] = load(anth_url, bodies, threads=threads, ca=targets.ca, pid=lab.proc.pid,
                                        form=False)
                for name, rate in got.items():
                    results.setdefault((name, threads), Series()).add(rate.per_second)
                    if rate.cpu_us is not None:
                        cpu.setdefault((name, threads), Series()).add(rate.cpu_us)
                    failures[name] = failures.get(name, 0) + rate.failures
                    for ref in ("peer", "floor"):
                        if ref in got and name not in ("peer", "floor"):
                            ratios.setdefault((f"{name}/{ref}", threads), Series()).add(
                                rate.per_second / got[ref].per_second)
                            if rate.cpu_us and got[ref].cpu_us:  # capacity: requests per CPU second
                                ratios.setdefault((f"{name}/{ref} cpu", threads), Series()).add(
                                    got[ref].cpu_us / rate.cpu_us)
        mem_loaded = rss_mib(lab.proc.pid)

        print(f"\n## Throughput, {n:,} requests per run, {args.reps} interleaved repetitions (min / median)\n")
        print(f"at the end of the runs: {machine_load()}\n")
        row("server", "threads", "requests/s", "server CPU µs/request", "× peer", "× floor",
            "× peer per CPU s", "× floor per CPU s")
        row("---", "---", "---", "---", "---", "---", "---", "---")
        for threads in args.threads:
            for name in ("peer", "floor", "okta", "anthropic"):
                if (name, threads) not in results:
                    continue
                row(name, str(threads), results[(name, threads)].text(),
                    cpu.get((name, threads), Series()).text(),
                    ratios.get((f"{name}/peer", threads), Series()).text("{:.2f}"),
                    ratios.get((f"{name}/floor", threads), Series()).text("{:.2f}"),
                    ratios.get((f"{name}/peer cpu", threads), Series()).text("{:.2f}"),
                    ratios.get((f"{name}/floor cpu", threads), Series()).text("{:.2f}"))
        refused = {k: v for k, v in failures.items() if v}
        print(f"\nnon-200 answers: {refused or 'none'}")
        print("targets: P3 okta ≥ 1.00× peer; P4 anthropic ≥ 2.00× peer (at 1 and 4 threads). \"per CPU s\" "
              "compares requests per second of server CPU, which other load on a shared machine disturbs less "
              "than the wall-clock rate.")

        print("\n## Memory (resident set)\n")
        row("process", "MiB")
        row("---", "---")
        for label, value in (("lab stack, just started", mem_start),
                             ("lab stack after the throughput runs", mem_loaded),
                             ("peer", rss_mib(peer.proc.pid) if peer else None),
                             ("floor", rss_mib(floor.proc.pid))):
            if value is not None:
                row(label, f"{value:,.0f}")
        if args.flat:
            lab.stop()  # the flat-cost check starts from a fresh lab: its first window is its first requests
            flat_cost(args, state, floor, running)


def flat_cost(args: argparse.Namespace, state: Path, floor: Server, running: list[Server]) -> None:
    """Rate and CPU per request over the first ``--window`` requests of a fresh lab and after ``--flat``.

    The floor answers a window just before each lab window: the machine is shared, and the lab's rate
    divided by the floor's, taken a moment apart, is disturbed less by what else runs than either alone.
    """
    lab = start_lab(state)
    running.append(lab)
    targets = LabTargets.prepare(state)
    okta_url = targets.connection["okta"]["token_endpoint"]
    anth_url = targets.connection["anthropic"]["base_url"] + "/v1/oauth/token"
    floor_body = [{"grant_type": "client_credentials"}] * args.window
    memory = [("fresh lab, set up", rss_mib(lab.proc.pid))]
    loads: list[str] = []
    failures: dict[str, int] = {}

    def window(url: str, items: list[dict[str, Any]], form: bool) -> tuple[Rate, Rate]:
        ref = load_httpx(floor.base_url + "/token", floor_body, threads=4, ca=targets.ca, pid=floor.proc.pid, form=True)
        return ref, load_httpx(url, items, threads=4, ca=targets.ca, pid=lab.proc.pid, form=form)

    print(f"\n## Flat cost: the first {args.window:,} requests of a fresh lab against {args.window:,} after "
          f"{args.flat:,} (4 threads)\n")
    row("server", "first/s", f"after {args.flat:,}/s", "ratio", "floor-relative ratio",
        "CPU µs/request first → after", "CPU ratio (first / after)")
    row("---", "---", "---", "---", "---", "---", "---")
    for name, url, make, form in (("okta", okta_url, targets.okta_forms, True),
                                  ("anthropic", anth_url, targets.exchange_bodies, False)):
        warm = max(1, args.window // 10)  # untimed, counted: a fresh process builds its caches (the JWKS) first
        load_httpx(url, make(warm), threads=4, ca=targets.ca, pid=lab.proc.pid, form=form)
        first_ref, first = window(url, make(args.window), form)
        sent = warm + args.window
        while sent < args.flat:
            chunk = min(5000, args.flat - sent)
            filled = load_httpx(url, make(chunk), threads=4, ca=targets.ca, pid=lab.proc.pid, form=form)
            failures[name] = failures.get(name, 0) + filled.failures
            sent += chunk
        after_ref, after = window(url, make(args.window), form)
        for rate in (first, after):
            failures[name] = failures.get(name, 0) + rate.failures
        relative = (after.per_second / after_ref.per_second) / (first.per_second / first_ref.per_second)
        row(name, f"{first.per_second:,.0f}", f"{after.per_second:,.0f}", f"{after.per_second / first.per_second:.2f}",
            f"{relative:.2f}", f"{first.cpu_us or 0:,.0f} → {after.cpu_us or 0:,.0f}",
            f"{first.cpu_us / after.cpu_us:.2f}" if first.cpu_us and after.cpu_us else "—")
        memory.append((f"after {args.flat:,} {name} requests", rss_mib(lab.proc.pid)))
        loads.append(f"{name}: {machine_load()}")
    print(f"\nnon-200 answers: {({k: v for k, v in failures.items() if v}) or 'none'}")
    print(f"target: after within 10 % of first (ratio ≥ 0.90). The first window follows {max(1, args.window // 10):,} "
          "untimed requests of the fresh lab (its caches fill); the floor-relative ratio divides out the machine's "
          "drift between the two windows, and the CPU ratio (server CPU per request) is the least disturbed by it.")
    print("machine load when each was done: " + "; ".join(loads))
    print("\n## Memory of the flat-cost lab (resident set)\n")
    row("when", "MiB")
    row("---", "---")
    for label, value in memory:
        if value is not None:
            row(label, f"{value:,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5, help="repetitions of every measurement (default 5)")
    parser.add_argument("--requests", type=int, default=3000, help="requests per throughput run (default 3000)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4], help="client threads (default 1 4)")
    parser.add_argument("--flat", type=int, default=100_000,
                        help="requests for the flat-cost check, 0 to skip (default 100000)")
    parser.add_argument("--window", type=int, default=2000, help="requests in each flat-cost window (default 2000)")
    parser.add_argument("--no-peer", action="store_true", help="skip the peer (no Node.js, or no npm install)")
    parser.add_argument("--generator", choices=["auto", "wrk", "httpx"], default="auto",
                        help="load generator: wrk (C; apt-get install wrk) or httpx client threads (default: wrk "
                             "when installed)")
    parser.add_argument("--seconds", type=int, default=2,
                        help="with wrk: seconds per throughput run (--requests distinct bodies are cycled)")
    parser.add_argument("--skip-startup", action="store_true", help="skip the start-up measurements")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        serve_floor(int(args.floor[0]), args.floor[1], args.floor[2])
    elif args.inside:
        measure(args)
    else:
        py = ensure([])
        sys.exit(run(py, [__file__, "--inside", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
