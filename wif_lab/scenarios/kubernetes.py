"""A self-managed cluster: what the pod sees, the issuer Anthropic cannot reach, and the lab's changes to it.

The pod's settings are the token file (``ANTHROPIC_IDENTITY_TOKEN_FILE``) and the API server to read the
issuer from: the lab's values in mock mode, the pod's own (the variable, the in-cluster service host and
default token) in live mode; a notebook parameter wins over either.

Changes to the cluster (the kubelet refreshing files now, the API server restarted with a new signing key)
go through the cluster's ``/lab/…`` routes, so they work on the embedded lab and on an attached
``wif-lab mock serve`` alike; in live mode they return a :class:`~wif_lab.runbook.Note` instead. Nothing
here imports a mock. Tables take data and return a :class:`~wif_lab.display.Table`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from string import Template
from typing import Any

from .. import http
from ..display import Table, summary, verdicts_table
from ..errors import ConfigurationError, WifLabError
from ..providers.kubernetes import (
    IN_CLUSTER_HOST,
    POD_TOKEN_PATH,
    SERVICE_ACCOUNT_DIR,
    TOKEN_FILE_VARIABLE,
    ApiServer,
    KubernetesRefused,
    read_token_file,
)
from ..redact import Secret
from ..rules import evaluate
from ..runbook import Note, Runbook, Settings
from ..tokens import decode, utc

SECTION = "kubernetes"
REFRESH_FRACTION = 0.8  # the kubelet's refresh point, as a fraction of the requested lifetime
KUBERNETES_VERSION = "1.31"  # schemas kubernetes-validate ships (1.25 … 1.37); 1.31 is widely deployed
JWK_MEMBERS = ("kty", "kid", "alg", "use", "n", "e", "crv", "x", "y")  # what an inline registration keeps


# --- the pod's view ----------------------------------------------------------------------------------


class PodSettings(Settings):
    """The pod's settings, shown without the lab's machine-specific folder in front of the token file."""

    def table(self, title: str = "What the pod has") -> Table:
        return summary(title, {k: shown_path(v) if k == "token_file" else v for k, v in self.items()})


def pod_settings(rb: Runbook, *, token_file: str = "", api_server: str = "") -> PodSettings:
    """The token file and API server: parameters first, then the lab's pod (mock) or this pod (live)."""
    if rb.lab is not None:
        section = rb.lab.section(SECTION)
        values = {"token_file": token_file or section["token_file"], "api_server": api_server or section["api_server"],
                  "subject": section["subject"], "audience": section["audience"],
                  "expiration_seconds": section["expiration_seconds"]}
        return PodSettings(values)
    path = token_file or os.environ.get(TOKEN_FILE_VARIABLE) or POD_TOKEN_PATH
    claims = decode(read_token_file(path)).claims
    aud = claims.get("aud")
    return PodSettings({"token_file": path, "api_server": api_server or _in_cluster_url(),
                     "subject": claims.get("sub"), "audience": aud[0] if isinstance(aud, list) and aud else aud,
                     "expiration_seconds": _lifetime(claims)})


def _in_cluster_url() -> str:
    host, port = os.environ.get(IN_CLUSTER_HOST), os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        return ""
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def _lifetime(claims: Mapping[str, Any]) -> int | None:
    exp, iat = claims.get("exp"), claims.get("iat")
    return exp - iat if isinstance(exp, int) and isinstance(iat, int) else None


def api_server(rb: Runbook, pod: Settings) -> ApiServer | Note:
    """``kubectl``'s view of the API server: the lab's kubeconfig credential, or this pod's default token."""
    if rb.lab is not None:
        section = rb.lab.section(SECTION)
        return ApiServer(pod.api_server, token=section["admin_token"], verify=rb.verify)
    if not pod.api_server:
        return Note("live mode: no API server (not in a pod, and the api_server parameter is empty). On a machine "
                    "with kubectl: `kubectl get --raw /openid/v1/jwks` prints the keys an inline issuer lists.")
    if os.environ.get(IN_CLUSTER_HOST) and pod.api_server == _in_cluster_url():
        return ApiServer.in_cluster()
    return ApiServer(pod.api_server, verify=rb.verify)  # e.g. `kubectl proxy`'s or a public endpoint


