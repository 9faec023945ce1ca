"""``wif-lab setup anthropic|okta FILE``: the command-line face of the setup modules.

Exit codes: 0 done (or nothing to do), 2 a problem with the file or the environment (nothing sent),
1 the service refused or could not be reached. Either error is one ``error:`` line plus what to check.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigurationError, WifLabError
from .plan import Plan

NOTEBOOK_NAMES = {"base_url": "anthropic_base_url"}  # plan value → the notebooks' parameter name


def _report(plan: Plan, as_json: bool) -> None:
    if as_json:
        print(plan.as_json())
        return
    print(repr(plan))
    if plan.dry_run:
        print("\nNothing was changed (dry run)." if plan.changed else "\nAlready up to date: nothing to change.")
    elif not plan.changed:
        print("\nAlready up to date: nothing changed.")
    shown = {k: v for k, v in plan.values.items() if v}
    if shown and not plan.dry_run:
        print("\nValues the notebooks take (papermill -p NAME VALUE):")
        for key, value in shown.items():
            print(f"  {NOTEBOOK_NAMES.get(key, key)} = {value}")


def _guarded(run: Callable[[argparse.Namespace], Plan]) -> Callable[[argparse.Namespace], int]:
    """Service errors exit 1 here; configuration errors go on to wif-lab's main (exit 2)."""

    def command(args: argparse.Namespace) -> int:
        try:
            plan = run(args)
        except ConfigurationError:
            raise
        except WifLabError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        _report(plan, args.json)
        return 0

    return command


@_guarded
def _anthropic(args: argparse.Namespace) -> Plan:
    from .anthropic import AnthropicSetup
    from .anthropic_config import load_anthropic

    setup = AnthropicSetup(load_anthropic(Path(args.config)))
    return setup.archive(dry_run=args.dry_run) if args.archive else setup.run(dry_run=args.dry_run)


@_guarded
def _okta(args: argparse.Namespace) -> Plan:
    from .okta import OktaSetup
    from .okta_config import load_okta

    return OktaSetup(load_okta(Path(args.config))).run(dry_run=args.dry_run)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``setup`` on wif-lab's subcommands."""
    setup = sub.add_parser("setup", help="create or update a real setup from a TOML file (idempotent)",
                           description=__doc__).add_subparsers(dest="setup_command", required=True)
    anthropic = setup.add_parser(
        "anthropic", help="the federation issuer, service account (and workspace membership) and rule",
        description="Creates or updates the [anthropic] objects of FILE through the Admin API, found by name. The "
        "org:admin OAuth token comes from WIF_LAB_ADMIN_TOKEN. Writes the env file / profile of [anthropic.output].")
    anthropic.add_argument("config", metavar="FILE", help="the setup file (TOML), e.g. setup/anthropic.example.toml")
    anthropic.add_argument("--dry-run", action="store_true", help="show what would change, field by field; change "
                           "nothing")
    anthropic.add_argument("--archive", action="store_true", help="clean up: archive the file's rule, then its "
                           "issuer and service account when no other live rule uses them")
    anthropic.add_argument("--json", action="store_true", help="print the plan as JSON (for pipelines)")
    anthropic.set_defaults(func=_anthropic)
    okta = setup.add_parser(
        "okta", help="the Okta app (private_key_jwt, DPoP), authorization server audience, scope and access policy",
        description="Creates or updates the [okta] objects of FILE through Okta's Management API, found by name. The "
        "API token comes from OKTA_API_TOKEN (sent as `SSWS <token>`).")
    okta.add_argument("config", metavar="FILE", help="the setup file (TOML), e.g. setup/okta.example.toml")
    okta.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")
    okta.add_argument("--json", action="store_true", help="print the plan as JSON (for pipelines)")
    okta.set_defaults(func=_okta)
