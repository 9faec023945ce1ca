"""STS's HTTP surface: the query protocol's request parameters → the account's models → the XML answer
(moto's ``responses`` and ``urls`` in one file, the routing table at the bottom).

A query-protocol request is ``POST /`` with a form body (or ``GET /?…``): ``Action``, ``Version=2011-06-15``
and the action's members, lists flattened as ``Audience.member.1=…``, structures as
``Tags.member.1.Key=…``. The signature is checked first (:mod:`.sigv4`), then the action and its members
(Coral's ``ValidationError`` messages), then the operation's own rules (:mod:`.models`). Actions:
``GetWebIdentityToken`` and ``GetCallerIdentity``; any other answers ``InvalidAction``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ..inbound import Rejected, json_object, pairs, read_body
from . import errors, models
from .errors import IAM_NAMESPACE, NAMESPACE, XML, xml_document, xml_text
from .sigv4 import SignedRequest, verify

VERSION = "2011-06-15"
IAM_VERSION = "2010-05-08"
IAM_ACTIONS = ("EnableOutboundWebIdentityFederation", "DisableOutboundWebIdentityFederation",
               "GetOutboundWebIdentityFederationInfo")
MAX_BODY_BYTES = 64 * 1024
MAX_AUDIENCES, MAX_AUDIENCE_LENGTH = 10, 1000
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 50, 128, 256
MAX_FIELDS = 400  # room for the largest valid request (10 audiences, 50 tags) and the invalid ones past it
_TAG_KEY = re.compile(r"^[\w\s.:/=+\-@]+$", re.UNICODE)  # the model's [\p{L}\p{Z}\p{N}_.:/=+\-@]+
_MEMBER = re.compile(r"^(?P<list>Audience|Tags)\.member\.(?P<index>[1-9][0-9]{0,2})(?:\.(?P<part>Key|Value))?\Z")


def _value(value: str) -> str:
    return value if len(value) <= 100 else value[:100] + "…"


def _list_members(params: dict[str, str], name: str) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = {}
    for key, value in params.items():
        match = _MEMBER.match(key)
        if match and match.group("list") == name:
            found.setdefault(int(match.group("index")), {})[match.group("part") or ""] = value
    return found


def _validate(params: dict[str, str]) -> tuple[list[str], str, int, list[tuple[str, str]]]:
    """The members of a GetWebIdentityToken request, or the ValidationError listing every problem."""
    problems: list[str] = []
    audiences = [m.get("", "") for _, m in sorted(_list_members(params, "Audience").items())]
    if not audiences:
        problems.append("Value null at 'audience' failed to satisfy constraint: Member must not be null")
    elif len(audiences) > MAX_AUDIENCES:
        shown = _value(", ".join(audiences))
        problems.append(f"Value '[{shown}]' at 'audience' failed to satisfy constraint: Member must have length "
                        f"less than or equal to {MAX_AUDIENCES}")
    for aud in audiences:
        if not 1 <= len(aud) <= MAX_AUDIENCE_LENGTH:
            problems.append(f"Value '{_value(aud)}' at 'audience' failed to satisfy constraint: Member must have "
                            f"length between 1 and {MAX_AUDIENCE_LENGTH}")
            break
    algorithm = params.get("SigningAlgorithm")
    if algorithm is None:
        problems.append("Value null at 'signingAlgorithm' failed to satisfy constraint: Member must not be null")
    elif algorithm not in models.ALGORITHMS:
        problems.append(f"Value '{_value(algorithm)}' at 'signingAlgorithm' failed to satisfy constraint: Member "
                        f"must satisfy enum value set: [{', '.join(sorted(models.ALGORITHMS))}]")
    duration = models.DEFAULT_DURATION
    raw = params.get("DurationSeconds")
    if raw is not None:
        low, high = models.DURATION_RANGE
        if not re.fullmatch(r"-?[0-9]{1,10}", raw):
            problems.append(f"Value '{_value(raw)}' at 'durationSeconds' failed to satisfy constraint: Member must "
                            "be an integer")
        else:
            duration = int(raw)
            if duration < low:
                problems.append(f"Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must "
                                f"have value greater than or equal to {low}")
            elif duration > high:
                problems.append(f"Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must "
                                f"have value less than or equal to {high}")
    members = _list_members(params, "Tags")
    if len(members) > MAX_TAGS:
        problems.append(f"Value at 'tags' failed to satisfy constraint: Member must have length less than or equal "
                        f"to {MAX_TAGS}")
    tags: list[tuple[str, str]] = []
    for index, tag in sorted(members.items()):
        key, value = tag.get("Key"), tag.get("Value")
        where = f"tags.{index}.member"
        if key is None or value is None:
            missing = "key" if key is None else "value"
            problems.append(f"Value null at '{where}.{missing}' failed to satisfy constraint: Member must not be null")
            continue
        if not 1 <= len(key) <= MAX_TAG_KEY or not _TAG_KEY.match(key):
            problems.append(f"Value '{_value(key)}' at '{where}.key' failed to satisfy constraint: Member must have "
                            f"length between 1 and {MAX_TAG_KEY} and satisfy regular expression pattern: "
                            r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+")
        if len(value) > MAX_TAG_VALUE or (value and not _TAG_KEY.match(value)):
            problems.append(f"Value '{_value(value)}' at '{where}.value' failed to satisfy constraint: Member must "
                            f"have length less than or equal to {MAX_TAG_VALUE} and satisfy regular expression "
                            r"pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]*")
        tags.append((key, value))
    if problems:
        raise errors.validation_error(problems)
    return audiences, str(algorithm), duration, tags


def _answer(action: str, result: Iterable[tuple[str, str]] | None, request_id: str, *,
            namespace: str = NAMESPACE) -> Response:
    root = ElementTree.Element(f"{action}Response", xmlns=namespace)
    if result is not None:  # an operation without output answers with the metadata alone
        wrapper = ElementTree.SubElement(root, f"{action}Result")
        for name, text in result:
            ElementTree.SubElement(wrapper, name).text = xml_text(text)
    metadata = ElementTree.SubElement(root, "ResponseMetadata")
    ElementTree.SubElement(metadata, "RequestId").text = request_id
    return Response(xml_document(root), media_type=XML, headers={"x-amzn-RequestId": request_id})


def _url(request: Request) -> str:
    """The request URL as the client signed it: the Host header, the raw path and query."""
    path = request.scope.get("raw_path") or request.scope["path"].encode()
    query = request.scope.get("query_string", b"")
    url = f"{request.url.scheme}://{request.headers.get('host', '')}{path.decode('latin-1')}"
    return f"{url}?{query.decode('latin-1')}" if query else url


class StsService:
    """The routes of one regional STS endpoint for :class:`~.models.Account`."""

    def __init__(self, account: models.Account) -> None:
        self.account = account
        self.requests = 0
        self.tokens_issued = 0

    async def _params(self, request: Request) -> tuple[dict[str, str], bytes]:
        body = b""
        try:
            found = pairs(request.scope.get("query_string", b""), "query string", max_fields=MAX_FIELDS)
            if request.method == "POST":
                body = await read_body(request, MAX_BODY_BYTES)
                found += pairs(body, "request body", max_fields=MAX_FIELDS)
        except Rejected as exc:
            code = "RequestEntityTooLarge" if exc.too_large else "MalformedQueryString"  # [inferred]
            raise errors.SenderError(exc.reason, status=413 if exc.too_large else 400, code=code) from None
        return dict(found), body

    async def endpoint(self, request: Request) -> Response:
        self.requests += 1
        params, body = await self._params(request)
        signed = SignedRequest(request.method, _url(request), [(k, v) for k, v in request.headers.items()], body)
        key, service = verify(signed, region=self.account.region, keys=self.account.signing_key,
                              now=self.account.ctx.clock(), services=("sts", "iam"))
        session = self.account.session(key.access_key_id)
        action = params.get("Action", "")
        if service == "iam":
            return self._iam(action, params)
        if params.get("Version") != VERSION or action not in ("GetWebIdentityToken", "GetCallerIdentity"):
            raise errors.InvalidAction(f"Could not find operation {action} for version {params.get('Version', '')}")
        request_id = str(uuid.uuid4())
        if action == "GetCallerIdentity":
            return _answer(action, [("UserId", f"{session.role.role_id}:{session.name}"), ("Account",
                                    self.account.account_id), ("Arn", session.arn)], request_id)
        audiences, algorithm, duration, tags = _validate(params)
        token, expires = self.account.web_identity_token(session, audience=audiences, algorithm=algorithm,
                                                         duration=duration, tags=tags)
        self.tokens_issued += 1
        expiration = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return _answer(action, [("WebIdentityToken", token), ("Expiration", expiration)], request_id)

    def _iam(self, action: str, params: dict[str, str]) -> Response:
        """IAM's three outbound-federation actions (the lab's host answers for IAM too; AWS has iam.amazonaws.com).

        Lab deviation: any of the account's sessions may call them (no IAM policy is evaluated)."""
        if params.get("Version") != IAM_VERSION or action not in IAM_ACTIONS:
            raise errors.IamInvalidAction(f"Could not find operation {action} for version "
                                          f"{params.get('Version', '')}")
        request_id = str(uuid.uuid4())
        enabled = self.account.federation_enabled
        if action == "EnableOutboundWebIdentityFederation":
            if enabled:
                raise errors.FeatureEnabled(errors.ALREADY_ENABLED)
            self.account.set_federation(True)
            return _answer(action, [("IssuerIdentifier", self.account.issuer)], request_id, namespace=IAM_NAMESPACE)
        if not enabled:
            raise errors.FeatureDisabled(errors.NOT_ENABLED)
        if action == "DisableOutboundWebIdentityFederation":
            self.account.set_federation(False)
            return _answer(action, None, request_id, namespace=IAM_NAMESPACE)
        return _answer(action, [("IssuerIdentifier", self.account.issuer), ("JwtVendingEnabled", "true")],
                       request_id, namespace=IAM_NAMESPACE)

    # -- the issuer documents

    def _ours(self, request: Request) -> bool:
        return request.path_params["issuer"] == f"{self.account.issuer_id}{models.ISSUER_SUFFIX}"

    async def discovery(self, request: Request) -> Response:
        if not self._ours(request):
            return PlainTextResponse("Not Found", status_code=404)
        return JSONResponse(self.account.discovery())

    async def jwks(self, request: Request) -> Response:
        if not self._ours(request):
            return PlainTextResponse("Not Found", status_code=404)
        return JSONResponse(self.account.jwks())

    # -- lab only: what IAM's console (or API) and the credential provider would change

    async def lab_federation(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await json_object(request)
            except Rejected as exc:
                return JSONResponse({"error": exc.reason}, status_code=400)
            if not isinstance(body.get("enabled"), bool):
                return JSONResponse({"error": "body must be {\"enabled\": true|false}"}, status_code=400)
            self.account.set_federation(body["enabled"])
        return JSONResponse(self.federation_info())

    def federation_info(self) -> dict[str, Any]:
        return {"enabled": self.account.federation_enabled, "issuer": self.account.issuer}

    async def lab_sessions(self, request: Request) -> Response:
        usage = (f"body must be {{\"role\": one of {', '.join(self.account.roles)}, \"seconds\": "
                 f"{models.SESSION_RANGE[0]}..{models.SESSION_RANGE[1]}}}")
        try:
            body = await json_object(request, empty_ok=True)
        except Rejected as exc:
            return JSONResponse({"error": f"{exc.reason}; {usage}"}, status_code=400)
        role = body.get("role", models.DEFAULT_ROLE)
        seconds = body.get("seconds", 3600)
        if not isinstance(role, str) or role not in self.account.roles or type(seconds) is not int \
                or not models.SESSION_RANGE[0] <= seconds <= models.SESSION_RANGE[1]:
            return JSONResponse({"error": usage}, status_code=400)
        return JSONResponse(credentials(self.account.new_session(role, seconds=seconds)))


def credentials(session: models.Session) -> dict[str, Any]:
    """A session's credentials as the credential providers hand them out (and the lab's connection file)."""
    return {
        "role_arn": session.role.arn,
        "session_arn": session.arn,
        "access_key_id": session.key.access_key_id,
        "secret_access_key": session.key.secret_access_key,
        "session_token": session.key.session_token,
        "expiration": datetime.fromtimestamp(session.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
