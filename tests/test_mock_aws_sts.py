"""The mock STS in-process: SigV4 checked with botocore's signer, each documented GetWebIdentityToken error
with STS's code and status, validation, the token's shape, and the issuer documents it is verified with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode
from xml.etree import ElementTree

import jwt
import pytest
from starlette.testclient import TestClient

from tests._aws_lab import AUDIENCE, FORM, STS_BASE, build, call, error_of, signed_post, token_params
from tests._azure_lab import FakeClock
from wif_lab.mock.aws_sts import StsMock
from wif_lab.mock.aws_sts.models import CLAIMS_NAMESPACE, ISSUER_SUFFIX, MAX_PAYLOAD_BYTES
from wif_lab.mock.aws_sts.sigv4 import SigningKey, sign

NS = {"s": "https://sts.amazonaws.com/doc/2011-06-15/"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sts(state_dir: Path, clock: FakeClock) -> tuple[StsMock, TestClient]:
    return build(state_dir / "aws", clock)


def token_of(response) -> tuple[str, str]:
    assert response.status_code == 200, response.text
    root = ElementTree.fromstring(response.content)
    result = root.find("s:GetWebIdentityTokenResult", NS)
    assert result is not None
    return result.findtext("s:WebIdentityToken", namespaces=NS) or "", result.findtext("s:Expiration",
                                                                                       namespaces=NS) or ""


def verify(mock: StsMock, http: TestClient, token: str, audience: str = AUDIENCE) -> dict:
    """As a relying party: discovery under the issuer → jwks_uri → the kid's key → the header's algorithm."""
    issuer = mock.account.issuer
    doc = http.get(f"{issuer}/.well-known/openid-configuration").json()
    assert doc["issuer"] == issuer and doc["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    keys = http.get(doc["jwks_uri"]).json()["keys"]
    header = jwt.get_unverified_header(token)
    (jwk,) = [k for k in keys if k["kid"] == header["kid"]]
    # The fake clock runs ahead of the real one: times are checked by the tests, not here.
    return jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=[header["alg"]], audience=audience, issuer=issuer,
                      options={"verify_exp": False, "verify_iat": False})


# --- the token ----------------------------------------------------------------------------------


def test_token_shape_and_issuer_documents(sts: tuple[StsMock, TestClient], clock: FakeClock) -> None:
    mock, http = sts
    token, expiration = token_of(call(mock, http, token_params(duration=900, tags={"team": "ml"})))
    claims = verify(mock, http, token)
    role = mock.account.roles["inference-worker"]
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert claims["sub"] == role.arn == f"arn:aws:iam::{mock.account.account_id}:role/inference-worker"
    assert claims["iss"].endswith(ISSUER_SUFFIX) and claims["aud"] == AUDIENCE
    assert claims["iat"] == int(clock.now) and claims["exp"] - claims["iat"] == 900 and claims["jti"]
    assert "nbf" not in claims
    context = claims[CLAIMS_NAMESPACE]
    assert context["aws_account"] == mock.account.account_id and context["principal_id"] == role.arn
    assert context["source_region"] == "us-east-1" and context["request_tags"] == {"team": "ml"}
    assert expiration.endswith("Z") and expiration.startswith("2027-01-15T")


def test_defaults_es384_and_several_audiences(sts: tuple[StsMock, TestClient]) -> None:
    mock, http = sts
    token, _ = token_of(call(mock, http, token_params(algorithm="ES384", audience=[AUDIENCE, "https://other"])))
    claims = verify(mock, http, token)
    assert jwt.get_unverified_header(token)["alg"] == "ES384"
    assert claims["aud"] == [AUDIENCE, "https://other"]
    assert claims["exp"] - claims["iat"] == 300  # the default DurationSeconds
    assert "request_tags" not in claims[CLAIMS_NAMESPACE]
    other, _ = token_of(call(mock, http, token_params()))
    assert jwt.decode(other, options={"verify_signature": False})["jti"] != claims["jti"]


def test_get_caller_identity(sts: tuple[StsMock, TestClient]) -> None:
    mock, http = sts
    response = call(mock, http, [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")])
    root = ElementTree.fromstring(response.content)
    assert root.findtext("s:GetCallerIdentityResult/s:Arn", namespaces=NS) == mock.default_session.arn
    assert ":assumed-role/inference-worker/" in mock.default_session.arn


def test_issuer_documents_only_under_the_accounts_issuer(sts: tuple[StsMock, TestClient]) -> None:
    _, http = sts
    assert http.get("/someone-else.tokens.sts.global.api.aws/.well-known/jwks.json").status_code == 404


# --- the documented errors -----------------------------------------------------------------------


def test_federation_disabled_then_enabled_through_the_lab_route(state_dir: Path, clock: FakeClock) -> None:
    mock, http = build(state_dir / "aws", clock, enabled=False)
    status, code, message = error_of(call(mock, http, token_params()))
    assert (status, code) == (403, "OutboundWebIdentityFederationDisabledException") and "not enabled" in message
    assert http.get("/lab/outbound-federation").json() == {"enabled": False, "issuer": mock.account.issuer}
    assert http.post("/lab/outbound-federation", json={"enabled": True}).json()["enabled"] is True
    token_of(call(mock, http, token_params()))
    assert http.post("/lab/outbound-federation", json={"enabled": "yes"}).status_code == 400


def test_duration_escalation(sts: tuple[StsMock, TestClient]) -> None:
    mock, http = sts
    short = mock.account.new_session(seconds=900)
    status, code, _ = error_of(call(mock, http, token_params(duration=901), session=short))
    assert (status, code) == (403, "SessionDurationEscalationException")
    token_of(call(mock, http, token_params(duration=900), session=short))


def test_payload_size(sts: tuple[StsMock, TestClient]) -> None:
    mock, http = sts
    tags = {f"tag{i:02d}": "v" * 200 for i in range(50)}
    status, code, message = error_of(call(mock, http, token_params(tags=tags)))
    assert (status, code) == (400, "JWTPayloadSizeExceededException") and str(MAX_PAYLOAD_BYTES) in message
    token_of(call(mock, http, token_params(tags=dict(list(tags.items())[:5]))))


@pytest.mark.parametrize(("members", "words"), [
    ({"duration": 59}, "greater than or equal to 60"),
    ({"duration": 3601}, "less than or equal to 3600"),
    ({"duration": "soon"}, "must be an integer"),
    ({"algorithm": "HS256"}, "enum value set: [ES384, RS256]"),
    ({"algorithm": None}, "Value null at 'signingAlgorithm'"),
    ({"audience": []}, "Value null at 'audience'"),
    ({"audience": ["a"] * 11}, "less than or equal to 10"),
    ({"audience": ["x" * 1001]}, "between 1 and 1000"),
    ({"tags": {f"k{i}": "v" for i in range(51)}}, "at 'tags'"),
    ({"tags": {"bad key!": "v"}}, "tags.1.member.key"),
])
def test_validation_errors(sts: tuple[StsMock, TestClient], members: dict, words: str) -> None:
    mock, http = sts
    status, code, message = error_of(call(mock, http, token_params(**members)))
    assert (status, code) == (400, "ValidationError") and words in message
    assert message.startswith("1 validation error detected: ")


def test_validation_errors_are_counted(sts: tuple[StsMock, TestClient]) -> None:
    mock, http = sts
    _, _, message = error_of(call(mock, http, token_params(duration=10, algorithm="PS256")))
    assert message.startswith("2 validation errors detected: ")


def test_unknown_action_or_version(sts: tuple[StsMock, TestClient]) -> None:
    mock, http = sts
    for params in ([("Action", "AssumeRole"), ("Version", "2011-06-15")],
                   [("Action", "GetWebIdentityToken"), ("Version", "2010-01-01")]):
        status, code, _ = error_of(call(mock, http, params))
        assert (status, code) == (400, "InvalidAction")


# --- signatures --------------------------------------------------------------------------------


def test_unsigned_request(sts: tuple[StsMock, TestClient]) -> None:
    _, http = sts
    status, code, message = error_of(http.post("/", content=urlencode(token_params()).encode(), headers=FORM))
    assert (status, code, message) == (403, "MissingAuthenticationToken", "Request is missing Authentication Token")


def test_wrong_secret(sts: tuple[StsMock, TestClient]) -> None:
    mock, http = sts
    real = mock.default_session.key
    forged = SigningKey(real.access_key_id, "x" * 40, real.session_token, real.expires_at)
    response = signed_post(http, urlencode(token_params()).encode(), forged, now=mock.ctx.clock())
    status, code, message = error_of(response)
    assert (status, code) == (403, "SignatureDoesNotMatch") and message.startswith("The request signature we calc")


def test_body_changed_after_signing(sts: tuple[StsMock, TestClient]) -> None:
    mock, http = sts
    key = mock.default_session.key
    headers = sign("POST", f"{STS_BASE}/", urlencode(token_params(duration=60)).encode(), FORM, key=key,
                   region="us-east-1", timestamp=datetime.fromtimestamp(mock.ctx.clock(), UTC))
    response = http.post("/", content=urlencode(token_params(duration=3600)).encode(), headers=headers)
    assert error_of(response)[:2] == (403, "SignatureDoesNotMatch")


def test_unknown_key_and_missing_session_token(sts: tuple[StsMock, TestClient]) -> None:
    mock, http = sts
    body = urlencode(token_params()).encode()
    stranger = SigningKey("ASIAUNKNOWNUNKNOWN00", "s" * 40, "t", None)
    assert error_of(signed_post(http, body, stranger, now=mock.ctx.clock()))[:2] == (403, "InvalidClientTokenId")
    response = signed_post(http, body, mock.default_session.key, now=mock.ctx.clock(),
                           drop=("X-Amz-Security-Token",))
    status, code, message = error_of(response)
    assert (status, code, message) == (403, "InvalidClientTokenId", "The security token included in the request is "
                                                                     "invalid.")


def test_expired_session(sts: tuple[StsMock, TestClient], clock: FakeClock) -> None:
    mock, http = sts
    short = mock.account.new_session(seconds=900)
    clock.advance(901)
    status, code, _ = error_of(call(mock, http, token_params(), session=short))
    assert (status, code) == (400, "ExpiredToken")


def test_clock_skew_and_scope(sts: tuple[StsMock, TestClient], clock: FakeClock) -> None:
    mock, http = sts
    body = urlencode(token_params()).encode()
    key = mock.default_session.key
    _, code, message = error_of(signed_post(http, body, key, now=clock.now - 16 * 60))
    assert code == "SignatureDoesNotMatch" and message.startswith("Signature expired: ")
    _, code, message = error_of(signed_post(http, body, key, now=clock.now + 16 * 60))
    assert code == "SignatureDoesNotMatch" and message.startswith("Signature not yet current: ")
    token_of(signed_post(http, body, key, now=clock.now - 14 * 60))  # within the 15 minutes
    _, code, message = error_of(signed_post(http, body, key, now=clock.now, region="us-west-2"))
    assert code == "SignatureDoesNotMatch" and "'us-west-2'" in message


def test_incomplete_signature(sts: tuple[StsMock, TestClient]) -> None:
    _, http = sts
    body = urlencode(token_params()).encode()
    for authorization in ("AWS4-HMAC-SHA256 Credential=ASIA/20270115/us-east-1/sts/aws4_request",
                          "Bearer abc", "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00"):
        response = http.post("/", content=body, headers={**FORM, "Authorization": authorization,
                                                         "X-Amz-Date": "20270115T080000Z"})
        status, code, _ = error_of(response)
        assert (status, code) == (400, "IncompleteSignature"), authorization


def test_new_sessions_sign_and_are_checked(sts: tuple[StsMock, TestClient]) -> None:
    mock, http = sts
    answer = http.post("/lab/sessions", json={"role": "inference-worker-staging", "seconds": 900}).json()
    session = mock.account.session(answer["access_key_id"])
    token, _ = token_of(call(mock, http, token_params(), session=session))
    assert jwt.decode(token, options={"verify_signature": False})["sub"].endswith(":role/inference-worker-staging")
    assert http.post("/lab/sessions", json={"role": "admin"}).status_code == 400
    assert http.post("/lab/sessions", json={"seconds": 60}).status_code == 400


# --- IAM's outbound-federation switch (same host, requests signed for "iam") --------------------------


def iam_call(mock: StsMock, http: TestClient, action: str):
    body = urlencode([("Action", action), ("Version", "2010-05-08")]).encode()
    headers = sign("POST", f"{STS_BASE}/", body, FORM, key=mock.default_session.key, region="us-east-1",
                   timestamp=datetime.fromtimestamp(mock.ctx.clock(), UTC), service="iam")
    return http.post("/", content=body, headers=headers)


def test_iam_switch(state_dir: Path, clock: FakeClock) -> None:
    mock, http = build(state_dir / "aws", clock, enabled=False)
    iam = "{https://iam.amazonaws.com/doc/2010-05-08/}"
    refused = iam_call(mock, http, "GetOutboundWebIdentityFederationInfo")
    assert refused.status_code == 404 and ElementTree.fromstring(refused.content).tag == f"{iam}ErrorResponse"
    assert b"<Code>FeatureDisabled</Code>" in refused.content
    enabled = ElementTree.fromstring(iam_call(mock, http, "EnableOutboundWebIdentityFederation").content)
    assert enabled.findtext(f"{iam}EnableOutboundWebIdentityFederationResult/{iam}IssuerIdentifier") == \
        mock.account.issuer
    again = iam_call(mock, http, "EnableOutboundWebIdentityFederation")
    assert again.status_code == 409 and b"<Code>FeatureEnabled</Code>" in again.content
    info = ElementTree.fromstring(iam_call(mock, http, "GetOutboundWebIdentityFederationInfo").content)
    assert info.findtext(f"{iam}GetOutboundWebIdentityFederationInfoResult/{iam}JwtVendingEnabled") == "true"
    token_of(call(mock, http, token_params()))
    assert iam_call(mock, http, "DisableOutboundWebIdentityFederation").status_code == 200
    assert error_of(call(mock, http, token_params()))[1] == "OutboundWebIdentityFederationDisabledException"
    assert iam_call(mock, http, "CreateRole").status_code == 400  # not an action the lab's IAM offers
