"""The mock STS as the lab runs it: one regional endpoint (``https://sts.us-east-1.amazonaws.com`` stands
behind the lab's base URL), the account's issuer documents on the same host, and the lab-only routes.

The same host answers IAM's three outbound-federation actions (``EnableOutboundWebIdentityFederation``,
``DisableOutboundWebIdentityFederation``, ``GetOutboundWebIdentityFederationInfo``) for requests signed for
``iam``, so ``AWS_ENDPOINT_URL_IAM=<base URL>`` turns the account's switch with the real client too.
boto3 and the AWS CLI reach it unchanged through ``AWS_ENDPOINT_URL_STS=<base URL>`` with
``AWS_CA_BUNDLE=<lab CA>`` (TLS verification on), ``AWS_REGION=us-east-1`` and the session's
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, exactly the variables Lambda
puts in a function's environment.
"""

from __future__ import annotations

import random
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

from ..base import LabContext, MockSpec
from ..errors import EXCEPTION_HANDLERS
from . import models
from .responses import StsService, credentials


class StsMock:
    """The lab's AWS account and its regional STS endpoint."""

    name = "aws"

    def __init__(self, ctx: LabContext, *, federation_enabled: bool = False) -> None:
        self.ctx = ctx
        self.base_url = ctx.base_url(self.name)
        self.account = models.Account(ctx, self.base_url, federation_enabled=federation_enabled)
        self.service = StsService(self.account)
        # The lab's default session: stable IDs from run to run (the notebook shows the key ID, never the secret).
        self.default_session = self.account.new_session(rng=random.Random(f"{ctx.seed}:aws:session"))

    def asgi(self) -> Starlette:
        s = self.service
        return Starlette(
            routes=[
                Route("/", s.endpoint, methods=["GET", "POST"]),
                Route("/{issuer}/.well-known/openid-configuration", s.discovery, methods=["GET"]),
                Route("/{issuer}/.well-known/jwks.json", s.jwks, methods=["GET"]),
                Route("/lab/outbound-federation", s.lab_federation, methods=["GET", "POST"]),
                Route("/lab/sessions", s.lab_sessions, methods=["POST"]),
            ],
            exception_handlers=EXCEPTION_HANDLERS,
        )

    def connection(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "endpoint_url": self.base_url,  # AWS_ENDPOINT_URL_STS
            "iam_endpoint_url": self.base_url,  # AWS_ENDPOINT_URL_IAM: the outbound-federation switch
            "region": self.account.region,
            "account_id": self.account.account_id,
            "issuer": self.account.issuer,
            "role_arn": self.account.roles[models.DEFAULT_ROLE].arn,
            "roles": {name: role.arn for name, role in self.account.roles.items()},
            "credentials": credentials(self.default_session),
            "federation_url": f"{self.base_url}/lab/outbound-federation",
            "sessions_url": f"{self.base_url}/lab/sessions",
        }


SPEC = MockSpec("aws", "https", factory=StsMock)
