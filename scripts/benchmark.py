#!/usr/bin/env python3
"""Print the lab's speed figures (a benchmark, not a test: it asserts nothing).

- mock stack cold start (new state dir: CA and keys generated) and warm start (cached);
- token exchanges per second against the mock Anthropic at 1 and 4 client threads.

Run: python3 scripts/benchmark.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

from _bootstrap import ensure, run


def throughput(lab, oidc, rule_id: str, threads: int, seconds: float) -> tuple[int, int, float]:
    """Exchange pre-signed tokens from ``threads`` clients for ``seconds``; return (count, refused, elapsed)."""
    import httpx

    from wif_lab.exchange import GRANT_TYPE
    from wif_lab.tokens import ssl_context

    tokens = [oidc.mint({"sub": "bench"}) for _ in range(4000)]  # signed up front: measure the server
    totals = {"count": 0, "failures": 0}
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker() -> None:
        client = httpx.Client(verify=ssl_context(lab.ca_bundle))
        while time.perf_counter() < stop_at:
            with lock:
                if not tokens:
                    return
                token = tokens.pop()
            r = client.post(lab.base_url + "/v1/oauth/token", json={
                "grant_type": GRANT_TYPE, "assertion": token, "federation_rule_id": rule_id,
                "organization_id": lab.organization_id})
            with lock:
                totals["count"] += 1
                totals["failures"] += r.status_code != 200

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return totals["count"], totals["failures"], time.perf_counter() - t0


def measure(seconds: float) -> None:
    from wif_lab.lab import Connection, Lab
    from wif_lab.mock.stack import MockStack

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        t0 = time.perf_counter()
        cold = MockStack(state)
        cold.start()
        cold_s = time.perf_counter() - t0
        cold.stop()
        t0 = time.perf_counter()
        stack = MockStack(state)
        stack.start()
        warm_s = time.perf_counter() - t0
        print(f"stack cold start   {cold_s * 1000:7.0f} ms  ({len(stack.specs)} mocks; CA and keys generated)")
        print(f"stack warm start   {warm_s * 1000:7.0f} ms  (CA and keys read from the state dir)")
        try:
            lab = Lab(Connection.load(stack.connection_file), stack)
            oidc = stack.mocks["oidc"]
            admin = lab.admin()
            issuer = admin.organization.federation.issuers.create(name="bench", issuer_url=oidc.issuer)
            sa = admin.organization.service_accounts.create(name="bench")
            rule = admin.organization.federation.rules.create(
                name="bench", issuer_id=issuer.id, match={"subject_prefix": "bench"},
                target={"type": "service_account", "service_account_id": sa.id},
                oauth_scope="workspace:inference", workspace_id="default")
            for threads in (1, 4):
                count, failures, elapsed = throughput(lab, oidc, rule.id, threads, seconds)
                print(f"exchanges/s        {count / elapsed:7.0f}     at {threads} client thread(s) "
                      f"({count} exchanges in {elapsed:.1f} s, {failures} refused)")
        finally:
            stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each throughput run")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        measure(args.seconds)
    else:
        py = ensure([])
        sys.exit(run(py, [__file__, "--inside", "--seconds", str(args.seconds)]))
