#!/usr/bin/env python3
"""Fuzz every mock over real sockets and TLS, and count what must never happen (a benchmark: it asserts nothing).

Starts the whole mock stack on 127.0.0.1 and sends each mock N hostile requests (default 10,000):
request bodies with NaN, Infinity, 1e309, integers past 64 bits, lone surrogates and deep nesting;
JWTs (signed with the right keys, so they get past the first checks) carrying the same poison in
their claims or header; forms and query strings that are not UTF-8; malformed Authorization, DPoP,
Metadata and client-request-id headers; odd paths, cursors and rule conditions. Every request has
its own deadline. Per mock it prints the requests sent, a status-code histogram, the 5xx count, the
hang count (no answer within the deadline) and the dropped count (the server closed or reset the
connection instead of answering). All three should be 0.

Nothing leaves the machine: every URL is the stack's own loopback address, and no request can make
a mock dial out anywhere else.

Run: python3 scripts/fuzz_mocks.py [--requests N] [--deadline S] [--concurrency C] [--seed S] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import random
import ssl
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from _bootstrap import ensure, run

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
COSTLY = "claims.l.map(a, claims.l.map(b, a + b)).size() > 0"
MOCKS = ("anthropic", "okta", "entra", "imds", "app_service", "kubernetes", "oidc", "github_actions", "google",
         "gce_metadata", "kubernetes_cluster", "aws")


# ── hostile material ───────────────────────────────────────────────────────────────────────────────

NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e309", "-1e400", "1E999", "123456789e999"]
SURROGATES = ['"\\ud800"', '"x\\udfff"', '"\\udbff\\u0041"', '"ok\\ud83d"']
BAD_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80abc", b"\xe2\x82"]
BAD_ESCAPES = ["%FF", "%C3%28", "%ED%A0%80", "%F4%90%80%80", "%80", "%E2%82"]
ODD_TEXT = ["", " ", "\u0000", "é", "𝄞", "\u202e", "a" * 5000, "../../etc", "%00", "null", "{}", "\\", '"']


def rand_json(rng: random.Random, depth: int = 0) -> Any:
    """An ordinary JSON value of a random type (type confusion for validators)."""
    roll = rng.random()
    if depth > 2 or roll < 0.5:
        return rng.choice([None, True, False, 0, -1, 2**63 - 1, 1.5, -0.0, rng.choice(ODD_TEXT),
                           "".join(rng.choice("abc-_/:") for _ in range(rng.randrange(12)))])
    if roll < 0.75:
        return [rand_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["a", "name", "type", "", "é"]): rand_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def poison(rng: random.Random) -> str:
    """One poisoned JSON fragment."""
    kind = rng.randrange(5)
    if kind == 0:
        return rng.choice(NON_FINITE)
    if kind == 1:
        return str(rng.choice([1, -1]) * rng.randrange(2**63, 10**rng.randrange(20, 400)))
    if kind == 2:
        return rng.choice(SURROGATES)
    if kind == 3:
        return "{" + rng.choice(SURROGATES) + ": 1}"
    n = rng.choice([40, 200, 1500, 3000])
    return "[" * n + "1" + "]" * n


def wrapped(rng: random.Random, fragment: str) -> str:
    for _ in range(rng.randrange(4)):
        sibling = json.dumps(rand_json(rng))
        if rng.random() < 0.5:
            fragment = f"[{sibling}, {fragment}]"
        else:
            fragment = "{" + f'"pad": {sibling}, "k": {fragment}' + "}"
    return fragment


def hostile_body(rng: random.Random, fields: dict[str, Any] | None = None) -> bytes:
    """A request body: valid fields with one poisoned value, or broken bytes, or plain wrong types."""
    roll = rng.random()
    if roll < 0.45:
        members = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in (fields or {}).items()]
        members.insert(rng.randrange(len(members) + 1), f'{json.dumps(rng.choice(list(fields or {"x": 0})))}: '
                                                         f"{wrapped(rng, poison(rng))}")
        return ("{" + ", ".join(members) + "}").encode()
    if roll < 0.6:
        return b'{"name": "' + rng.choice(BAD_UTF8) + b'"}'
    if roll < 0.7:
        return json.dumps(fields or {})[: rng.randrange(1, 40)].encode()  # truncated
    if roll < 0.8:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if roll < 0.81:
        return b'{"pad": "' + b"a" * (1024 * 1024 + 10) + b'"}'  # past the body cap
    return json.dumps({**(fields or {}), **{k: rand_json(rng) for k in rng.sample(list(fields or {"x": 0}), 1)}},
                      ensure_ascii=rng.random() < 0.5).encode()


def hostile_claims(rng: random.Random, base: dict[str, Any]) -> bytes:
    name = rng.choice([*base, "extra", "exp", "iat", "nbf"])
    members = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in base.items() if k != name]
    roll = rng.random()
    if roll < 0.7:
        value = wrapped(rng, poison(rng))
    elif roll < 0.85:  # finite, but outside the calendar
        value = json.dumps(rng.choice([1e300, -1, 2**62, 253_402_300_800, -1e300]))
    else:
        value = json.dumps(rand_json(rng))
    members.insert(rng.randrange(len(members) + 1), f"{json.dumps(name)}: {value}")
    return ("{" + ", ".join(members) + "}").encode()


def sign(payload: bytes, key: Any, headers: dict[str, Any], alg: str = "RS256") -> str:
    """Sign exactly these bytes under a header of any member types (pyjwt's encoders would refuse some)."""
    from jwt.algorithms import get_default_algorithms

    header = json.dumps({"alg": alg, "typ": "JWT", **headers}).encode()
    signing_input = f"{b64(header)}.{b64(payload)}".encode()
    return f"{signing_input.decode()}.{b64(get_default_algorithms()[alg].sign(signing_input, key))}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def junk_token(rng: random.Random) -> str:
    roll = rng.randrange(6)
    if roll == 0:
        segments = (bytes(rng.randrange(256) for _ in range(rng.randrange(40))) for _ in range(rng.randrange(1, 6)))
        return ".".join(b64(segment) for segment in segments)
    if roll == 1:
        return b64(wrapped(rng, poison(rng)).encode()) + "." + b64(b'{"sub": "w"}') + ".c2ln"
    if roll == 2:
        return "eyJ" + "A" * rng.choice([10, 20_000])
    if roll == 3:
        return rng.choice(ODD_TEXT)
    if roll == 4:
        return b64(b'{"alg": "none"}') + "." + b64(b'{"sub": "w"}') + "."
    return "é.é.é"


def odd_header(rng: random.Random, scheme: bytes = b"Basic") -> bytes:
    return rng.choice([
        scheme, scheme + b"  x", scheme + b" " + rng.choice(BAD_UTF8), scheme + b" !!!!", b"Bearer Bearer x",
        scheme + b" " + base64.b64encode(b"id:" + rng.choice(BAD_UTF8)), b"\xff\xfe", scheme + b" " + b"A" * 8000,
        b"Digest x", scheme + b" Zm9v", scheme + b" \xc3\xa9t\xc3\xa9",
    ])


def bad_form(rng: random.Random, fields: dict[str, str]) -> bytes:
    parts = urlencode(list(fields.items())).encode().split(b"&")
    raw = rng.choice(BAD_UTF8) if rng.random() < 0.5 else rng.choice(BAD_ESCAPES).encode()
    i = rng.randrange(len(parts) + 1)
    if i == len(parts):
        parts.append(b"x" + raw + b"=1")
    else:
        parts[i] += raw
    return b"&".join(parts)


def odd_path(rng: random.Random) -> str:
    segment = rng.choice(["%ff", "%ED%A0%80", "..", "%2e%2e", "a" * 3000, quote("é"), "%00", "~", "%"])
    return "/" + "/".join(rng.choice([segment, "x", "v1", "oauth2"]) for _ in range(rng.randrange(1, 5)))


# ── one mock's request builders ────────────────────────────────────────────────────────────────────


@dataclass
class Req:
    method: str
    url: str
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    content: bytes | None = None


Builder = Callable[[random.Random], Req]


def _h(**headers: str | bytes) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v if isinstance(v, bytes) else v.encode()) for k, v in headers.items()]


