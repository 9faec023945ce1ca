from __future__ import annotations

import pytest

from wif_lab.exchange import ExchangeResult
from wif_lab.redact import SIGNATURE_MARK, redact, redact_text
from wif_lab.tokens import decode

JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL3giLCJzdWIiOiJ3In0.c2lnbmF0dXJlLWJ5dGVzLWJ5dGVzLWJ5dGVz"
OAT = "sk-ant-oat01-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


def test_jwt_keeps_header_and_claims_but_never_the_signature() -> None:
    shown = redact(JWT)
    header, payload, sig = JWT.split(".")
    assert shown.startswith(f"{header}.{payload}.")
    assert sig not in shown and SIGNATURE_MARK in shown
    # the redacted form still decodes for inspection
    assert decode(shown).claims["sub"] == "w"


def test_short_jwt_form_is_one_line_and_unusable() -> None:
    shown = redact(JWT, short=True)
    assert JWT.split(".")[1] not in shown and JWT.split(".")[2] not in shown
    assert shown.endswith(SIGNATURE_MARK)


def test_anthropic_token_keeps_prefix_and_four_characters() -> None:
    assert redact(OAT) == "sk-ant-oat01-AbCd…"


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----\n", "‹private key redacted›"),
        ("short", "‹redacted›"),
        ("client-secret-value-123", "clie…‹23 chars redacted›"),
        (None, "None"),
        ("", "''"),
    ],
)
def test_other_secrets(secret: str | None, expected: str) -> None:
    assert redact(secret) == expected


def test_redact_text_finds_secrets_inside_messages() -> None:
    text = f"refused {JWT} then {OAT} end"
    shown = redact_text(text)
    assert JWT.split(".")[2] not in shown and OAT not in shown
    assert "sk-ant-oat01-AbCd…" in shown and shown.startswith("refused ") and shown.endswith(" end")


def test_objects_never_show_raw_secrets() -> None:
    result = ExchangeResult(OAT, "Bearer", 600, "workspace:developer", "req_1")
    assert OAT not in repr(result) and OAT not in str(result) and OAT not in f"{result}"
    token = decode(JWT)
    assert JWT.split(".")[2] not in repr(token) and JWT not in str(token)
