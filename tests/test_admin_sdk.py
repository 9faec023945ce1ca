"""The real ``anthropic`` SDK drives the mock Admin API over real sockets and TLS (lab CA trusted).

Nothing here is adapted to the mock: the SDK sends its own paths, bodies, query strings and beta
header, auto-pages with its own cursor logic and parses every response with its own models.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.lib.credentials import StaticToken

from wif_lab.mock.anthropic.service import AnthropicMock
from wif_lab.mock.anthropic.store import Grant
from wif_lab.mock.base import MockSpec
from wif_lab.mock.stack import MockStack


class RequestLog:
    """An httpx event hook that records every request the SDK puts on the wire."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    def __call__(self, request: httpx2.Request) -> None:
        self.requests.append((request.method, str(request.url.raw_path, "ascii")))

    def clear(self) -> None:
        self.requests.clear()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockStack]:
    lab = MockStack(tmp_path_factory.mktemp("admin-sdk"), specs=[MockSpec("anthropic", "https", AnthropicMock)])
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def mock(stack: MockStack) -> AnthropicMock:
    found = stack.mocks["anthropic"]
    assert isinstance(found, AnthropicMock)
    return found


@pytest.fixture
def log() -> RequestLog:
    return RequestLog()


def _client(stack: MockStack, token: str, log: RequestLog) -> anthropic.Anthropic:
    connection = stack.connection()
    tls = ssl.create_default_context(cafile=connection["ca_bundle"])  # verification stays on
    http_client = anthropic.DefaultHttpxClient(verify=tls, event_hooks={"request": [log]})
    return anthropic.Anthropic(
        base_url=connection["anthropic"]["base_url"], credentials=StaticToken(token), http_client=http_client
    )


@pytest.fixture
def client(stack: MockStack, log: RequestLog) -> Iterator[anthropic.Anthropic]:
    with _client(stack, stack.connection()["anthropic"]["admin_token"], log) as sdk:
        yield sdk


def test_the_base_url_is_https_and_the_organization_resolves(client: anthropic.Anthropic, mock: AnthropicMock) -> None:
    assert str(client.base_url).startswith("https://127.0.0.1:")
    info = client.organization.retrieve()
    assert (info.id, info.type) == (mock.store.organization_id, "organization")


def test_issuers_round_trip_and_auto_paging(client: anthropic.Anthropic, log: RequestLog) -> None:
    issuers = client.organization.federation.issuers
    created = [
        issuers.create(name=f"sdk-issuer-{i}", issuer_url=f"https://127.0.0.1:{9000 + i}/oauth2/default")
        for i in range(3)
    ]
    first = created[0]
    assert first.id.startswith("fdis_") and first.type == "federation_issuer"
    assert first.jwks.type == "discovery" and first.check_jti is True and first.max_jwt_lifetime_seconds == 3600
    assert isinstance(first.created_at, datetime) and first.archived_at is None and first.poll_status is None

    log.clear()
    paged = [issuer.id for issuer in issuers.list(limit=1)]
    assert {c.id for c in created} <= set(paged)
    assert len(paged) == len(set(paged))
    gets = [path for method, path in log.requests if method == "GET"]
    assert len(gets) == len(paged) >= 3  # one item per page: the SDK followed next_page each time
    assert gets[0] == "/v1/organizations/federation_issuers?limit=1"
    assert all("&page=" in path for path in gets[1:])

    fetched = issuers.retrieve(first.id)
    assert fetched.issuer_url == "https://127.0.0.1:9000/oauth2/default"
    updated = issuers.update(first.id, name="sdk-issuer-renamed", max_jwt_lifetime_seconds=7500, check_jti=False,
                             jwks={"type": "explicit_url", "url": "https://127.0.0.1:9000/keys"})
    assert (updated.name, updated.max_jwt_lifetime_seconds, updated.check_jti) == ("sdk-issuer-renamed", 7500, False)
    assert updated.jwks.type == "explicit_url" and updated.jwks.url == "https://127.0.0.1:9000/keys"
    assert updated.updated_by_actor_id == first.created_by_actor_id

    archived = issuers.archive(first.id)
    assert archived.archived_at is not None
    assert issuers.archive(first.id).archived_at == archived.archived_at  # idempotent
    assert first.id not in [i.id for i in issuers.list()]
    assert first.id in [i.id for i in issuers.list(include_archived=True)]


