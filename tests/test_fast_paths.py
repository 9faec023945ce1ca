"""The shortcuts the token endpoints take (issue 15) say exactly what the long way says."""

from __future__ import annotations

import base64

import pytest

from wif_lab.jose import _canonical
from wif_lab.mock.anthropic.token import key_source
from wif_lab.strict_json import JSONRejected, loads

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.mark.parametrize("stem", ["", "QU", "QUJD", "QUJDRA"])
@pytest.mark.parametrize("extra", [0, 2, 3])
def test_padding_check_agrees_with_re_encoding(stem: str, extra: int) -> None:
    for last in _ALPHABET:
        raw = (stem + "A" * (extra - 1) + last if extra else stem).encode()
        if len(raw) % 4 == 1:
            continue
        decoded = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
        assert _canonical(raw, decoded) == (base64.urlsafe_b64encode(decoded).rstrip(b"=") == raw), raw


@pytest.mark.parametrize("document", [
    b'"\\ud800"', '"\ud800"', '{"k": "\udfff"}', b'{"\\udc00": 1}', b"[" * 33 + b"]" * 33,
    b'{"a":' * 33 + b"1" + b"}" * 33,
])
def test_strict_json_still_refuses_what_the_walk_finds(document: bytes | str) -> None:
    with pytest.raises(JSONRejected):
        loads(document)


def test_strict_json_accepts_what_it_accepted() -> None:
    assert loads(b"[" * 32 + b"]" * 32) is not None
    assert loads('{"a":"\\ud83d\\ude00","b":"\u00e9"}') == {"a": "\U0001f600", "b": "é"}


def test_an_edited_issuer_gets_a_new_key_source() -> None:
    issuer = {"id": "fdis_1", "issuer_url": "https://a.example", "jwks": {"type": "discovery"}}
    first = key_source(issuer)
    assert key_source(dict(issuer)) == first
    issuer["jwks"] = {"type": "explicit_url", "url": "https://a.example/keys"}
    second = key_source(issuer)
    assert second is not None and first is not None
    assert second.jwks_url == "https://a.example/keys" and second.cache_key != first.cache_key
    issuer["issuer_url"] = "https://b.example"
    assert key_source(issuer).cache_key != second.cache_key  # type: ignore[union-attr]
    assert key_source({**issuer, "jwks": {"type": "inline", "keys": []}}) is None