class Targets:
    """The stack's addresses, keys and a few objects created up front, and a builder list per mock."""

    def __init__(self, stack: Any, conn: dict[str, Any]) -> None:
        from wif_lab.mock.anthropic.store import Grant
        from wif_lab.mock.keys import public_jwk
        from wif_lab.mock.kubernetes import SIGNING_KEY, key_id

        keys = stack.context.keys
        self.conn = conn
        a = conn["anthropic"]
        self.a_base = a["base_url"]
        self.admin = _h(authorization=f"Bearer {a['admin_token']}", anthropic_beta="oauth-2025-04-20")
        self.org_id = a["organization_id"]
        mock = stack.mocks["anthropic"]
        self.fuzz_key = keys.private_key("fuzz-issuer")
        http = _SyncAdmin(self.a_base, a["admin_token"], conn["ca_bundle"])
        issuer = http.post("/v1/organizations/federation_issuers", {
            "name": "fuzz-inline", "issuer_url": "https://127.0.0.1/fuzz",
            "jwks": {"type": "inline", "keys": [public_jwk(self.fuzz_key, "fuzz-1")]}})
        dialed = http.post("/v1/organizations/federation_issuers", {"name": "fuzz-oidc",
                                                                    "issuer_url": conn["oidc"]["issuer"]})
        sa = http.post("/v1/organizations/service_accounts", {"name": "fuzz-sa"})
        self.sa_id = sa["id"]

        def rule(name: str, issuer_id: str, match: dict[str, Any]) -> str:
            return http.post("/v1/organizations/federation_rules", {
                "name": name, "issuer_id": issuer_id, "match": match, "oauth_scope": "workspace:developer",
                "target": {"type": "service_account", "service_account_id": sa["id"]},
                "workspace_id": a["default_workspace_id"]})["id"]

        self.rule_id = rule("fuzz-rule", issuer["id"], {"subject_prefix": "w*", "condition": 'claims.sub != ""'})
        self.costly_rule_id = rule("fuzz-costly", issuer["id"], {"subject_prefix": "w*", "condition": COSTLY})
        self.dialed_rule_id = rule("fuzz-dialed", dialed["id"], {"subject_prefix": "w*"})
        self.messages_token = mock.store.mint_grant(Grant(sa["id"], a["default_workspace_id"], "workspace:developer",
                                                          expires_at=None))
        self.k8s_key = keys.private_key(SIGNING_KEY)
        self.k8s_kid = key_id(self.k8s_key)
        self.keys = keys
        self.k8s_cluster_kid = stack.mocks["kubernetes_cluster"].kid
        o = conn["okta"]
        self.okta_key = keys.private_key("okta-workload")
        self.new_app_key = keys.private_key("okta-new-app")
        from cryptography.hazmat.primitives.asymmetric import ec

        self.dpop_key = ec.generate_private_key(ec.SECP256R1())
        self.okta = o

    # -- anthropic

    def anthropic(self) -> list[tuple[float, Builder]]:
        base, org = self.a_base, "/v1/organizations"

        def exchange_body(assertion: str, rule_id: str | None = None) -> dict[str, Any]:
            return {"grant_type": JWT_BEARER, "assertion": assertion, "federation_rule_id": rule_id or self.rule_id,
                    "organization_id": self.org_id, "service_account_id": self.sa_id}

        def claims(**extra: Any) -> dict[str, Any]:
            now = int(time.time())
            return {"iss": "https://127.0.0.1/fuzz", "sub": "w1", "aud": "https://api.anthropic.com", "iat": now,
                    "exp": now + 300, "jti": str(uuid.uuid4()), **extra}

        def hostile_assertion(rng: random.Random) -> Req:
            token = sign(hostile_claims(rng, claims()), self.fuzz_key, {"kid": "fuzz-1"})
            return Req("POST", base + "/v1/oauth/token", _h(content_type="application/json"),
                       json.dumps(exchange_body(token)).encode())

        def hostile_header(rng: random.Random) -> Req:
            token = sign(json.dumps(claims()).encode(), self.fuzz_key,
                         {"kid": rand_json(rng), "alg2": rand_json(rng)})
            if rng.random() < 0.5:
                token = junk_token(rng)
            rule = rng.choice([self.rule_id, self.dialed_rule_id])
            return Req("POST", base + "/v1/oauth/token", _h(content_type="application/json"),
                       json.dumps(exchange_body(token, rule)).encode())

        def hostile_exchange_body(rng: random.Random) -> Req:
            return Req("POST", base + "/v1/oauth/token", _h(content_type="application/json"),
                       hostile_body(rng, exchange_body("x")))

        def costly(rng: random.Random) -> Req:
            token = sign(json.dumps(claims(l=list(range(700)))).encode(), self.fuzz_key, {"kid": "fuzz-1"})
            return Req("POST", base + "/v1/oauth/token", _h(content_type="application/json"),
                       json.dumps(exchange_body(token, self.costly_rule_id)).encode())

        def admin_write(rng: random.Random) -> Req:
            path, fields = rng.choice([
                ("/federation_issuers", {"name": "x", "issuer_url": "https://127.0.0.1/x"}),
                ("/service_accounts", {"name": "x", "description": "d"}),
                (f"/service_accounts/{self.sa_id}", {"description": "d"}),
                ("/federation_rules", {"name": "x", "issuer_id": "fdis_x", "match": {"subject_prefix": "w"}}),
                (f"/federation_rules/{self.rule_id}", {"match": {"condition": "claims.sub == 'x'"}}),
            ])
            return Req("POST", base + org + path, [*self.admin, *_h(content_type="application/json")],
                       hostile_body(rng, fields))

        def costly_condition(rng: random.Random) -> Req:
            sixty = "[" + ",".join(["1"] * 60) + "]"
            condition = rng.choice([COSTLY.replace("> 0", "> 0 && " + "claims.a && " * 600 + "true"),
                                    "claims.l.all(a, claims.l.all(b, claims.l.all(c, claims.l.all(d, true))))",
                                    f"{sixty}.all(a, {sixty}.all(b, {sixty}.all(c, a + b + c > 0)))",
                                    "(" * 200 + "claims.sub" + ")" * 200])
            body = {"match": {"subject_prefix": "w*", "condition": condition}}
            return Req("POST", base + org + f"/federation_rules/{self.rule_id}",
                       [*self.admin, *_h(content_type="application/json")], json.dumps(body).encode())

        def admin_read(rng: random.Random) -> Req:
            page = b64(wrapped(rng, poison(rng)).encode()) if rng.random() < 0.7 else rng.choice(ODD_TEXT)
            query = urlencode({"page": page, "limit": rng.choice(["0", "-1", "1e3", "9" * 50, "x", "20"])})
            return Req("GET", base + org + rng.choice(["/service_accounts", "/federation_rules",
                                                       f"/service_accounts/{self.sa_id}/workspaces",
                                                       "/federation_issuers"]) + "?" + query, self.admin)

        def messages(rng: random.Random) -> Req:
            headers = _h(authorization=f"Bearer {self.messages_token}", anthropic_version="2023-06-01",
                         content_type="application/json")
            fields = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
            return Req("POST", base + "/v1/messages", headers, hostile_body(rng, fields))

        def auth_header(rng: random.Random) -> Req:
            return Req("GET", base + org + "/me", [(b"authorization", odd_header(rng, b"Bearer")),
                                                   (b"anthropic-beta", b"oauth-2025-04-20")])

        def path(rng: random.Random) -> Req:
            return Req(rng.choice(["GET", "POST", "DELETE", "PATCH"]), base + odd_path(rng), self.admin)

        return [(0.25, hostile_assertion), (0.1, hostile_header), (0.15, hostile_exchange_body), (0.002, costly),
                (0.15, admin_write), (0.02, costly_condition), (0.1, admin_read), (0.1, messages),
                (0.08, auth_header), (0.048, path)]

    # -- okta

    def okta_builders(self) -> list[tuple[float, Builder]]:
        from wif_lab.providers.okta import public_jwk

        o = self.okta
        url = o["token_endpoint"]

        def claims(app: dict[str, Any]) -> dict[str, Any]:
            now = int(time.time())
            return {"iss": app["client_id"], "sub": app["client_id"], "aud": url, "iat": now, "exp": now + 300,
                    "jti": str(uuid.uuid4())}

        def form(assertion: str) -> dict[str, str]:
            return {"grant_type": "client_credentials", "scope": "anthropic.access",
                    "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}

        form_type = _h(content_type="application/x-www-form-urlencoded")

        def hostile_assertion(rng: random.Random) -> Req:
            token = sign(hostile_claims(rng, claims(o)), self.okta_key, {"kid": o["key_id"]})
            if rng.random() < 0.2:
                token = junk_token(rng)
            return Req("POST", url, form_type, urlencode(form(token)).encode())

        def not_utf8(rng: random.Random) -> Req:
            token = sign(json.dumps(claims(o)).encode(), self.okta_key, {"kid": o["key_id"]})
            return Req("POST", url, form_type, bad_form(rng, form(token)))

        def basic(rng: random.Random) -> Req:
            return Req("POST", url, [*form_type, (b"authorization", odd_header(rng))],
                       urlencode({"grant_type": "client_credentials", "scope": "anthropic.access"}).encode())

        def dpop(rng: random.Random) -> Req:
            app = o["new_app"]
            assertion = sign(json.dumps(claims(app)).encode(), self.new_app_key, {"kid": app["key_id"]})
            base = {"htm": "POST", "htu": url, "iat": int(time.time()), "jti": str(uuid.uuid4())}
            jwk: Any = public_jwk(self.dpop_key) if rng.random() < 0.8 else rand_json(rng)
            proof = sign(hostile_claims(rng, base), self.dpop_key, {"typ": "dpop+jwt", "jwk": jwk}, alg="ES256")
            if rng.random() < 0.2:
                proof = junk_token(rng)
            headers = [*form_type, (b"dpop", proof.encode())]
            if rng.random() < 0.1:
                headers.append((b"dpop", odd_header(rng, b"ey")))
            return Req("POST", url, headers, urlencode(form(assertion)).encode())

        def path(rng: random.Random) -> Req:
            return Req(rng.choice(["GET", "POST"]), o["org_url"] + odd_path(rng), form_type,
                       urlencode({"grant_type": rng.choice(ODD_TEXT)}).encode())

        ssws = _h(authorization=f"SSWS {o['api_token']}", content_type="application/json")

        def management(rng: random.Random) -> Req:  # the Management API `wif-lab setup okta` drives
            path, fields = rng.choice([
                ("/api/v1/apps", {"name": "oidc_client", "label": "fuzz", "signOnMode": "OPENID_CONNECT"}),
                ("/api/v1/authorizationServers", {"name": "fuzz", "description": "fuzz",
                                                  "audiences": ["https://api.anthropic.com"]}),
            ])
            return Req("POST", o["org_url"] + path, ssws, hostile_body(rng, fields))

        return [(0.3, hostile_assertion), (0.2, not_utf8), (0.15, basic), (0.15, dpop), (0.1, path),
                (0.1, management)]

    # -- entra

    def entra_builders(self) -> list[tuple[float, Builder]]:
        aks, entra = self.conn["aks"], self.conn["entra"]
        url = entra["token_endpoint"]
        client_id = next(i["client_id"] for i in entra["identities"] if i["name"] == "claude-inference")

        def claims() -> dict[str, Any]:
            now = int(time.time())
            return {"aud": ["api://AzureADTokenExchange"], "exp": now + 3600, "iat": now, "iss": aks["issuer"],
                    "jti": str(uuid.uuid4()), "nbf": now, "sub": aks["subject"]}

        def form(assertion: str) -> dict[str, str]:
            return {"client_assertion": assertion, "client_assertion_type": ASSERTION_TYPE, "client_id": client_id,
                    "grant_type": "client_credentials", "scope": aks["scope"]}

        form_type = _h(content_type="application/x-www-form-urlencoded")

        def hostile_assertion(rng: random.Random) -> Req:
            token = sign(hostile_claims(rng, claims()), self.k8s_key, {"kid": self.k8s_kid})
            if rng.random() < 0.2:
                token = junk_token(rng)
            return Req("POST", url, form_type, urlencode(form(token)).encode())

        def not_utf8(rng: random.Random) -> Req:
            token = sign(json.dumps(claims()).encode(), self.k8s_key, {"kid": self.k8s_kid})
            return Req("POST", url, form_type, bad_form(rng, form(token)))

        def correlation(rng: random.Random) -> Req:
            return Req("POST", url, [*form_type, (b"client-request-id", odd_header(rng, b"x"))],
                       urlencode({k: rng.choice(ODD_TEXT) for k in ("grant_type", "scope")}).encode())

        def path(rng: random.Random) -> Req:
            tail = rng.choice(["/v2.0/.well-known/openid-configuration", "/discovery/v2.0/keys", "/oauth2/v2.0/token"])
            return Req(rng.choice(["GET", "POST"]), entra["base_url"] + odd_path(rng) + tail)

        def lab(rng: random.Random) -> Req:  # the lab-only route that adds a federated credential
            url = f"{entra['base_url']}/lab/identities/claude-inference/federated_credentials/fuzz"
            return Req("PUT", url, _h(content_type="application/json"),
                       hostile_body(rng, {"issuer": aks["issuer"], "subject": aks["subject"]}))

        return [(0.35, hostile_assertion), (0.25, not_utf8), (0.2, correlation), (0.1, path), (0.1, lab)]

    # -- imds

    def imds_builders(self) -> list[tuple[float, Builder]]:
        azure = self.conn["azure"]
        url = azure["token_url"]

        def query(rng: random.Random) -> Req:
            params = {"api-version": rng.choice(["2018-02-01", *ODD_TEXT]),
                      "resource": rng.choice([*ODD_TEXT, azure["resource"]]),
                      rng.choice(["client_id", "object_id", "msi_res_id"]): rng.choice(ODD_TEXT)}
            text = urlencode(params)
            if rng.random() < 0.6:
                text = text.replace("=", "=" + rng.choice(BAD_ESCAPES), 1)
            return Req("GET", f"{url}?{text}", _h(metadata="true"))

        def metadata(rng: random.Random) -> Req:
            return Req("GET", url + "?" + urlencode({"api-version": "2018-02-01", "resource": azure["resource"]}),
                       [(b"metadata", odd_header(rng, b"true"))])

        def path(rng: random.Random) -> Req:
            return Req(rng.choice(["GET", "POST"]), azure["imds_url"] + odd_path(rng), _h(metadata="true"))

        return [(0.6, query), (0.25, metadata), (0.15, path)]

    # -- app_service (the hosting services' identity endpoint)

    def app_service_builders(self) -> list[tuple[float, Builder]]:
        app = self.conn["app_service"]
        url = app["identity_endpoint"]
        secret = app["identity_header"].encode()

        def query(rng: random.Random) -> Req:
            params = {"api-version": rng.choice(["2019-08-01", *ODD_TEXT]),
                      "resource": rng.choice([*ODD_TEXT, app["resource"]]),
                      rng.choice(["client_id", "object_id", "principal_id", "mi_res_id"]): rng.choice(ODD_TEXT)}
            text = urlencode(params)
            if rng.random() < 0.6:
                text = text.replace("=", "=" + rng.choice(BAD_ESCAPES), 1)
            return Req("GET", f"{url}?{text}", [(b"x-identity-header", secret)])

        def header(rng: random.Random) -> Req:
            return Req("GET", url + "?" + urlencode({"api-version": "2019-08-01", "resource": app["resource"]}),
                       [(b"x-identity-header", odd_header(rng, secret))])

        def path(rng: random.Random) -> Req:
            root = url.rsplit("/msi/", 1)[0]
            return Req(rng.choice(["GET", "POST"]), root + odd_path(rng), [(b"x-identity-header", secret)])

        return [(0.6, query), (0.25, header), (0.15, path)]

    # -- kubernetes

    def kubernetes_builders(self) -> list[tuple[float, Builder]]:
        aks = self.conn["aks"]
        root = f"{urlsplit(aks['issuer']).scheme}://{urlsplit(aks['issuer']).netloc}"

        def documents(rng: random.Random) -> Req:
            path = rng.choice([aks["discovery_url"], aks["jwks_uri"]]).removeprefix(root)
            segments = path.split("/")
            i = rng.randrange(1, len(segments))
            segments[i] = rng.choice([quote(rng.choice(ODD_TEXT), safe=""), "%ff", segments[i] + "%ED%A0%80"])
            return Req(rng.choice(["GET", "POST", "HEAD"]), root + "/".join(segments),
                       [(b"accept", odd_header(rng, b"application/json"))])

        def rotate(rng: random.Random) -> Req:
            return Req(rng.choice(["GET", "PUT", "POST"]), root + "/lab/rotate", _h(content_type="application/json"),
                       hostile_body(rng, {}))

        def path(rng: random.Random) -> Req:
            return Req("GET", root + odd_path(rng))

        def lab(rng: random.Random) -> Req:  # the lab-only pod, token and attendee routes
            method, url, fields = rng.choice([
                ("PUT", f"{root}/lab/pods/fuzz/fuzz", {"client_id": "fuzz"}),
                ("POST", f"{root}/lab/tokens", dict(zip(("namespace", "service_account"),
                                                        aks["service_account"].split("/"), strict=True),
                                                    audience="fuzz")),
                ("PUT", f"{root}/lab/attendees/fuzz", {"client_id": "fuzz"}),
            ])
            return Req(method, url, _h(content_type="application/json"), hostile_body(rng, fields))

        return [(0.6, documents), (0.1, rotate), (0.15, path), (0.15, lab)]

    # -- kubernetes_cluster (the self-managed cluster's API server)

    def kubernetes_cluster_builders(self) -> list[tuple[float, Builder]]:
        from wif_lab.mock.kubernetes.self_managed import ISSUER, SIGNING_KEY

        k8s = self.conn["kubernetes"]
        base = k8s["api_server"]
        token_path = f"{base}/api/v1/namespaces/{k8s['namespace']}/serviceaccounts/{k8s['service_account']}/token"
        admin = [(b"authorization", f"Bearer {k8s['admin_token']}".encode()), (b"content-type", b"application/json")]
        key = self.keys.private_key(SIGNING_KEY)
        kid = self.k8s_cluster_kid
        request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                   "spec": {"audiences": ["https://api.anthropic.com"], "expirationSeconds": 600}}

        def token_request(rng: random.Random) -> Req:
            return Req("POST", token_path, admin, hostile_body(rng, request))

        def bearer(rng: random.Random) -> Req:
            claims = {"sub": f"system:serviceaccount:{k8s['namespace']}:{k8s['service_account']}", "iss": ISSUER,
                      "aud": [ISSUER], "exp": int(time.time()) + 600, "iat": int(time.time())}
            token = sign(hostile_claims(rng, claims), key, {"kid": kid}) if rng.random() < 0.6 else junk_token(rng)
            header = f"Bearer {token}".encode() if rng.random() < 0.8 else odd_header(rng, b"Bearer")
            return Req("POST", token_path, [(b"authorization", header), (b"content-type", b"application/json")],
                       json.dumps(request).encode())

        def names(rng: random.Random) -> Req:
            odd = rng.choice([quote(rng.choice(ODD_TEXT), safe=""), "%ff", "%ED%A0%80", "A", "-x"])
            ns, sa = (odd, k8s["service_account"]) if rng.random() < 0.5 else (k8s["namespace"], odd)
            return Req("POST", f"{base}/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token", admin,
                       json.dumps(request).encode())

        def documents(rng: random.Random) -> Req:
            url = rng.choice([k8s["discovery_url"], k8s["jwks_uri"]])
            return Req(rng.choice(["GET", "POST", "HEAD"]), url, [(b"accept", odd_header(rng, b"application/json"))])

        def lab(rng: random.Random) -> Req:  # bodies never valid: a valid one would make a new RSA key each time
            return Req("POST", k8s["rotate_signing_key_url"], _h(content_type="application/json"),
                       hostile_body(rng, {"retire_previous": "no"})[:-1] or b"{")

        def path(rng: random.Random) -> Req:
            return Req(rng.choice(["GET", "POST"]), base + odd_path(rng), admin)

        return [(0.35, token_request), (0.25, bearer), (0.15, names), (0.1, documents), (0.05, lab), (0.1, path)]

    # -- oidc

    def oidc_builders(self) -> list[tuple[float, Builder]]:
        oidc = self.conn["oidc"]

        def mint(rng: random.Random) -> Req:
            return Req("POST", oidc["mint_url"], _h(content_type="application/json"),
                       hostile_body(rng, {"claims": {"sub": "w"}, "lifetime": 300, "alg": "RS256"}))

        def path(rng: random.Random) -> Req:
            return Req(rng.choice(["GET", "POST"]), oidc["issuer"] + odd_path(rng))

        return [(0.8, mint), (0.2, path)]

    # -- github_actions (the runner's token service and GitHub's issuer documents)

    def github_actions_builders(self) -> list[tuple[float, Builder]]:
        github = self.conn["github_actions"]
        env = github["env"]
        url = env["ACTIONS_ID_TOKEN_REQUEST_URL"]
        bearer = ("Bearer " + env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]).encode()

        def query(rng: random.Random) -> Req:
            text = urlencode({"audience": rng.choice([*ODD_TEXT, "https://api.anthropic.com"])})
            if rng.random() < 0.5:
                text = text.replace("=", "=" + rng.choice(BAD_ESCAPES), 1)
            if rng.random() < 0.2:
                text += "&api-version=" + quote(rng.choice(["2.0", *ODD_TEXT]), safe="")
            return Req("GET", f"{url}&{text}", [(b"authorization", bearer)])

        def authorization(rng: random.Random) -> Req:
            return Req("GET", url + "&audience=x", [(b"authorization", odd_header(rng, b"Bearer"))])

        def path(rng: random.Random) -> Req:
            head, _, tail = url.partition("/_apis/")
            target = rng.choice([head + odd_path(rng) + "/_apis/" + tail, github["base_url"] + odd_path(rng),
                                 github["base_url"] + "/.well-known" + odd_path(rng)])
            return Req(rng.choice(["GET", "POST", "HEAD"]), target, [(b"authorization", bearer)])

        return [(0.5, query), (0.3, authorization), (0.2, path)]
    # -- google (Google's issuer documents) and gce_metadata (the metadata server)

    def google_builders(self) -> list[tuple[float, Builder]]:
        google = self.conn["google"]

        def documents(rng: random.Random) -> Req:
            url = rng.choice([google["discovery_url"], google["jwks_uri"]])
            return Req(rng.choice(["GET", "POST", "HEAD"]), url + rng.choice(["", "?" + quote(rng.choice(ODD_TEXT))]))

        def path(rng: random.Random) -> Req:
            return Req(rng.choice(["GET", "POST"]), google["base_url"] + odd_path(rng))

        return [(0.5, documents), (0.5, path)]

    def gce_metadata_builders(self) -> list[tuple[float, Builder]]:
        gcp = self.conn["gcp"]
        roots = ["http://" + h["metadata_host"] for h in gcp["hosts"]]
        identity = "/computeMetadata/v1/instance/service-accounts/default/identity"

        def query(rng: random.Random) -> Req:
            params = {"audience": rng.choice([*ODD_TEXT, gcp["audience"]]),
                      rng.choice(["format", "licenses", "recursive"]): rng.choice([*ODD_TEXT, "full", "TRUE"])}
            text = urlencode(params)
            if rng.random() < 0.5:
                text = text.replace("=", "=" + rng.choice(BAD_ESCAPES), 1)
            return Req("GET", f"{rng.choice(roots)}{identity}?{text}", _h(metadata_flavor="Google"))

        def flavor(rng: random.Random) -> Req:
            headers = [(b"metadata-flavor", odd_header(rng, b"Google"))]
            if rng.random() < 0.3:
                headers.append((b"x-forwarded-for", rng.choice([b"203.0.113.7", rng.choice(BAD_UTF8)])))
            return Req("GET", f"{rng.choice(roots)}{identity}?audience=x", headers)

        def path(rng: random.Random) -> Req:
            return Req(rng.choice(["GET", "POST", "PUT"]), rng.choice(roots) + odd_path(rng),
                       _h(metadata_flavor="Google"))

        return [(0.5, query), (0.3, flavor), (0.2, path)]

    # -- aws (STS GetWebIdentityToken and IAM's outbound-federation switch, signed with SigV4)

    def aws_builders(self) -> list[tuple[float, Builder]]:
        from wif_lab.mock.aws_sts.sigv4 import SigningKey, sign

        aws = self.conn["aws"]
        base, region = aws["endpoint_url"], aws["region"]
        creds = aws["credentials"]
        key = SigningKey(creds["access_key_id"], creds["secret_access_key"], creds["session_token"], None)
        form_type = "application/x-www-form-urlencoded; charset=utf-8"

        def field_value(rng: random.Random) -> str:
            return rng.choice([*ODD_TEXT, *NON_FINITE, str(2**64), "-1", "0", "3600", "https://api.anthropic.com",
                               "RS256", "ES384", "x" * 300])

        def action_form(rng: random.Random) -> dict[str, str]:
            form = {"Action": rng.choice(["GetWebIdentityToken", "GetWebIdentityToken", "GetCallerIdentity",
                                          "AssumeRole", *ODD_TEXT]),
                    "Version": rng.choice(["2011-06-15", "2011-06-15", "2010-05-08", *ODD_TEXT])}
            for name in rng.sample(["Audience.member.1", "Audience.member.2", "Audience.member.99",
                                    "DurationSeconds", "SigningAlgorithm", "Tags.member.1.Key",
                                    "Tags.member.1.Value", "Audience"], rng.randrange(1, 6)):
                form[name] = field_value(rng)
            return form

        def signed(body: bytes, rng: random.Random, service: str = "sts") -> Req:
            headers = {"content-type": form_type, "host": urlsplit(base).netloc}
            headers = sign("POST", base + "/", body, headers, key=key, region=region, service=service)
            return Req("POST", base + "/", [(k.lower().encode(), v.encode()) for k, v in headers.items()], body)

        def sts_signed(rng: random.Random) -> Req:  # past SigV4, into the action's own validation
            text = urlencode(action_form(rng))
            if rng.random() < 0.3:
                text = text.replace("=", "=" + rng.choice(BAD_ESCAPES), 1)
            body = text.encode() + (rng.choice(BAD_UTF8) if rng.random() < 0.2 else b"")
            return signed(body, rng)

        def iam_signed(rng: random.Random) -> Req:
            action = rng.choice(["GetOutboundWebIdentityFederationInfo", "EnableOutboundWebIdentityFederation",
                                 "DisableOutboundWebIdentityFederation", *ODD_TEXT])
            form = {"Action": action, "Version": rng.choice(["2010-05-08", *ODD_TEXT])}
            return signed(urlencode(form).encode(), rng, service="iam")

        def query(rng: random.Random) -> Req:  # the query protocol also takes the action in the URL
            text = urlencode(action_form(rng))
            headers = sign("GET", f"{base}/?{text}", b"", {"host": urlsplit(base).netloc}, key=key, region=region)
            return Req("GET", f"{base}/?{text}", [(k.lower().encode(), v.encode()) for k, v in headers.items()])

        def authorization(rng: random.Random) -> Req:  # broken signatures, dates and session tokens
            good = signed(urlencode(action_form(rng)).encode(), rng)
            headers = dict(good.headers)
            name = rng.choice([b"authorization", b"x-amz-date", b"x-amz-security-token"])
            headers[name] = odd_header(rng, headers.get(name, b"AWS4-HMAC-SHA256")[:20])
            return Req("POST", good.url, list(headers.items()), good.content)

        def documents(rng: random.Random) -> Req:
            issuer = aws["issuer"]
            url = rng.choice([issuer + "/.well-known/openid-configuration", issuer + "/.well-known/jwks.json",
                              base + odd_path(rng) + "/.well-known/jwks.json"])
            return Req(rng.choice(["GET", "POST", "HEAD"]), url)

        def lab(rng: random.Random) -> Req:
            url = rng.choice([aws["sessions_url"], aws["federation_url"]])
            return Req("POST", url, _h(content_type="application/json"),
                       hostile_body(rng, {"role": "x", "seconds": 900, "enabled": True}))

        def path(rng: random.Random) -> Req:
            return Req(rng.choice(["GET", "POST", "PUT"]), base + odd_path(rng))

        return [(0.35, sts_signed), (0.1, iam_signed), (0.1, query), (0.2, authorization), (0.1, documents),
                (0.05, lab), (0.1, path)]

    def builders(self, mock: str) -> list[tuple[float, Builder]]:
        return {"anthropic": self.anthropic, "okta": self.okta_builders, "entra": self.entra_builders,
                "imds": self.imds_builders, "app_service": self.app_service_builders,
                "kubernetes": self.kubernetes_builders, "oidc": self.oidc_builders,
                "github_actions": self.github_actions_builders, "google": self.google_builders,
                "gce_metadata": self.gce_metadata_builders,
                "kubernetes_cluster": self.kubernetes_cluster_builders, "aws": self.aws_builders}[mock]()