def test_service_account_rule_and_workspaces(client: anthropic.Anthropic, mock: AnthropicMock) -> None:
    team = mock.store.create_workspace("SDK team")["id"]
    default = mock.store.default_workspace_id
    issuer = client.organization.federation.issuers.create(
        name="sdk-rules-issuer", issuer_url="https://127.0.0.1:9443/oauth2/default", jwks={"type": "discovery"}
    )
    sa = client.organization.service_accounts.create(name="sdk-worker", description="from the SDK")
    assert (sa.organization_role, sa.type, sa.description) == ("developer", "service_account", "from the SDK")
    member = client.organization.service_accounts.workspaces.add(
        sa.id, workspace_id=team, workspace_role="workspace_developer"
    )
    assert (member.workspace_id, member.workspace_role, member.implicit) == (team, "workspace_developer", False)
    memberships = list(client.organization.service_accounts.workspaces.list(sa.id))
    assert [(m.workspace_id, m.implicit) for m in memberships] == [(default, True), (team, False)]

    rules = client.organization.federation.rules
    rule = rules.create(
        issuer_id=issuer.id,
        name="sdk-rule",
        match={"subject_prefix": "system:serviceaccount:lab:claude-client", "audience": "https://api.anthropic.com"},
        oauth_scope="workspace:inference",
        target={"type": "service_account", "service_account_id": sa.id},
        token_lifetime_seconds=600,
        workspace_id=team,
    )
    assert rule.id.startswith("fdrl_") and rule.issuer_name == "sdk-rules-issuer"
    assert rule.target.service_account_name == "sdk-worker" and rule.workspace_ids == [team]
    assert rule.match.subject_prefix == "system:serviceaccount:lab:claude-client" and rule.match.claims is None
    assert [r.id for r in rules.list(issuer_id=issuer.id)] == [rule.id]

    updated = rules.update(rule.id, description=None, match={"claims": {"kubernetes.io/namespace": "lab"}})
    assert updated.description == "" and updated.match.subject_prefix is None
    assert updated.match.claims == {"kubernetes.io/namespace": "lab"}

    enabled = rules.workspaces.add(rule.id, workspace_id=default)
    assert (enabled.workspace_id, enabled.workspace_name) == (default, None)
    listed = list(rules.workspaces.list(rule.id))
    assert [(w.workspace_id, w.workspace_name) for w in listed] == [(team, "SDK team"), (default, "Default")]
    removed = rules.workspaces.remove(team, federation_rule_id=rule.id)
    assert (removed.type, removed.workspace_id) == ("federation_rule_workspace_deleted", team)
    assert rules.retrieve(rule.id).workspace_ids == [default]

    archived = rules.archive(rule.id)
    assert archived.archived_at is not None and archived.workspace_ids == []
    assert client.organization.service_accounts.archive(sa.id).archived_at is not None


def test_duplicate_name_is_one_request_and_a_conflict(client: anthropic.Anthropic, log: RequestLog) -> None:
    client.organization.service_accounts.create(name="sdk-duplicate")
    log.clear()
    with pytest.raises(anthropic.ConflictError) as raised:
        client.organization.service_accounts.create(name="sdk-duplicate")
    assert log.requests == [("POST", "/v1/organizations/service_accounts")]  # x-should-retry: false honoured
    error = raised.value
    assert error.status_code == 409
    assert error.body["error"]["type"] == "conflict_error"  # type: ignore[index]
    assert error.request_id and error.request_id.startswith("req_")


