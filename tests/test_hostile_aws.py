"""Hostile input against the mock STS, in-process: bodies that are not UTF-8, Authorization headers of any
shape, and correctly signed requests carrying any parameters. Every answer is STS's XML error envelope (or a
token), well-formed even when it echoes control characters, and never a 5xx."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests._aws_lab import FORM, build, call, error_of, signed_post, token_params
from tests._hostile import bad_form, examples
from wif_lab.mock.aws_sts import StsMock

AUTH_CODES = {"MissingAuthenticationToken", "IncompleteSignature", "InvalidClientTokenId", "SignatureDoesNotMatch",
              "ExpiredToken"}
REQUEST_CODES = {"InvalidAction", "ValidationError", "JWTPayloadSizeExceededException"}
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@pytest.fixture(scope="module")
def sts(tmp_path_factory: pytest.TempPathFactory) -> tuple[StsMock, TestClient]:
    return build(Path(tmp_path_factory.mktemp("hostile-aws")))


@examples(40)
@given(body=bad_form(dict(token_params())))
def test_bodies_that_are_not_utf8(sts: tuple[StsMock, TestClient], body: bytes) -> None:
    mock, http = sts
    response = signed_post(http, body, mock.default_session.key, now=mock.ctx.clock())
    status, code, message = error_of(response)
    assert (status, code) == (400, "MalformedQueryString") and "UTF-8" in message


@examples(60)
@given(authorization=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=300),
       date=st.sampled_from(["", "20270115T080000Z", "yesterday", "99991231T235959Z"]))
def test_any_authorization_header(sts: tuple[StsMock, TestClient], authorization: str, date: str) -> None:
    _, http = sts
    headers = {**FORM, "Authorization": authorization, **({"X-Amz-Date": date} if date else {})}
    response = http.post("/", content=urlencode(token_params()).encode(), headers=headers)
    status, code, _ = error_of(response)
    assert 400 <= status < 500 and code in AUTH_CODES


@examples(60)
@given(params=st.lists(st.tuples(st.sampled_from(["Action", "Version", "Audience.member.1", "Audience.member.11",
                                                   "SigningAlgorithm", "DurationSeconds", "Tags.member.1.Key",
                                                   "Tags.member.1.Value", "Tags.member.999.Key"]) | text, text),
                       max_size=12))
def test_signed_requests_with_any_parameters(sts: tuple[StsMock, TestClient], params: list[tuple[str, str]]) -> None:
    mock, http = sts
    response = call(mock, http, [("Action", "GetWebIdentityToken"), ("Version", "2011-06-15"), *params])
    assert response.status_code < 500, response.text
    ElementTree.fromstring(response.content)  # well-formed, whatever it echoed
    if response.status_code != 200:
        status, code, _ = error_of(response)
        assert code in REQUEST_CODES, (status, code)


@examples(40)
@given(role=st.one_of(st.none(), st.booleans(), st.integers(), st.lists(text, max_size=2),
                      st.dictionaries(text, text, max_size=2), text),
       seconds=st.one_of(st.none(), st.floats(allow_nan=True), st.integers(), text))
def test_lab_sessions_with_any_role_and_lifetime(sts: tuple[StsMock, TestClient], role: object,
                                                 seconds: object) -> None:
    """Found by scripts/fuzz_mocks.py: a list or object as ``role`` was looked up in a dict and answered 500."""
    mock, http = sts
    body = json.dumps({"role": role, "seconds": seconds})  # NaN and Infinity as Python writes them, too
    response = http.post("/lab/sessions", content=body, headers={"content-type": "application/json"})
    good = isinstance(role, str) and role in mock.account.roles and type(seconds) is int and 900 <= seconds <= 43200
    assert response.status_code == (200 if good else 400), response.text
