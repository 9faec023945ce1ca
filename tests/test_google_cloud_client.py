"""The workload-side metadata client against the mock in-process (no socket):
the token, each refusal as a GoogleRefused with its code and hint, the ping, and where the host comes
from; plus canned answers for what the mock never sends (throttling, a non-metadata endpoint)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests._google_lab import GoogleLab, InProcess
from wif_lab.errors import ConfigurationError, ProviderError
from wif_lab.providers.google_cloud import (
    HINTS,
    METADATA_HOST,
    GoogleRefused,
    MetadataClient,
    from_connection,
    metadata_root,
    token_provider,
)
from wif_lab.tokens import decode


@pytest.fixture(scope="module")
def gcp(state_dir: Path) -> GoogleLab:
    return GoogleLab(state_dir / "google-client")


@pytest.fixture(scope="module")
def transport(gcp: GoogleLab) -> httpx.BaseTransport:
    return InProcess(gcp.http)


def client(transport: httpx.BaseTransport, **kwargs: object) -> MetadataClient:
    return MetadataClient(host="metadata.test", transport=transport, **kwargs)  # type: ignore[arg-type]


def test_the_token_has_email_because_the_client_asks_for_format_full(transport: httpx.BaseTransport) -> None:
    meta = client(transport)
    assert meta.params == {"audience": "https://api.anthropic.com", "format": "full"}
    claims = decode(meta.identity_token()).claims
    assert claims["email"].endswith(".iam.gserviceaccount.com") and claims["iss"] == "https://accounts.google.com"
    token = meta.identity_token()
    assert "signature redacted" in repr(token) and token.split(".")[2] not in repr(token)  # a Secret


def test_without_format_the_token_lacks_email(transport: httpx.BaseTransport) -> None:
    assert "email" not in decode(client(transport, format="").identity_token()).claims


@pytest.mark.parametrize("kwargs, status, code", [
    ({"flavor": None}, 403, "missing_flavor"),
    ({"flavor": "google"}, 404, "wrong_flavor"),
    ({"format": "compact"}, 400, "bad_parameter"),
], ids=["no-header", "wrong-case", "bad-format"])
def test_each_refusal_is_a_google_refused_with_its_hint(transport: httpx.BaseTransport, kwargs: dict, status: int,
                                                        code: str) -> None:
    with pytest.raises(GoogleRefused) as caught:
        client(transport, **kwargs).identity_token()
    assert caught.value.status == status and caught.value.code == code and caught.value.hint == HINTS[code]


def test_missing_audience_is_refused_by_the_server_and_by_the_client(transport: httpx.BaseTransport) -> None:
    meta = client(transport)
    meta.audience = ""  # past the constructor's own check, to hear the server
    with pytest.raises(GoogleRefused) as caught:
        meta.identity_token()
    assert caught.value.code == "missing_audience" and "non-empty audience" in caught.value.text
    with pytest.raises(ConfigurationError):
        MetadataClient("")


def test_a_forwarded_request_and_an_unknown_machine(gcp: GoogleLab, transport: httpx.BaseTransport) -> None:
    forwarded = httpx.Response(403, text="Forbidden\n", request=httpx.Request("GET", "http://metadata.test/"))
    from wif_lab.providers.google_cloud import refusal

    assert refusal(forwarded).code == "forwarded"
    with pytest.raises(GoogleRefused) as caught:
        MetadataClient(host="metadata.test/vms/nope", transport=transport).identity_token()
    assert caught.value.code == "not_found" and "404 page" in caught.value.message


def test_ping_is_what_google_auth_checks(transport: httpx.BaseTransport) -> None:
    assert client(transport).ping()
    bare = httpx.MockTransport(lambda request: httpx.Response(200, text="hello"))
    assert not client(bare).ping()  # 200 without Metadata-Flavor is not a metadata server


def test_canned_answers_the_mock_never_gives() -> None:
    throttled = httpx.MockTransport(lambda request: httpx.Response(503, text="Service Unavailable"))
    with pytest.raises(GoogleRefused) as caught:
        client(throttled).identity_token()
    assert caught.value.code == "unavailable"
    html = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>captive portal</html>"))
    with pytest.raises(ProviderError, match="without a JWT"):
        client(html).identity_token()


def test_the_host_comes_from_the_argument_then_google_auths_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GCE_METADATA_HOST", "GCE_METADATA_ROOT"):
        monkeypatch.delenv(name, raising=False)
    assert metadata_root() == f"http://{METADATA_HOST}"
    monkeypatch.setenv("GCE_METADATA_ROOT", "old.example:81")
    assert metadata_root() == "http://old.example:81"
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:8080/pods/ns/sa")
    assert MetadataClient().identity_url == ("http://127.0.0.1:8080/pods/ns/sa/computeMetadata/v1/instance/"
                                             "service-accounts/default/identity")
    assert metadata_root("given:1") == "http://given:1"
    with pytest.raises(ConfigurationError, match="must not name a scheme"):
        metadata_root("http://metadata.google.internal")


def test_from_connection_and_the_token_provider(gcp: GoogleLab, transport: httpx.BaseTransport) -> None:
    section = gcp.metadata.connection()
    pod = from_connection(section, host="gke-pod", transport=transport)
    assert pod.root == "http://metadata.test/pods/inference/claude-inference"
    provide = token_provider(pod)
    first = provide()
    assert type(first) is str and decode(first).claims["google"]["compute_engine"]["instance_name"].startswith("gke-")
    with pytest.raises(ConfigurationError, match="no machine"):
        from_connection(section, host="nope")