class _SyncAdmin:
    """Set-up calls to the Admin API (plain, valid requests) before the fuzzing starts."""

    def __init__(self, base: str, token: str, ca_bundle: str) -> None:
        import httpx

        self.client = httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=ca_bundle),
                                   headers={"authorization": f"Bearer {token}", "anthropic-beta": "oauth-2025-04-20"})

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.client.post(path, json=body)
        r.raise_for_status()
        return r.json()


# ── the run ────────────────────────────────────────────────────────────────────────────────────────


@dataclass
class Tally:
    sent: int = 0
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    hangs: int = 0
    dropped: int = 0  # the server closed or reset the connection: no answer at all
    server_errors: int = 0
    transport_errors: collections.Counter[str] = field(default_factory=collections.Counter)
    examples_5xx: list[str] = field(default_factory=list)
    examples_transport: list[str] = field(default_factory=list)
    seconds: float = 0.0


async def fuzz_one(mock: str, targets: Targets, *, requests: int, deadline: float, concurrency: int,
                   max_seconds: float, seed: int, ca_bundle: str) -> Tally:
    import httpx

    rng = random.Random(f"{seed}:{mock}")
    builders = targets.builders(mock)
    weights = [w for w, _ in builders]
    plan = [rng.choices(builders, weights)[0][1](rng) for _ in range(requests)]
    tally = Tally()
    queue = collections.deque(plan)
    stop_at = time.monotonic() + max_seconds
    verify = ssl.create_default_context(cafile=ca_bundle)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: Any) -> None:
        while queue and time.monotonic() < stop_at:
            req = queue.popleft()
            tally.sent += 1
            # No HTTP client can send control characters or outer whitespace in a header value.
            headers = [(name, bytes(b for b in value if b >= 0x20 and b != 0x7F).strip() or b"-")
                       for name, value in req.headers]
            try:
                async with asyncio.timeout(deadline):
                    response = await client.request(req.method, req.url, headers=headers, content=req.content)
            except TimeoutError:
                tally.hangs += 1
                tally.statuses["hang"] += 1
                continue
            except httpx.HTTPError as exc:
                tally.transport_errors[type(exc).__name__] += 1
                if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError | httpx.ConnectError):
                    tally.dropped += 1
                tally.statuses[f"transport:{type(exc).__name__}"] += 1
                if len(tally.examples_transport) < 5:
                    tally.examples_transport.append(f"{req.method} {req.url[:80]} {req.headers!r:.200} -> {exc!r:.200}")
                continue
            tally.statuses[str(response.status_code)] += 1
            if response.status_code >= 500:
                tally.server_errors += 1
                if len(tally.examples_5xx) < 5:
                    tally.examples_5xx.append(f"{req.method} {req.url[:100]} -> {response.status_code} "
                                              f"{response.text[:200]!r}")

    t0 = time.perf_counter()
    async with httpx.AsyncClient(verify=verify, limits=limits, timeout=deadline) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    tally.seconds = time.perf_counter() - t0
    return tally