def default_token_file(rb: Runbook, *, workload: str = "") -> str:
    """The default ``kube-api-access`` token file of the lab's pod (or of ``workload``, e.g. ``other_workload``);
    in live mode this pod's own."""
    if rb.lab is None:
        return f"{SERVICE_ACCOUNT_DIR}/token"
    section = rb.lab.section(SECTION)
    return (section[workload] if workload else section)["default_token_file"]


def shown_path(path: str) -> str:
    """A lab token file without the machine-specific folder in front of it."""
    head, sep, rest = str(path).partition("/kubernetes_cluster/")
    return f"<lab run dir>/kubernetes_cluster/{rest}" if sep and head else str(path)


def token_file_facts(token: str, *, path: str, max_lifetime: int | None = None) -> Table:
    """What matters about one token file: audience, lifetime, when the kubelet replaces it, the key id."""
    decoded = decode(token)
    claims = decoded.claims
    block = claims.get("kubernetes.io") if isinstance(claims.get("kubernetes.io"), dict) else {}
    lifetime = decoded.lifetime_seconds
    requested = (block.get("warnafter") - claims["iat"]) if isinstance(block.get("warnafter"), int) else lifetime
    rows: dict[str, Any] = {
        "file": shown_path(path),
        "aud": claims.get("aud"),
        "sub": claims.get("sub"),
        "kid (which key signed it)": decoded.header.get("kid"),
        "exp − iat (seconds)": lifetime,
    }
    if "warnafter" in block:
        rows["warnafter (kubernetes.io)"] = (f"{utc(block['warnafter'])}: the kubelet asked for {requested} s; the "
                                             "API server stretched exp to a year and marks when to re-read")
    if isinstance(requested, int):
        rows["kubelet replaces the file after"] = f"{int(REFRESH_FRACTION * requested)} s (80 % of {requested} s)"
    if max_lifetime is not None and lifetime is not None:
        verdict = "fits" if lifetime <= max_lifetime else "exceeds"
        rows["against max_jwt_lifetime_seconds"] = f"{lifetime} {verdict} {max_lifetime}"
    return summary("Token file", rows)


# --- the issuer ----------------------------------------------------------------------------------------


