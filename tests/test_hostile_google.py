"""Hostile input against the mock metadata server, in-process: whatever the query, header or path, the
answer is one of the server's own (200 with a token, 400, 403, 404, 405), never a 5xx, always with
``Metadata-Flavor: Google``; and an audience of any text comes back as the token's ``aud`` unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests._google_lab import FLAVOR, GoogleLab
from tests._hostile import BAD_ESCAPES, examples
from wif_lab.mock.google import IDENTITY_PATH, MISSING_FLAVOR

TEXT = st.text(min_size=0, max_size=60)
ANSWERS = {200, 301, 400, 403, 404, 405}


@pytest.fixture(scope="module")
def gcp(state_dir: Path) -> GoogleLab:
    return GoogleLab(state_dir / "hostile-google")


def assert_metadata_answer(r: Any) -> None:  # an httpx2 response (starlette's TestClient)
    assert r.status_code in ANSWERS, (r.status_code, r.text[:200])
    assert r.headers["metadata-flavor"] == "Google" and r.headers["server"] == "Metadata Server for VM"


@examples(30)
@given(audience=TEXT.filter(bool), form=st.sampled_from(["full", "standard", None]))
def test_any_audience_text_is_the_tokens_aud(gcp: GoogleLab, audience: str, form: str | None) -> None:
    params = {"audience": audience, **({"format": form} if form else {})}
    r = gcp.http.get(IDENTITY_PATH, params=params, headers=FLAVOR)
    assert r.status_code == 200, r.text
    assert jwt.decode(r.text, options={"verify_signature": False})["aud"] == audience


@examples(40)
@given(params=st.dictionaries(st.sampled_from(["audience", "format", "licenses", "recursive", "alt", "x"]), TEXT,
                              max_size=4))
def test_any_query_gets_a_metadata_answer(gcp: GoogleLab, params: dict[str, str]) -> None:
    r = gcp.http.get(IDENTITY_PATH + "?" + urlencode(params), headers=FLAVOR)
    assert_metadata_answer(r)
    assert (r.status_code == 200) == (bool(params.get("audience")) and params.get("format", "standard") in
                                      ("standard", "full") and params.get("licenses", "FALSE").upper() in
                                      ("TRUE", "FALSE"))


@examples(20)
@given(escape=BAD_ESCAPES, where=st.sampled_from(["audience", "format", "name"]))
def test_a_query_that_is_not_utf8_is_bad_request(gcp: GoogleLab, escape: str, where: str) -> None:
    query = "audience=https%3A%2F%2Fapi.anthropic.com&format=full"
    query = query.replace(f"{where}=", f"{where}={escape}") if where in query else f"{query}&{where}{escape}=1"
    r = gcp.http.get(f"{IDENTITY_PATH}?{query}", headers=FLAVOR)
    assert r.status_code == 400 and r.text.strip() == "Bad Request"
    assert_metadata_answer(r)


@examples(30)
@given(flavor=st.binary(min_size=0, max_size=12).filter(lambda b: b != b"Google"))
def test_any_other_flavor_value_is_refused(gcp: GoogleLab, flavor: bytes) -> None:
    value = bytes(b for b in flavor if 0x20 <= b < 0x7F).strip() or b"-"  # what an HTTP client can send
    if value == b"Google":
        return
    r = gcp.http.get(IDENTITY_PATH, params={"audience": "x"}, headers={"Metadata-Flavor": value.decode("latin-1")})
    assert r.status_code == 404 and "Error 404" in r.text
    assert_metadata_answer(r)


@examples(40)
@given(segments=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]), flavor=st.booleans())
def test_any_path_and_method_gets_a_metadata_answer(gcp: GoogleLab, segments: list[str], method: str,
                                                     flavor: bool) -> None:
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    r = gcp.http.request(method, path, params={"audience": "x"}, headers=FLAVOR if flavor else {})
    assert_metadata_answer(r)
    if not flavor:
        assert r.status_code == 403 and r.text.strip() == MISSING_FLAVOR


@examples(20)
@given(prefix=st.sampled_from(["", "/vms/stranger-vm", "/pods/inference/claude-inference"]),
       forwarded=st.text(min_size=1, max_size=30).map(lambda t: t.encode("utf-8", "ignore").decode("latin-1")))
def test_a_forwarded_request_is_forbidden_anywhere(gcp: GoogleLab, prefix: str, forwarded: str) -> None:
    value = "".join(c for c in forwarded if 0x20 <= ord(c) < 0x7F).strip() or "-"
    r = gcp.http.get(prefix + IDENTITY_PATH, params={"audience": "x"}, headers={**FLAVOR, "X-Forwarded-For": value})
    assert r.status_code == 403 and r.text.strip() == "Forbidden"
    assert_metadata_answer(r)