def test_validation_errors_surface_as_bad_request(client: anthropic.Anthropic, log: RequestLog) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.organization.federation.issuers.create(name="sdk-plain-http", issuer_url="http://127.0.0.1:9443")
    error = raised.value
    assert error.body["error"] == {  # type: ignore[index]
        "type": "invalid_request_error",
        "message": "issuer_url: url must use https scheme",
    }
    assert len(log.requests) == 1
    with pytest.raises(anthropic.NotFoundError):
        client.organization.federation.rules.retrieve("fdrl_01doesnotexist")


def test_workload_tokens_without_org_admin_are_refused(stack: MockStack, mock: AnthropicMock,
                                                       log: RequestLog) -> None:
    token = mock.store.mint_grant(
        Grant("svac_01x", mock.store.default_workspace_id, "workspace:inference", expires_at=None, rule_id="fdrl_1")
    )
    with _client(stack, token, log) as workload, pytest.raises(anthropic.PermissionDeniedError):
        workload.organization.federation.issuers.list()
    assert len(log.requests) == 1  # a 403 is final: no token refresh, no retry


def test_workspaces_list_uses_the_id_cursor_page(client: anthropic.Anthropic, mock: AnthropicMock) -> None:
    made = [mock.store.create_workspace(f"SDK page {i}")["id"] for i in range(3)]
    seen: list[Any] = [w.id for w in client.organization.workspaces.list(limit=1)]
    assert seen[-3:] == made and mock.store.default_workspace_id not in seen
    with_default = client.organization.workspaces.list(include_default=True, limit=100)
    assert with_default.data[0].id == mock.store.default_workspace_id
    assert with_default.data[0].data_residency.workspace_geo == "us"


def test_workspace_side_of_memberships(client: anthropic.Anthropic, mock: AnthropicMock, log: RequestLog) -> None:
    """client.organization.workspaces.service_accounts: the same memberships, addressed by workspace."""
    team = mock.store.create_workspace("SDK members")["id"]
    default = mock.store.default_workspace_id
    accounts = [client.organization.service_accounts.create(name=f"sdk-member-{i}") for i in range(3)]
    members = client.organization.workspaces.service_accounts
    log.clear()
    for sa in accounts:
        added = members.add(team, service_account_id=sa.id, workspace_role="workspace_user")
        assert (added.workspace_id, added.implicit) == (team, False)
    assert log.requests[0] == ("POST", f"/v1/organizations/workspaces/{team}/service_accounts")
    # The same membership is visible from the service account's side.
    assert [m.workspace_id for m in client.organization.service_accounts.workspaces.list(accounts[0].id)] == [
        default, team]

    first, second, third = (sa.id for sa in accounts)
    assert [m.service_account_id for m in members.list(team, limit=2)] == [first, second, third]  # auto-paged
    updated = members.update(second, workspace_id=team, workspace_role="workspace_developer")
    assert updated.workspace_role == "workspace_developer"
    assert members.retrieve(second, workspace_id=team).workspace_role == "workspace_developer"

    # The default workspace: the implicit membership can be read, not listed or updated.
    implicit = members.retrieve(first, workspace_id=default)
    assert (implicit.implicit, implicit.workspace_role) == (True, "workspace_user")
    assert first not in [m.service_account_id for m in members.list(default)]
    with pytest.raises(anthropic.BadRequestError, match="implicit"):
        members.update(first, workspace_id=default, workspace_role="workspace_developer")

    removed = members.remove(third, workspace_id=team)
    assert (removed.type, removed.service_account_id) == ("service_account_workspace_member_deleted", third)
    assert members.remove(third, workspace_id=team).workspace_id == team  # idempotent
    with pytest.raises(anthropic.NotFoundError):
        members.retrieve(third, workspace_id=team)
    client.organization.service_accounts.archive(second)
    assert [m.service_account_id for m in members.list(team)] == [first]  # archived accounts are omitted
    with pytest.raises(anthropic.NotFoundError):
        members.retrieve(second, workspace_id=team)
    with pytest.raises(anthropic.BadRequestError, match="service_account_id"):
        members.add(team, service_account_id="svac_01nope", workspace_role="workspace_user")
    with pytest.raises(anthropic.BadRequestError, match="workspace_billing"):
        members.add(team, service_account_id=first, workspace_role="workspace_billing")  # type: ignore[arg-type]
    archived_ws = mock.store.create_workspace("SDK archived")
    archived_ws["archived_at"] = mock.store.now_iso()
    with pytest.raises(anthropic.BadRequestError, match="archived"):
        members.list(archived_ws["id"])


