"""An in-process Google issuer + metadata server pair on a settable clock, for the Google Cloud tests."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.testclient import TestClient

from tests._azure_lab import FakeClock, azure_context
from wif_lab.mock.base import LabContext
from wif_lab.mock.google import GoogleAccounts, MetadataServer

GOOGLE_BASE = "https://google.test"
METADATA_BASE = "http://metadata.test"
FLAVOR = {"Metadata-Flavor": "Google"}


class GoogleLab:
    def __init__(self, state_dir: Path, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.ctx: LabContext = azure_context(state_dir, self.clock)
        self.ctx.base_urls.update(google=GOOGLE_BASE, gce_metadata=METADATA_BASE)
        self.google = GoogleAccounts(self.ctx)
        self.ctx.mocks["google"] = self.google
        self.metadata = MetadataServer(self.ctx)
        self.http = TestClient(self.metadata.asgi(), base_url=METADATA_BASE)
        self.issuer_http = TestClient(self.google.asgi(), base_url=GOOGLE_BASE)


class InProcess(httpx.BaseTransport):
    """A sync httpx transport that hands each request to an app through starlette's TestClient (which
    speaks httpx2), so a workload-side client built by wif_lab.http talks to a mock without a socket."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.client.request(request.method, str(request.url), headers=dict(request.headers),
                                     content=request.read(), follow_redirects=False)
        return httpx.Response(answer.status_code, headers=list(answer.headers.multi_items()), content=answer.content,
                              request=request)
