"""The sanitize file fails silently when malformed (nbval's parser is one strict regex), so prove
that every rule in it is loaded, and that each one rewrites the thing it is there for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nbval.plugin import get_sanitize_patterns

CFG = Path(__file__).with_name("nbval_sanitize.cfg")

# One sample per rule, in file order: (text before, text after).
SAMPLES = [
    ("https://127.0.0.1:43817/oauth2/default", "https://127.0.0.1:<PORT>/oauth2/default"),
    ("exp  2026-11-23 19:41:07 UTC (expires in 60 min)", "exp  <UTC TIME> (expires in 60 min)"),
    ("created_at='2026-11-23T19:41:07Z'", "created_at='<TIMESTAMP>'"),
    ("'exp': 1795369686,", "'exp': <EPOCH>,"),
    ("[request_id=req_01AbCdEfGhIjKlMnOpQrStUv]", "[request_id=req_<ID>]"),
    ("access_token='sk-ant-oat01-Ab9_…'", "access_token='sk-ant-oat01-<…>'"),
    ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.‹signature redacted›", "<JWT header.claims>.‹signature redacted›"),
    ("jti AT.q1w2e3r4t5y6u7i8o9", "jti AT.<JTI>"),
    ("jti 5f0c2a9e-1b7d-4c3e-9a8f-0123456789ab", "jti <UUID>"),
    ("written to /tmp/pytest-1/state/run/x.json", "written to <TMPPATH>"),
    ("<object at 0x7f3a2b1c9d00>", "<object at <0xADDR>>"),
    ("kid    TQLz_YOZTVOGo8i03ZTAtYiO0dgn-vjpDsj555EfVc0", "kid    <KEY-ID>"),
    ("<td>kid</td><td style='x'>3LMBaZhHwnpvGXSQJyX4Iej-eGM</td>", "<td>kid</td><td style='x'><ENTRA-KID></td>"),
    ("Trace ID: … Timestamp: 2026-11-23 20:21:29Z", "Trace ID: … Timestamp: <TIMESTAMP>"),
    ("ExchangeResult(token_type='Bearer', expires_in=582, scope='x')",
     "ExchangeResult(token_type='Bearer', expires_in=<SECONDS>, scope='x')"),
    ("kid    de8d0db6bd1f66c06147b139108873feef0d7aa3", "kid    <GOOGLE-KID>"),
    ("ImdsToken(resource='api://app', client_id='c1', expires_in=86399, access_token='x')",
     "ImdsToken(resource='api://app', client_id='c1', expires_in=<SECONDS-LEFT>, access_token='x')"),
]


def patterns() -> list[tuple[str, str]]:
    return get_sanitize_patterns(CFG.read_text())


def test_every_regex_line_is_loaded_by_nbval() -> None:
    text = CFG.read_text()
    assert "\r" not in text, "CRLF line endings make every rule inert"
    written = re.findall(r"^regex: ", text, re.MULTILINE)
    assert len(patterns()) == len(written) == len(SAMPLES)


@pytest.mark.parametrize(("index", "sample"), list(enumerate(SAMPLES)))
def test_each_rule_rewrites_its_sample(index: int, sample: tuple[str, str]) -> None:
    regex, replace = patterns()[index]
    before, after = sample
    assert re.sub(regex, replace, before) == after


@pytest.mark.parametrize("marked", ["127.0.0.1:⟦4⟧5523/x", "127.0.0.1:3<mark>6</mark>399/x", "127.0.0.1:4551⟦7⟧/x"])
def test_ports_are_normalised_with_a_difference_mark_inside(marked: str) -> None:
    """Two lab issuers differ first in their (random) port, so the mismatch mark lands inside it."""
    regex, replace = patterns()[0]
    assert re.sub(regex, replace, marked) == "127.0.0.1:<PORT>/x"


def test_rules_leave_ordinary_text_alone() -> None:
    text = "PASS  audience  aud contains 'https://api.anthropic.com'; expires_in=600"
    for regex, replace in patterns():
        assert re.sub(regex, replace, text) == text


def _stderr_notebook(path: Path) -> None:
    import nbformat

    cell = nbformat.v4.new_code_cell('import sys\nprint("kernel noise", file=sys.stderr)\nprint("taught")')
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="different noise\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="taught\n")]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.mark.parametrize("with_conftest", [True, False])
def test_root_conftest_makes_nbval_ignore_stderr_only(tmp_path: Path, with_conftest: bool) -> None:
    """The repository's conftest.py reaches notebooks/ and drops stderr from nbval's comparison;
    without it the same notebook fails, so the check is not vacuous."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    if with_conftest:
        (tmp_path / "conftest.py").write_text((root / "conftest.py").read_text())
    _stderr_notebook(tmp_path / "probe.ipynb")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--nbval",
         "--nbval-current-env", "probe.ipynb"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    if with_conftest:
        assert result.returncode == 0, result.stdout
    else:
        assert result.returncode == 1 and "different noise" in result.stdout, result.stdout