def measure(args: argparse.Namespace) -> int:
    from wif_lab.mock.stack import MockStack

    results: dict[str, Tally] = {}
    with tempfile.TemporaryDirectory() as tmp:
        stack = MockStack(Path(tmp))
        conn = stack.start()
        try:
            targets = Targets(stack, conn)
            for mock in args.mocks:
                tally = asyncio.run(fuzz_one(mock, targets, requests=args.requests, deadline=args.deadline,
                                             concurrency=args.concurrency, max_seconds=args.max_seconds,
                                             seed=args.seed, ca_bundle=conn["ca_bundle"]))
                results[mock] = tally
                if not args.json:
                    report(mock, tally, args)
        finally:
            stack.stop()
    if args.json:
        print(json.dumps({mock: {"sent": t.sent, "statuses": dict(t.statuses), "server_errors": t.server_errors,
                                 "hangs": t.hangs, "dropped": t.dropped, "transport_errors": dict(t.transport_errors),
                                 "examples_5xx": t.examples_5xx, "seconds": round(t.seconds, 2)}
                          for mock, t in results.items()}))
    else:
        total_5xx = sum(t.server_errors for t in results.values())
        total_hangs = sum(t.hangs for t in results.values())
        total_dropped = sum(t.dropped for t in results.values())
        print(f"total              {sum(t.sent for t in results.values())} requests, {total_5xx} 5xx, "
              f"{total_hangs} hangs, {total_dropped} dropped")
    return 0


