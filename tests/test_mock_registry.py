"""The mock registry: one ``SPEC`` per mock module, a start order the stack checks, and a ``base_url`` in
every connection section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from wif_lab.mock.base import LabContext, MockSpec, check_order
from wif_lab.mock.registry import SPECS, default_specs, load_spec
from wif_lab.mock.stack import MockStack


def test_each_registry_line_names_a_module_spec() -> None:
    specs = default_specs()
    assert len(specs) == len(SPECS)
    assert [s.name for s in specs] == [
        "anthropic", "oidc", "okta", "entra", "kubernetes", "imds", "app_service",
        "spire",
        "github_actions",
        "aws",
        "google",
        "gce_metadata",
        "kubernetes_cluster",
    ]
    assert {s.name: s.requires for s in specs if s.requires} == {
        "kubernetes": ("entra",), "imds": ("entra",), "app_service": ("entra",), "gce_metadata": ("google",)}
    check_order(specs)  # the default order satisfies every requirement


def test_a_reference_that_is_not_a_spec_is_refused() -> None:
    with pytest.raises(TypeError, match="not a MockSpec"):
        load_spec("wif_lab.mock.registry:SPECS")


def test_the_stack_refuses_a_mock_before_one_it_requires(tmp_path: Path) -> None:
    by_name = {s.name: s for s in default_specs()}
    with pytest.raises(ValueError, match=r"'kubernetes' requires 'entra'"):
        MockStack(tmp_path, specs=[by_name["kubernetes"], by_name["entra"]])
    with pytest.raises(ValueError, match=r"'imds' requires 'entra'"):
        MockStack(tmp_path, specs=[by_name["imds"]])


class _NoBaseUrl:
    name = "bare"

    def __init__(self, ctx: LabContext) -> None:
        self.ctx = ctx

    def asgi(self) -> Starlette:
        return Starlette()

    def connection(self) -> dict[str, Any]:
        return {"url": self.ctx.base_url(self.name)}


def test_a_connection_section_without_base_url_is_refused(tmp_path: Path) -> None:
    stack = MockStack(tmp_path, specs=[MockSpec("bare", "http", factory=_NoBaseUrl)])
    with pytest.raises(RuntimeError, match="must name its base_url"):
        stack.start()
    assert stack._servers == []  # the stack stopped what it had started


def test_every_default_section_names_its_base_url(lab: MockStack) -> None:
    connection = lab.connection()
    assert lab.context is not None
    for spec in lab.specs:
        section = connection[getattr(lab.mocks[spec.name], "connection_section", spec.name)]
        assert section["base_url"] == lab.context.base_urls[spec.name]