def test_a_rule_names_only_a_workspace_its_account_belongs_to(client: anthropic.Anthropic,
                                                             mock: AnthropicMock) -> None:
    """Current wif-reference / wif-admin-api: the rule's workspace_id is required unless the rule applies to all
    workspaces, and the target service account must be a member of it (always true of the default workspace)."""
    team = mock.store.create_workspace("SDK members only")["id"]
    issuer = client.organization.federation.issuers.create(
        name="sdk-membership-issuer", issuer_url="https://127.0.0.1:9444/oauth2/default")
    sa = client.organization.service_accounts.create(name="sdk-membership-sa")
    outsider = client.organization.service_accounts.create(name="sdk-membership-outsider")
    rules = client.organization.federation.rules

    def create(name: str, target: str, **extra: Any) -> Any:
        return rules.create(issuer_id=issuer.id, name=name, match={"subject_prefix": "lab-member"},
                            oauth_scope="workspace:inference",
                            target={"type": "service_account", "service_account_id": target}, **extra)

    with pytest.raises(anthropic.BadRequestError) as raised:
        create("sdk-not-yet-member", sa.id, workspace_id=team)
    assert raised.value.status_code == 400
    assert raised.value.body["error"] == {  # type: ignore[index]
        "type": "invalid_request_error",
        "message": f"workspace_id: service account '{sa.id}' is not a member of workspace '{team}'; add it first "
                   f"with POST /v1/organizations/service_accounts/{sa.id}/workspaces",
    }
    with pytest.raises(anthropic.BadRequestError, match="workspace_id: field required unless"):
        create("sdk-no-workspace", sa.id)
    everywhere = create("sdk-everywhere", outsider.id, applies_to_all_workspaces=True)
    assert (everywhere.applies_to_all_workspaces, everywhere.workspace_ids) == (True, [])
    in_default = create("sdk-in-default", outsider.id, workspace_id="default")  # implicit membership
    assert in_default.workspace_ids == [mock.store.default_workspace_id]

    client.organization.service_accounts.workspaces.add(sa.id, workspace_id=team, workspace_role="workspace_user")
    rule = create("sdk-member", sa.id, workspace_id=team)
    assert rule.workspace_ids == [team]

    # Update: the rule's workspace must stay one its (possibly new) target belongs to.
    with pytest.raises(anthropic.BadRequestError, match=f"workspace_id: service account '{outsider.id}'"):
        rules.update(rule.id, target={"type": "service_account", "service_account_id": outsider.id})
    with pytest.raises(anthropic.BadRequestError, match=f"is not a member of workspace '{team}'"):
        rules.update(in_default.id, workspace_id=team)
    assert rules.retrieve(rule.id).target.service_account_id == sa.id  # nothing changed
    moved = rules.update(rule.id, workspace_id="default",
                         target={"type": "service_account", "service_account_id": outsider.id})
    assert (moved.workspace_ids, moved.target.service_account_id) == ([mock.store.default_workspace_id], outsider.id)
    for made in (everywhere, in_default, moved):
        rules.archive(made.id)
