"""Checks of the identity provider as Anthropic will meet it: the URL it dials (https, port 443, a public
DNS name), the discovery document naming the token's ``iss`` byte for byte, the token's ``kid`` in the
JWKS with a signature that verifies, and this machine's clock against the provider's ``Date`` header."""

from __future__ import annotations

import concurrent.futures
import email.utils
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

from .. import http
from ..errors import WifLabError
from .context import ANTHROPIC_LEEWAY, Context, skipped
from .report import FAIL, LAB_NOTE, OK, Check

PRIVATE_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa", ".corp", ".intranet", ".localdomain")
DNS_TIMEOUT = 3.0
DEADLINE = 10.0


def jwks_mode(ctx: Context) -> dict[str, Any]:
    """The registered issuer's ``jwks`` (``{"type": "discovery"}`` when it was not read back)."""
    jwks = getattr(ctx.issuer, "jwks", None)
    if jwks is None:
        return {"type": "discovery"}
    return jwks.model_dump() if hasattr(jwks, "model_dump") else dict(jwks)


def dialed_url(ctx: Context) -> str | None:
    """What Anthropic fetches first: the discovery base (the issuer URL unless overridden), or the JWKS URL.

    The token's ``iss`` stands for the issuer URL: a registered URL that differs from it is its own finding
    (the registered-issuer check), and with it no token verifies anyway.
    """
    assert ctx.decoded is not None
    jwks = jwks_mode(ctx)
    if jwks.get("type") == "inline":
        return None
    if jwks.get("type") == "explicit_url":
        return str(jwks.get("url"))
    return str(jwks.get("discovery_base") or ctx.decoded.issuer)


def check_url(ctx: Context) -> Check:
    title = "Issuer reachable by Anthropic (https, 443, public DNS)"
    url = dialed_url(ctx)
    if url is None:
        return Check("issuer.url", title, OK, "the issuer's keys are registered inline: Anthropic fetches nothing")
    problem = reachability_problem(url)
    data = {"url": url, "problem": problem}
    if problem is None:
        return Check("issuer.url", title, OK, f"{url}: https on 443 with a public DNS name", data=data)
    if ctx.is_lab or _loopback(ctx.rb.base_url):
        return Check("issuer.url", title, LAB_NOTE,
                     f"{url}: the lab's issuers live on this machine, on loopback ports, where its Claude API can "
                     "reach them (a documented lab deviation); a real issuer must be https on port 443 with a public "
                     "DNS name", data=data)
    return Check("issuer.url", title, FAIL, f"{url}: {problem}, so Anthropic's servers cannot fetch its keys",
                 "serve the discovery document and JWKS over https on 443 under a public DNS name, or register the "
                 "issuer with jwks type inline (the public keys pasted) when the identity provider is private", data)


def reachability_problem(url: str) -> str | None:
    """Why Anthropic's servers could not fetch ``url``, or None."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return f"the scheme is {parts.scheme or 'missing'}, not https"
    try:
        port = parts.port
    except ValueError:
        return "the port is not a number"
    if port not in (None, 443):
        return f"port {port}, not 443"
    host = (parts.hostname or "").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        kind = "a loopback" if address.is_loopback else "a private" if address.is_private else "an"
        return f"{host} is {kind} IP address, not a DNS name"
    if "." not in host:
        return f"{host!r} is a single-label name that only resolves inside its own network"
    if host.endswith(PRIVATE_SUFFIXES) or host == "localhost":
        return f"{host} is a private name"
    private = _resolves_privately(host)
    if private:
        return f"{host} resolves only to private addresses ({', '.join(private)})"
    return None


def _resolves_privately(host: str) -> list[str]:
    """The addresses of ``host`` when all are private (none reachable from the internet), else []."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        infos = pool.submit(socket.getaddrinfo, host, 443, type=socket.SOCK_STREAM).result(timeout=DNS_TIMEOUT)
    except (OSError, concurrent.futures.TimeoutError):
        return []  # cannot tell from here; the discovery check reports an unreachable host
    finally:
        pool.shutdown(wait=False)
    addresses = sorted({str(info[4][0]) for info in infos})
    parsed = [ipaddress.ip_address(a.split("%")[0]) for a in addresses]
    if parsed and all(a.is_private or a.is_loopback or a.is_link_local for a in parsed):
        return addresses
    return []


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _get(ctx: Context, url: str, what: str) -> httpx.Response:
    started = ctx.now()
    response = http.request("GET", url, what=what, verify=ctx.rb.verify, deadline=DEADLINE)
    if ctx.date_header is None and response.headers.get("date"):
        ctx.date_header = response.headers["date"]
        ctx.date_at = (started + ctx.now()) / 2
    return response


