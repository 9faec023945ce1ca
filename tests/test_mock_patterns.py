"""The mocks' name and ID patterns end at the end of the text: Python's `$` also matches before a final
newline, so `name\\n` passed as `name` and was stored or echoed with its newline (Kubernetes, Entra, Okta and
STS match the whole value)."""

from __future__ import annotations

import re

import pytest

from wif_lab.mock.aws_sts.responses import _MEMBER
from wif_lab.mock.entra.tenant import _FIC_NAME
from wif_lab.mock.kubernetes.self_managed import _DNS_LABEL, _DNS_SUBDOMAIN
from wif_lab.mock.okta.token import _OKTA_API_SCOPE


@pytest.mark.parametrize(("pattern", "valid"), [
    (_DNS_LABEL, "inference"), (_DNS_SUBDOMAIN, "claude.example.com"), (_FIC_NAME, "aks-claude-client"),
    (_OKTA_API_SCOPE, "okta.apps.manage"), (_MEMBER, "Audience.member.1"),
])
def test_a_trailing_newline_is_not_part_of_a_valid_value(pattern: re.Pattern[str], valid: str) -> None:
    assert pattern.match(valid) and pattern.search(valid)
    for bad in (valid + "\n", valid + "\r\n", "\n" + valid):
        assert pattern.match(bad) is None and pattern.search(bad) is None, repr(bad)
