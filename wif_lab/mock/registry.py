"""The mocks a default lab starts, in start order (a mock may use those before it)."""

from __future__ import annotations

from .base import LabContext, Mock, MockSpec


def _anthropic(ctx: LabContext) -> Mock:
    from .anthropic.service import AnthropicMock

    return AnthropicMock(ctx)


def _oidc(ctx: LabContext) -> Mock:
    from .oidc import OidcIssuer

    return OidcIssuer(ctx)


def _okta(ctx: LabContext) -> Mock:
    from .okta import OktaMock

    return OktaMock(ctx)


def _kubernetes(ctx: LabContext) -> Mock:
    from .aks import aks_cluster

    return aks_cluster(ctx, kubelet_poll_seconds=30.0)  # the kubelet refreshes tokens at 80 % of life


def _entra(ctx: LabContext) -> Mock:
    from .entra import EntraMock

    return EntraMock(ctx)


def _imds(ctx: LabContext) -> Mock:
    from .azure_imds import ImdsMock

    return ImdsMock(ctx)


def _app_service(ctx: LabContext) -> Mock:
    from .app_service_identity import AppServiceIdentityMock

    return AppServiceIdentityMock(ctx)


def default_specs() -> list[MockSpec]:
    return [
        MockSpec("anthropic", "https", _anthropic),
        MockSpec("oidc", "https", _oidc),
        MockSpec("okta", "https", _okta),
        MockSpec("entra", "https", _entra),
        MockSpec("kubernetes", "https", _kubernetes),  # after entra: the AKS wiring reads Entra's tenant
        MockSpec("imds", "http", _imds),
        MockSpec("app_service", "http", _app_service),  # the hosting services' identity endpoint, plain http too
        # Provider mocks register here, one line each.
    ]