def check_discovery(ctx: Context) -> Check:
    title = "Discovery document names the token's iss"
    assert ctx.decoded is not None
    jwks = jwks_mode(ctx)
    if jwks.get("type") != "discovery":
        return skipped("issuer.discovery", title, f"the issuer registers its keys as {jwks.get('type')}: Anthropic "
                       "reads no discovery document")
    iss = str(ctx.decoded.issuer)
    base = str(jwks.get("discovery_base") or iss)
    url = base.rstrip("/") + "/.well-known/openid-configuration"
    data: dict[str, Any] = {"url": url, "iss": iss}
    try:
        response = _get(ctx, url, "the issuer's discovery document")
    except WifLabError as exc:
        return Check("issuer.discovery", title, FAIL, exc.message, exc.hint or "that the issuer URL is right", data)
    if response.status_code != 200:
        return Check("issuer.discovery", title, FAIL, f"{url} answered HTTP {response.status_code}",
                     "register the issuer URL the token's iss names (its discovery document lives under it)", data)
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("jwks_uri"), str):
        return Check("issuer.discovery", title, FAIL, f"{url} is not a discovery document with a jwks_uri",
                     "the URL must serve the identity provider's OpenID configuration", data)
    ctx.discovery = doc
    data.update(issuer=doc.get("issuer"), jwks_uri=doc["jwks_uri"])
    if doc.get("issuer") != iss:
        return Check("issuer.discovery", title, FAIL,
                     f"the document names issuer {doc.get('issuer')!r}, the token's iss is {iss!r} "
                     f"({difference(iss, str(doc.get('issuer')))})",
                     ("the issuer's jwks.discovery_base must be the base of the token's own issuer (or leave it "
                      "out)" if jwks.get("discovery_base") else
                      "the identity provider's discovery document must name the issuer its tokens carry: check "
                      "which authorization server or tenant issued the token"), data)
    return Check("issuer.discovery", title, OK, f"{url} names issuer {iss}, the token's iss byte for byte",
                 data=data)


def difference(want: str, got: str) -> str:
    """How two issuer strings differ, in words."""
    if want.rstrip("/") == got.rstrip("/"):
        return "they differ only in the trailing slash"
    if want.lower() == got.lower():
        return "they differ only in letter case"
    if urlsplit(want).path != urlsplit(got).path and urlsplit(want).netloc == urlsplit(got).netloc:
        return "same host, different path"
    return "different hosts"


def check_jwks(ctx: Context) -> Check:
    title = "The token's kid is published, and the signature verifies"
    assert ctx.decoded is not None
    jwks = jwks_mode(ctx)
    kid, alg = ctx.decoded.header.get("kid"), ctx.decoded.header.get("alg")
    if jwks.get("type") == "inline":
        keys, where = list(jwks.get("keys") or []), "the issuer's inline keys"
    else:
        uri = str(jwks.get("url") if jwks.get("type") == "explicit_url" else (ctx.discovery or {}).get("jwks_uri"))
        where = uri
        try:
            response = _get(ctx, uri, "the issuer's JWKS")
            keys = [k for k in response.json()["keys"] if isinstance(k, dict)]
        except WifLabError as exc:
            return Check("issuer.jwks", title, FAIL, exc.message, exc.hint or "the JWKS URL", {"jwks_uri": uri})
        except (ValueError, KeyError, TypeError):
            return Check("issuer.jwks", title, FAIL, f"{uri} is not a JWKS (a JSON object with keys)",
                         "the jwks_uri must serve the provider's public keys", {"jwks_uri": uri})
    data = {"jwks": where, "kid": kid, "kids_published": [k.get("kid") for k in keys]}
    key = next((k for k in keys if k.get("kid") == kid), None)
    if key is None:
        return Check("issuer.jwks", title, FAIL, f"kid {kid!r} is not among the {len(keys)} keys at {where}",
                     "the token was signed by another issuer or key: keys rotated (inline keys need updating), or "
                     "the token comes from a different authorization server or tenant", data)
    try:
        jwt.decode(ctx.token.reveal() if ctx.token else "", jwt.PyJWK(key, algorithm=alg).key, algorithms=[str(alg)],
                   options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                            "verify_iss": False})
    except jwt.PyJWTError as exc:
        return Check("issuer.jwks", title, FAIL, f"kid {kid!r} is published, but the signature does not verify with "
                     f"it ({type(exc).__name__})", "the token was altered, or a key was reused under another kid", data)
    return Check("issuer.jwks", title, OK, f"kid published at {where}, and the signature verifies with it", data=data)


def check_clock(ctx: Context) -> Check:
    title = "This clock against the identity provider's Date header"
    if ctx.date_header is None or ctx.date_at is None:
        return skipped("clock", title, "no answer from the identity provider carried a Date header")
    try:
        server = email.utils.parsedate_to_datetime(ctx.date_header).timestamp()
    except (TypeError, ValueError):
        return skipped("clock", title, f"the Date header {ctx.date_header!r} is not an HTTP date")
    skew = ctx.date_at - server
    data = {"date_header": ctx.date_header, "skew_seconds": round(skew, 1)}
    if abs(skew) <= ANTHROPIC_LEEWAY:
        return Check("clock", title, OK, f"within the {ANTHROPIC_LEEWAY} s the exchange allows", data=data)
    direction = "ahead of" if skew > 0 else "behind"
    return Check("clock", title, FAIL, f"this machine's clock is {abs(int(skew))} s {direction} the identity "
                 "provider's", "synchronise the clock (chrony, systemd-timesyncd or the cloud's time service): "
                 f"tokens look {'expired' if skew > 0 else 'not yet valid'} beyond {ANTHROPIC_LEEWAY} s of skew", data)
