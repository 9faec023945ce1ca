"""Checks of the identity token: the source gives one, it is a JWT Anthropic can verify, it is valid now,
and its lifetime fits the registered issuer's ``max_jwt_lifetime_seconds``."""

from __future__ import annotations

from typing import Any

from ..errors import MalformedToken
from ..tokens import ASYMMETRIC_ALGORITHMS, decode
from .context import ANTHROPIC_LEEWAY, Context
from .report import FAIL, OK, Check
from .sources import SourceProblem

MAX_ASSERTION_BYTES = 16 * 1024  # the SDK refuses a larger assertion before sending it
DEFAULT_MAX_LIFETIME = 3600  # an issuer's max_jwt_lifetime_seconds when it was never set
MANAGED_IDENTITY_LIFETIME = 86700  # exp - iat of a VM's managed-identity token (24 h + 5 min backdating)
ADVISED_MANAGED_IDENTITY_LIMIT = 90000
CLIENT_CREDENTIALS_LIMIT = 7500  # Entra client-credentials tokens live 60-90 min


def check_source(ctx: Context) -> Check:
    title = "Identity token source"
    if ctx.source is None:
        return Check("token.source", title, FAIL, "no identity token: no token file, token variable or token function "
                     "was given, and the SDK's environment names none",
                     "pass --token-file PATH or --provider okta|azure-imds|aks, or set ANTHROPIC_IDENTITY_TOKEN_FILE")
    data = {"source": ctx.source.kind, "description": ctx.source.description}
    try:
        ctx.token = ctx.source.read()
    except SourceProblem as problem:
        return Check("token.source", title, FAIL, f"{ctx.source.description}: {problem.found}", problem.fix, data)
    size = len(ctx.token.reveal().encode())
    data["bytes"] = size
    return Check("token.source", title, OK, f"read a token from {ctx.source.description}", data=data)


def check_jwt(ctx: Context) -> Check:
    title = "A JWT Anthropic can verify"
    assert ctx.token is not None
    raw = ctx.token.reveal()
    try:
        decoded = decode(raw)
    except MalformedToken as exc:
        dots = raw.count(".")
        looks = ("a 'Bearer ' prefix" if raw.lower().startswith("bearer ")
                 else "quotes around it" if raw[:1] in "'\"" else "JSON, not the token" if raw[:1] == "{"
                 else f"{dots + 1} dot-separated part{'s' if dots else ''}, not 3")
        return Check("token.jwt", title, FAIL, f"not a compact JWT ({looks}): {exc.message}",
                     "the source must give the raw token (header.claims.signature) and nothing else")
    ctx.decoded = decoded
    problems = []
    alg, kid = decoded.header.get("alg"), decoded.header.get("kid")
    if alg not in ASYMMETRIC_ALGORITHMS:
        problems.append(f"alg {alg!r} is not accepted (only RS*, PS*, ES*)")
    if not kid:
        problems.append("the header has no kid (Anthropic finds the verifying key by kid)")
    claims = decoded.claims
    if not isinstance(claims.get("iss"), str) or not claims.get("iss"):
        problems.append("no iss claim")
    if not isinstance(claims.get("sub"), str) or not claims.get("sub"):
        problems.append("no sub claim")
    for name in ("iat", "exp"):
        if not isinstance(claims.get(name), int | float) or isinstance(claims.get(name), bool):
            problems.append(f"no numeric {name} claim")
    if len(raw.encode()) > MAX_ASSERTION_BYTES:
        problems.append(f"{len(raw.encode())} bytes, over the SDK's {MAX_ASSERTION_BYTES}-byte limit")
    data = {"alg": alg, "kid": kid, "iss": claims.get("iss"), "sub": claims.get("sub"), "aud": claims.get("aud"),
            "typ": decoded.header.get("typ")}
    if problems:
        return Check("token.jwt", title, FAIL, "; ".join(problems),
                     "the identity provider's token settings: an asymmetric signing key with a kid, and iss, sub, iat "
                     "and exp in every token", data)
    return Check("token.jwt", title, OK, f"a JWT signed with {alg}, with a kid; iss, sub, iat and exp present",
                 data=data)


def check_times(ctx: Context) -> Check:
    title = "Valid now (30 s leeway)"
    assert ctx.decoded is not None
    claims, now = ctx.decoded.claims, ctx.now()
    data: dict[str, Any] = {"exp": claims.get("exp"), "iat": claims.get("iat"), "nbf": claims.get("nbf"),
                            "expires_in": int(claims["exp"] - now)}
    if claims["exp"] < now - ANTHROPIC_LEEWAY:
        fix = ("whoever writes the file has stopped refreshing it (a kubelet on an unhealthy node, a stopped sidecar), "
               "or the path names an old copy" if ctx.source is not None and ctx.source.kind == "file"
               else "the token function returns a cached token past its exp: fetch a fresh one per call")
        return Check("token.times", title, FAIL, f"expired {int(now - claims['exp'])} s ago", fix, data)
    for name in ("iat", "nbf"):
        value = claims.get(name)
        if isinstance(value, int | float) and value > now + ANTHROPIC_LEEWAY:
            return Check("token.times", title, FAIL, f"{name} is {int(value - now)} s in the future of this clock",
                         "this machine's clock and the identity provider's disagree: see the clock check", data)
    return Check("token.times", title, OK, "exp is in the future; iat and nbf are not ahead of this clock", data=data)


def check_lifetime(ctx: Context) -> Check:
    title = "exp − iat within the issuer's max_jwt_lifetime_seconds"
    assert ctx.decoded is not None and ctx.issuer is not None
    lifetime = ctx.decoded.lifetime_seconds or 0
    limit = getattr(ctx.issuer, "max_jwt_lifetime_seconds", None) or DEFAULT_MAX_LIFETIME
    data = {"lifetime_seconds": lifetime, "max_jwt_lifetime_seconds": limit}
    if lifetime <= limit:
        return Check("token.lifetime", title, OK, f"exp − iat = {lifetime} s, within the issuer's {limit} s", data=data)
    return Check("token.lifetime", title, FAIL,
                 f"exp − iat = {lifetime} s is more than the issuer's max_jwt_lifetime_seconds {limit}: every such "
                 "token is refused", _lifetime_fix(ctx.decoded.claims, lifetime), data)


def _lifetime_fix(claims: dict[str, Any], lifetime: int) -> str:
    where = ("raise max_jwt_lifetime_seconds (Claude Console → Settings → Workload identity → Issuers, or "
             "issuers.update(…, max_jwt_lifetime_seconds=N))")
    if "xms_mirid" in claims and lifetime > 86400:
        return (f"{where} to at least {MANAGED_IDENTITY_LIFETIME}, e.g. {ADVISED_MANAGED_IDENTITY_LIMIT}: Azure "
                "managed-identity tokens live 24 h + 5 min (iat is backdated 5 minutes), so the docs' 86400 is short")
    if claims.get("idtyp") == "app" and lifetime <= 5400 + 300:
        return (f"{where} to {CLIENT_CREDENTIALS_LIMIT}: Entra client-credentials tokens live a random 60–90 "
                "minutes, so size it for the longest, not this one")
    return f"{where} to at least {lifetime} (the Admin API accepts up to 176400)"
