"""Tables that show the answer: nothing cut, the first difference of a mismatch marked the same way in
text and HTML, every claim explained, and "claims the rule reads" exactly those."""

from __future__ import annotations

import re
from typing import Any

import jwt
import pytest

from tests.helpers import lab_of
from wif_lab import glossary
from wif_lab.difference import END, Marked, compared_values, first_difference, mark_mismatch, mark_pair
from wif_lab.display import WIDTH, Table, claims_table, event_summary, events_table, summary, verdicts_table, wrap
from wif_lab.mock.stack import MockStack
from wif_lab.nbcheck import SECRET_PATTERNS
from wif_lab.redact import Secret, redact
from wif_lab.rules import condition_claims, evaluate
from wif_lab.runbook import Outcome

LAB = "https://127.0.0.1:36303/c35ef1ff-d56c-44e1-a805-c613bf154e75/422fa3e3-daca-4cd0-8c1c-d55b58b4d2d6/"
ENTRA = "https://127.0.0.1:46443/c35ef1ff-d56c-44e1-a805-c613bf154e75/v2.0"
OKTA = "https://127.0.0.1:36431/oauth2/ausVZYrgPpQfE494noBz"
OKTA_ORG = "https://127.0.0.1:36431"
AUD = "https://api.anthropic.com"


def marks_in(cell: Marked | str) -> list[str]:
    """The marked characters, read back from the text form."""
    return re.findall(r"⟦([^⟧]*)⟧", cell.text() if isinstance(cell, Marked) else cell)