def report(mock: str, tally: Tally, args: argparse.Namespace) -> None:
    histogram = ", ".join(f"{code}: {count}" for code, count in sorted(tally.statuses.items()))
    rate = tally.sent / tally.seconds if tally.seconds else 0.0
    print(f"{mock:<11} sent {tally.sent:>6}  5xx {tally.server_errors:>3}  hangs {tally.hangs:>3}  "
          f"dropped {tally.dropped:>3}  "
          f"({tally.seconds:5.1f} s, {rate:4.0f} req/s, deadline {args.deadline:g} s)")
    print(f"{'':<11} statuses  {histogram}")
    for example in tally.examples_5xx:
        print(f"{'':<11} 5xx       {example}")
    for example in tally.examples_transport if args.verbose else ():
        print(f"{'':<11} transport {example}")
    sys.stdout.flush()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000, help="hostile requests per mock (default 10000)")
    parser.add_argument("--deadline", type=float, default=10.0, help="seconds one request may take (default 10)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight per mock (default 8)")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="stop a mock's run after this long")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mocks", nargs="+", choices=MOCKS, default=list(MOCKS))
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--verbose", action="store_true", help="also show requests that failed to send")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        sys.exit(measure(args))
    py = ensure([])
    sys.exit(run(py, [__file__, "--inside", *sys.argv[1:]]))