def inline_keys(jwks: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``keys`` an inline issuer registers: the JWKS's public members only, as the guide registers them."""
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        raise ConfigurationError("the JWKS has no keys array", hint="the output of `kubectl get --raw /openid/v1/jwks`")
    return [{m: key[m] for m in JWK_MEMBERS if m in key} for key in keys if isinstance(key, dict)]


def keys_table(registered: Any, published: Mapping[str, Any], token: str | None = None) -> Table:
    """Key ids side by side: registered with Anthropic (inline), published by the API server, signing the token."""
    jwks = getattr(registered, "jwks", None)
    listed = getattr(jwks, "keys", None) or []
    inline = [k.kid if hasattr(k, "kid") else k.get("kid") for k in listed]
    served = [k.get("kid") for k in published.get("keys", []) if isinstance(k, dict)]
    signing = decode(token).header.get("kid") if token else None
    rows = []
    for kid in dict.fromkeys([*inline, *served, *([signing] if signing else [])]):
        rows.append((kid, "✓" if kid in inline else "✗", "✓" if kid in served else "✗",
                     "← signs the token file" if kid == signing else ""))
    return Table("Key ids: what Anthropic has, what the API server publishes", [
        "kid", "registered with Anthropic (inline)", "published at /openid/v1/jwks", "current token"], rows)


def try_register(register: Callable[[], Any], title: str) -> Table:
    """A registration shown as an outcome: the object's id, or the Admin API's refusal (never raised)."""
    try:
        obj = register()
    except WifLabError as exc:
        return summary(title, {"outcome": "refused", "error": exc.message, "check next": exc.hint})
    except Exception as exc:  # the SDK's 400 invalid_request_error: an answer worth showing
        body = getattr(exc, "body", None)
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else str(exc)
        return summary(title, {"outcome": "refused", "HTTP status": getattr(exc, "status_code", "?"),
                               "error": error.get("type") if isinstance(error, dict) else type(exc).__name__,
                               "message": message})
    if obj is None:
        return summary(title, {"outcome": "skipped (live mode)"})
    return summary(title, {"outcome": "accepted", "id": obj.id})


# --- the lab's cluster changes (through /lab routes) -------------------------------------------------------


def _lab_post(rb: Runbook, key: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    assert rb.lab is not None
    url = rb.lab.section(SECTION)[key]
    response = http.request("POST", url, what="the lab cluster", verify=rb.verify, deadline=10, json=payload or {},
                            hint="that the lab is running (wif-lab mock serve, or this kernel's lab)")
    if response.status_code != 200:
        raise KubernetesRefused(f"the lab cluster answered {response.status_code}", status=response.status_code,
                                code=None, causes=[], hint="the lab's connection file is from another run")
    return dict(response.json())


def rotate_tokens(rb: Runbook) -> Table | Note:
    """The kubelet rewrites every token file now (lab): each file gets a new token, with a new ``jti``."""
    if rb.lab is None:
        return Note("live mode: the kubelet rewrites the file by itself at about 80 % of its lifetime; nothing to do.")
    rotated = _lab_post(rb, "rotate_url")["rotated"]
    return Table("The kubelet rewrote the token files", ["pod", "file in the pod", "aud", "new jti"],
                 [(r["pod"], r["path"], r["aud"], r["jti"]) for r in rotated])


def rotate_signing_key(rb: Runbook, *, retire_previous: bool = False) -> Table | Note:
    """The API server restarts with a new signing key (lab); the old key stays published unless retired."""
    if rb.lab is None:
        return Note("live mode: the signing key changes when the cluster's service-account key files do "
                    "(--service-account-signing-key-file / --service-account-key-file), typically at an upgrade.")
    answer = _lab_post(rb, "rotate_signing_key_url", {"retire_previous": retire_previous})
    return summary("The API server now signs with a new key", {
        "new signing kid": answer["kid"], "kids published at /openid/v1/jwks": answer["jwks_kids"]})


# --- TokenRequest and the audience risk ---------------------------------------------------------------------


def try_token_request(rb: Runbook, api: ApiServer | Note, title: str, namespace: str, service_account: str,
                      **request: Any) -> Table | Note:
    """``kubectl create token`` shown as an outcome: the token's facts, or the API server's Status (lab only:
    a runbook creates no tokens in your cluster)."""
    if rb.lab is None or isinstance(api, Note):
        return Note("lab-only: no tokens are created in your cluster (`kubectl create token` answers the same way)")
    try:
        issued = api.create_token(namespace, service_account, **request)
    except KubernetesRefused as exc:
        rows: dict[str, Any] = {"outcome": "refused", "HTTP status": exc.status, "reason": exc.code,
                                "message": exc.description}
        for cause in exc.causes:
            rows[f"cause: {cause.get('field')}"] = cause.get("message")
        rows["check next"] = exc.hint
        return summary(title, rows)
    decoded = decode(issued.token)
    return summary(title, {"outcome": "issued", "aud": decoded.claims.get("aud"), "sub": decoded.claims.get("sub"),
                           "exp − iat (seconds)": decoded.lifetime_seconds,
                           "expirationTimestamp": issued.expiration_timestamp})


def issued_token(rb: Runbook, api: ApiServer | Note, namespace: str, service_account: str,
                 **request: Any) -> Secret | None:
    """A token from ``kubectl create token`` (lab only; ``None`` in live mode)."""
    if rb.lab is None or isinstance(api, Note):
        return None
    return api.create_token(namespace, service_account, **request).token


def lab_token(rb: Runbook, path: str) -> Secret | None:
    """A token file's content for a lab-only demonstration (``None`` in live mode: nothing extra is read)."""
    return read_token_file(path) if rb.lab is not None else None


def preflight_if_expected(issuer: Any, rules: Mapping[str, Any], token: str | None, *,
                          expected_audience: str) -> list[Table | Note]:
    """Each rule judged against ``token`` as if Anthropic's expected audience for this issuer were
    ``expected_audience`` (what the guide's warning is about); the rules engine the mock uses, no exchange."""
    if token is None or issuer is None or any(rule is None for rule in rules.values()):
        return [Note("preflight skipped: lab-only objects (live mode)")]
    claims = decode(token).claims
    return [verdicts_table(evaluate(issuer, rule, claims, default_audience=expected_audience),
                           title=f"{name}, if Anthropic expected aud {expected_audience!r}")
            for name, rule in rules.items()]


def exchanges_table(rb: Runbook, rule: Any, *, last: int = 5) -> Table | Note:
    """The newest authentication events of ``rule`` (lab: its history; live: the Console's)."""
    if rb.lab is None or rule is None:
        return Note("live mode: Console → Settings → Workload identity → history lists each exchange with its reason.")
    events = rb.lab.events(federation_rule_id=rule.id, limit=last)
    rows = []
    for event in reversed(events):
        token = event.get("event_data", {}).get("oidc_token") or {}
        status = event.get("status", {})
        rows.append((event.get("created_at"), status.get("outcome"), status.get("reason") or "—", token.get("jti")))
    return Table(f"Authentication history of {rule.name} (oldest first)", ["when", "outcome", "reason", "jti"], rows)


# --- the manifests a workload ships -------------------------------------------------------------------------


def render_manifest(path: str | Path, values: Mapping[str, str]) -> list[dict[str, Any]]:
    """The manifest with ``${VAR}`` filled as ``envsubst`` would; every variable must have a value."""
    import yaml

    text = Path(path).read_text()
    try:
        filled = Template(text).substitute(values)
    except KeyError as exc:
        raise ConfigurationError(f"{path} uses ${{{exc.args[0]}}}, which has no value",
                                 hint="pass every variable the manifest names") from exc
    return [doc for doc in yaml.safe_load_all(filled) if doc]


def validate_manifests(docs: Sequence[dict[str, Any]], *, version: str = KUBERNETES_VERSION) -> Table | Note:
    """Each document against the Kubernetes JSON schema of ``version``, strictly (unknown fields refused),
    offline: kubernetes-validate ships the schemas in its wheel."""
    try:
        kubernetes_validate = _kubernetes_validate()
    except ImportError:
        return Note("kubernetes-validate is not installed (pip install kubernetes-validate): "
                    "`kubectl apply --dry-run=server -f pod.yaml` checks the same against your cluster.")
    rows = []
    for doc in docs:
        name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
            rows.append((name, "valid"))
        except kubernetes_validate.ValidationError as exc:
            rows.append((name, f"invalid: {exc.message}"))
    return Table(f"Manifests against the Kubernetes {version} schemas (strict)", ["object", "result"], rows)


def _kubernetes_validate() -> Any:
    """kubernetes-validate, imported without jsonschema's IRI grammars when jsonschema is not loaded yet.

    jsonschema registers an ``iri`` format check whenever rfc3987-syntax is installed (Jupyter's own
    dependencies install it), and that package compiles some forty lark grammars as it is imported: over a
    second of a kernel's time, for a check nothing here uses. kubernetes-validate checks no formats (its
    validator has no format checker) and the Kubernetes schemas name no IRI format, so every verdict is the
    same. The cost of the shortcut: jsonschema imported later in this kernel has no ``iri`` format check.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        import kubernetes_validate

        return kubernetes_validate
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # import rfc3987_syntax now raises ImportError
    try:
        import kubernetes_validate
    finally:
        if sys.modules.get("rfc3987_syntax", ...) is None:
            del sys.modules["rfc3987_syntax"]
    return kubernetes_validate


def projection_of(docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The pod's token projection and the variable naming its file: what the lab's pod must mirror."""
    pod = next(d for d in docs if d.get("kind") == "Pod")["spec"]
    container = pod["containers"][0]
    mount = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
    for volume in pod.get("volumes", []):
        for source in volume.get("projected", {}).get("sources", []):
            if "serviceAccountToken" in source:
                token = source["serviceAccountToken"]
                env = {e["name"]: e.get("value") for e in container.get("env", [])}
                return {"audience": token.get("audience"), "expirationSeconds": token.get("expirationSeconds"),
                        "file": f"{mount[volume['name']]}/{token['path']}",
                        TOKEN_FILE_VARIABLE: env.get(TOKEN_FILE_VARIABLE),
                        "subject": f"system:serviceaccount:{_namespace(docs)}:{pod['serviceAccountName']}"}
    raise ConfigurationError("the Pod has no serviceAccountToken projection", hint="the guide's projected volume")


def _namespace(docs: Sequence[dict[str, Any]]) -> str:
    pod = next(d for d in docs if d.get("kind") == "Pod")
    return str(pod.get("metadata", {}).get("namespace", "default"))