def html_marks_in(cell: Marked | str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", cell.html() if isinstance(cell, Marked) else cell)


# --- finding and marking the first difference -------------------------------------------------------


@pytest.mark.parametrize(("a", "b", "index"), [
    ("abc", "abc", None), ("abc", "abd", 2), ("https://x/", "https://x", 9), ("", "a", 0), ("A", "a", 0)])
def test_first_difference(a: str, b: str, index: int | None) -> None:
    assert first_difference(a, b) == index


def test_the_shorter_value_is_marked_where_it_ends() -> None:
    text = f"iss {OKTA_ORG!r} is not byte-for-byte the issuer's issuer_url {OKTA!r}: ..."
    marked = mark_pair(text, OKTA_ORG, OKTA)
    assert isinstance(marked, Marked) and marks_in(marked) == [END, "/"]
    assert marked.text().startswith(f"iss '{OKTA_ORG}⟦end⟧'") and f"'{OKTA_ORG}⟦/⟧oauth2/" in marked.text()
    assert marked.plain == text  # nothing lost: the full sentence, both values whole


# Every sentence shape a mismatch comes in: rules.py's verdict reasons and the mock's issuer detail.
SHAPES = [
    ("issuer_mismatch", f"token iss {LAB!r} != issuer_url {ENTRA!r}", (LAB, ENTRA)),
    ("issuer_mismatch", f"iss {LAB!r} is not byte-for-byte the issuer's issuer_url {ENTRA!r}: they differ in "
                        "host/port and path", (LAB, ENTRA)),
    ("subject_mismatch", "sub 'system:serviceaccount:inference:claude-batch' is not exactly "
                         "'system:serviceaccount:inference:claude-inference'",
     ("system:serviceaccount:inference:claude-batch", "system:serviceaccount:inference:claude-inference")),
    ("subject_mismatch", "sub 'repo:Acme/app' does not start with 'repo:acme/' (matching is case-sensitive)",
     ("repo:Acme/app", "repo:acme/")),
    ("subject_mismatch", "sub '0oaABC' differs from subject_prefix '0oaabc' only in letter case; matching is "
                         "case-sensitive", ("0oaABC", "0oaabc")),
    ("audience_mismatch", "aud ['api://AzureADTokenExchange'] does not contain the rule's audience "
                          "'5b4c4641-b852-4af5-90fe-5017ef09787d'",
     ("api://AzureADTokenExchange", "5b4c4641-b852-4af5-90fe-5017ef09787d")),
    ("audience_mismatch", f"aud ['api://other', 'https://api.anthropic.co'] does not contain Anthropic's "
                          f"expected audience {AUD!r} (the rule sets none)", ("https://api.anthropic.co", AUD)),
    ("audience_mismatch", f"aud 'https://api.anthropic.com/' does not contain the rule's audience {AUD!r}",
     ("https://api.anthropic.com/", AUD)),
    ("claim_mismatch", "claim 'oid' is '188470da-e061-44b7-bda7-172068c3f40f', not "
                       "'247aab03-3170-45f7-8bbb-02db431cc951'",
     ("188470da-e061-44b7-bda7-172068c3f40f", "247aab03-3170-45f7-8bbb-02db431cc951")),
]


@pytest.mark.parametrize(("code", "text", "values"), SHAPES, ids=[f"{s[0]}-{i}" for i, s in enumerate(SHAPES)])
def test_each_mismatch_shape_names_its_two_values(code: str, text: str, values: tuple[str, str]) -> None:
    assert compared_values(code, text) == values
    marked = mark_mismatch(code, text)
    assert isinstance(marked, Marked) and marked.plain == text
    index = first_difference(*values)
    assert index is not None
    expected = [v[index] if index < len(v) else END for v in values]
    assert marks_in(marked) == expected and html_marks_in(marked) == expected  # same answer in text and HTML


@pytest.mark.parametrize(("code", "text"), [
    ("key_not_found", "kid 'abc' is not in the issuer's JWKS"),
    ("claim_missing", "the token has no 'azp' claim; the rule requires it to be 'x'"),
    ("issuer_mismatch", "the token has no iss claim; it must be exactly 'https://x'"),
    (None, "iss 'a' != issuer_url 'b'"),
])
def test_other_sentences_are_left_as_they_are(code: str | None, text: str) -> None:
    assert mark_mismatch(code, text) == text


def test_rule_verdict_reasons_are_all_recognised() -> None:
    """The verdict texts rules.py writes today, for each mismatch code, yield their two values."""
    issuer = {"id": "fdis_1", "issuer_url": ENTRA}
    rule = {"id": "fdrl_1", "match": {"subject_prefix": "system:serviceaccount:inference:claude-inference",
                                      "audience": "api://x", "claims": {"oid": "247aab03"}}}
    claims = {"iss": LAB, "aud": ["api://AzureADTokenExchange"], "oid": "188470da",
              "sub": "system:serviceaccount:inference:claude-batch"}
    failures = evaluate(issuer, rule, claims, default_audience=AUD).failures
    assert {v.code for v in failures} == {"issuer_mismatch", "audience_mismatch", "subject_mismatch",
                                          "claim_mismatch"}
    for verdict in failures:
        assert (compared_values(verdict.code, verdict.reason) == (verdict.actual, verdict.expected)
                or verdict.code == "audience_mismatch")
        assert marks_in(mark_mismatch(verdict.code, verdict.reason))


# --- tables: wrap, never cut -----------------------------------------------------------------------


def test_long_values_wrap_and_nothing_is_lost() -> None:
    value = " ".join(f"word{i}" for i in range(80)) + " " + LAB + "?" + "x" * 150
    lines = repr(Table("T", ["k", "v"], [("key", value)])).splitlines()[3:]
    assert len(lines) > 3 and all(len(line) <= len("key  ") + WIDTH for line in lines)
    # breaks fall only on spaces, after a "/", or (a run longer than a line) anywhere: no character is lost
    assert "".join(line[5:] for line in lines).replace(" ", "") == value.replace(" ", "")


def test_urls_break_after_a_slash_never_inside_host_port_or_ids() -> None:
    lines = wrap(f"iss {LAB!r} != issuer_url {ENTRA!r} " * 2, 60)
    assert all(len(line) <= 60 for line in lines)
    joined = "\n".join(lines)
    for unit in ("127.0.0.1:36303", "127.0.0.1:46443", "c35ef1ff-d56c-44e1-a805-c613bf154e75",
                 "422fa3e3-daca-4cd0-8c1c-d55b58b4d2d6"):
        assert joined.count(unit) == 2 * (2 if unit.startswith("c35") else 1), unit


def test_a_mark_is_never_split_across_lines() -> None:
    long = "x" * 59 + "⟦y⟧" + "z" * 80
    for line in wrap(long, 60):
        assert line.count("⟦") == line.count("⟧")


def test_mismatch_rows_show_both_values_whole_with_the_mark_in_text_and_html() -> None:
    issuer = {"id": "fdis_1", "issuer_url": ENTRA}
    rule = {"id": "fdrl_1", "match": {"subject_prefix": "x", "audience": AUD}}
    evaluation = evaluate(issuer, rule, {"iss": LAB, "aud": AUD, "sub": "x"}, default_audience=AUD)
    table = verdicts_table(evaluation)
    text, page = repr(table), table._repr_html_()
    flat = re.sub(r"\s+", "", text)
    assert re.sub(r"\s+", "", f"{LAB[:18]}⟦3⟧{LAB[19:]}") in flat and re.sub(r"\s+", "", f"{ENTRA[:18]}⟦4⟧") in flat
    assert f"{LAB[:18]}<mark>3</mark>{LAB[19:]}" in page and f"{ENTRA[:18]}<mark>4</mark>{ENTRA[19:]}" in page
    assert "…" not in text


def test_event_details_are_marked_everywhere_they_are_shown() -> None:
    detail = f"token iss {LAB!r} != issuer_url {ENTRA!r}"
    event = {"created_at": "2026-11-23T10:00:00Z",
             "status": {"outcome": "denied", "reason": "issuer_mismatch", "detail": detail},
             "event_data": {"oidc_token": {"claims": {"iss": LAB}},
                            "verdicts": [{"matcher": "subject_prefix", "passed": False, "code": "subject_mismatch",
                                          "reason": "sub 'ab' is not exactly 'ac'"}]}}
    for table in (events_table([event], now=1795428030), event_summary(event),
                  Outcome("refused", "refused", event=event).table()):
        assert "⟦3⟧" in repr(table) and "<mark>4</mark>" in table._repr_html_() and "…" not in repr(table)
    assert "⟦b⟧" in repr(event_summary(event)) and "⟦c⟧" in repr(event_summary(event))


def test_tables_show_secrets_redacted_wherever_they_sit() -> None:
    raw = jwt.encode({"sub": "x"}, "k" * 32)
    oat = "sk-ant-oat01-" + "A" * 40
    table = summary("S", {"token": Secret(raw), "nested": {"list": [Secret(oat)]}, "text": f"leaked {raw} here"})
    shown = repr(table) + table._repr_html_()
    assert not any(rx.search(shown) for rx in SECRET_PATTERNS.values())
    assert redact(raw, short=True) in shown and "sk-ant-oat01-AAAA…" in shown


# --- claims tables ---------------------------------------------------------------------------------


def _lab_tokens(stack: MockStack) -> dict[str, Any]:
    """One token of every kind the mocks issue, obtained with the workload-side clients."""
    from wif_lab.providers.aks import WorkloadIdentityClient, read_token_file
    from wif_lab.providers.azure_imds import ImdsClient, from_connection
    from wif_lab.providers.github_actions import GitHubActionsClient
    from wif_lab.providers.okta import OktaClient, build_dpop_proof, new_dpop_key
    from wif_lab.scenarios.azure import V1_RESOURCE

    lab = lab_of(stack)
    okta, ca = lab.section("okta"), lab.ca_bundle
    org = okta["org_authorization_server"]
    client = OktaClient.from_connection(okta, ca)
    azure, aks = lab.section("azure"), lab.section("aks")
    return {
        "okta access token": client.fetch_token().access_token,
        "okta client assertion": client.client_assertion(),
        "okta DPoP proof": build_dpop_proof(new_dpop_key(), client.token_endpoint),
        "okta DPoP-bound token": OktaClient.from_connection(okta, ca, app="new_app",
                                                            dpop_key=new_dpop_key()).fetch_token().access_token,
        "okta org server token": OktaClient.from_connection(okta, ca, issuer=org["issuer"],
                                                            token_endpoint=org["token_endpoint"],
                                                            scope=org["scope"]).fetch_token().access_token,
        "IMDS v2.0": from_connection(azure).get_token().access_token,
        "IMDS v1.0": ImdsClient(V1_RESOURCE, base_url=azure["imds_url"]).get_token().access_token,
        "AKS Entra": WorkloadIdentityClient.from_connection(aks, verify=ca).get_token().access_token,
        "projected (Entra)": read_token_file(aks["token_file"]),
        "projected (Anthropic)": read_token_file(aks["anthropic_token_file"]),
        "GitHub Actions": GitHubActionsClient(environ=lab.section("github_actions")["env"], verify=ca)
        .get_token().value,
    }


def test_every_claim_the_mocks_issue_has_a_meaning(lab: MockStack) -> None:
    unexplained = []
    for name, token in _lab_tokens(lab).items():
        table = claims_table(token)
        assert table.columns == ["claim", "value", "meaning"]
        unexplained += [f"{name}: {row[0]}" for row in table.rows if row[2] in ("", glossary.CUSTOM)]
    assert not unexplained


@pytest.mark.parametrize(("claims", "kind"), [
    ({"htm": "POST", "htu": "https://x/token", "jti": "1"}, "DPoP proof"),
    ({"kubernetes.io": {}, "sub": "system:serviceaccount:a:b"}, "Kubernetes token"),
    ({"ver": "2.0"}, "Entra v2.0 token"), ({"ver": "1.0"}, "Entra v1.0 token"),
    ({"cid": "0oa", "scp": ["a"], "ver": 1}, "okta access token"),
    ({"iss": "0oa", "sub": "0oa", "aud": "https://x/oauth2/aus/v1/token"}, "client assertion"),
    ({"iss": "https://x", "sub": "y"}, "OIDC token"),
    ({"repository_owner": "o", "run_id": "1", "sub": "repo:o/r:pull_request"}, "GitHub Actions token"),
])
def test_token_kinds(claims: dict[str, Any], kind: str) -> None:
    assert glossary.token_kind(claims) == kind


def test_the_same_claim_means_what_its_issuer_means() -> None:
    assert "client ID" in glossary.meaning("sub", {"cid": "0oa", "scp": []})
    assert "object" in glossary.meaning("sub", {"ver": "2.0"})
    assert "serviceaccount" in glossary.meaning("sub", {"kubernetes.io": {}})
    assert glossary.meaning("department", {"cid": "0oa", "scp": []}) == glossary.CUSTOM
    assert "object" in glossary.meaning("oid", {"kubernetes.io": {}})  # absent here: what it is elsewhere


def _token(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, "k" * 32)


@pytest.mark.parametrize(("match", "read"), [
    ({"subject_prefix": "0oa1", "audience": AUD}, ["iss", "aud", "sub"]),
    ({"audience": AUD, "claims": {"oid": "o", "tid": "t"}}, ["iss", "aud", "oid", "tid"]),
    ({"audience": AUD, "condition": '"anthropic.access" in claims.scp && claims["cid"] == "0oa1"'},
     ["iss", "aud", "scp", "cid"]),
    ({"subject_prefix": "0oa1", "claims": {"sub": "0oa1"}}, ["iss", "aud", "sub"]),
])
def test_claims_the_rule_reads_are_exactly_those(match: dict[str, Any], read: list[str]) -> None:
    claims = {"iss": OKTA, "aud": AUD, "sub": "0oa1", "cid": "0oa1", "scp": ["anthropic.access"], "ver": 1,
              "jti": "AT.x", "iat": 1_800_000_000, "exp": 1_800_003_600, "oid": "o", "tid": "t"}
    evaluation = evaluate({"id": "fdis_1", "issuer_url": OKTA}, {"id": "fdrl_1", "match": match}, claims,
                          default_audience=AUD)
    table = claims_table(_token(claims), evaluation, title="Claims the rule reads")
    assert [row[0] for row in table.rows] == read and table.columns[-1] == "rule"
    assert all(str(row[3]).startswith("✓") for row in table.rows)


def test_a_claim_the_rule_reads_but_the_token_lacks_is_shown_absent() -> None:
    claims = {"iss": ENTRA, "aud": "app", "sub": "o", "oid": "o", "tid": "t", "ver": "1.0", "appid": "c"}
    evaluation = evaluate({"id": "fdis_1", "issuer_url": ENTRA},
                          {"id": "fdrl_1", "match": {"audience": "app", "claims": {"azp": "c", "tid": "t"}}},
                          claims, default_audience=AUD)
    rows = {row[0]: row for row in claims_table(_token(claims), evaluation).rows}
    assert list(rows) == ["iss", "aud", "azp", "tid"]
    assert rows["azp"][1] == glossary.ABSENT and rows["azp"][3] == "✗ claims.azp" and "client ID" in rows["azp"][2]


def test_condition_claims_in_order_of_first_use() -> None:
    assert condition_claims('claims.b == "x" && has(claims.a) && claims["b-c"] != "" && claims.b != ""') == (
        "b", "a", "b-c")


def test_time_claims_keep_their_clock_note() -> None:
    now = 1_800_000_000
    rows = {r[0]: r for r in claims_table(_token({"iat": now, "exp": now + 3600}), now=now).rows}
    assert rows["exp"][2] == "expiry: 2027-01-15 09:00:00 UTC (expires in 60 min)"
    assert rows["iat"][2].startswith("issued at: ") and rows["iat"][2].endswith("(issued just now)")


def test_rendering_is_deterministic() -> None:
    evaluation = evaluate({"id": "fdis_1", "issuer_url": ENTRA}, {"id": "fdrl_1", "match": {"subject_prefix": "x"}},
                          {"iss": LAB, "aud": AUD, "sub": "y"}, default_audience=AUD)
    first = repr(verdicts_table(evaluation)) + verdicts_table(evaluation)._repr_html_()
    assert all(first == repr(verdicts_table(evaluation)) + verdicts_table(evaluation)._repr_html_()
               for _ in range(3))


def test_two_cell_comparisons_mark_both_cells() -> None:
    from wif_lab.difference import mark_values

    configured, presented = mark_values("system:serviceaccount:inference:claude-inference",
                                        "system:serviceaccount:inference:claude-batch")
    assert marks_in(configured) == ["i"] and marks_in(presented) == ["b"]
    assert html_marks_in(configured) == ["i"] and mark_values("same", "same") == ("same", "same")
    assert [marks_in(cell) for cell in mark_values("https://x/", "https://x")] == [["/"], [END]]


def test_a_value_that_fits_on_the_next_line_is_never_cut() -> None:
    """Exactly full lines (space included) move the next quoted value down whole, closing quote and all."""
    for filler in range(40, 70):
        text = "x" * filler + " " + "'" + "y" * (98 - filler) + "'"  # one character too long for a line
        lines = wrap(text, 100)
        assert all(len(line) <= 100 for line in lines)
        assert lines == ["x" * filler, "'" + "y" * (98 - filler) + "'"], (filler, lines)
