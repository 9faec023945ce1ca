"""``wif-lab``: serve the mock stack for a workshop, run notebooks headless, regenerate outputs, check a real setup."""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from .errors import ConfigurationError, WifLabError
from .parameters import add_parameter_option, bind_parameter_pairs

if TYPE_CHECKING:
    from .mock.stack import MockStack

SERVE_LOCK = "serve.lock"


def _serve(args: argparse.Namespace) -> int:
    from .mock.registry import default_specs
    from .mock.stack import MockStack

    _check_host(args.host)
    _check_port(args.port, len(default_specs()))
    _check_folder_options(args)
    state_dir = Path(args.state_dir).expanduser() if args.state_dir else None
    if state_dir is None:
        from .lab import default_state_dir

        state_dir = default_state_dir() / "serve"
    run_dir = _serve_run_dir(state_dir, args.run_dir)
    lock = _lock_state_dir(run_dir)
    try:
        stack = MockStack(state_dir, host=args.host, port=args.port, connection_file=run_dir / "connection.json",
                          run_dir=run_dir, connection_mode=0o644 if args.shared else 0o600)
        return _run_stack(stack)
    finally:
        lock.close()  # releases the lock


def _serve_run_dir(state_dir: Path, given: str | None) -> Path:
    """Where serve writes connection.json and its lock: --run-dir, else the state dir, else (read-only state dir,
    e.g. one baked into an image by `wif-lab mock init`) a folder of this user's under the run root."""
    if given:
        return Path(given).expanduser()
    if not state_dir.is_dir() or os.access(state_dir, os.W_OK | os.X_OK):
        return state_dir  # (what is not a usable directory is refused with the state dir's own message)
    from .lab import default_run_root

    return default_run_root() / "serve"


def _init(args: argparse.Namespace) -> int:
    """Make the CA, the server certificate and every key a stack start needs, then stop: an image's build step."""
    import tempfile

    from .lab import default_state_dir
    from .mock.stack import MockStack

    _check_host(args.host)
    _check_folder_options(args)
    state_dir = Path(args.state_dir).expanduser() if args.state_dir else default_state_dir()
    with tempfile.TemporaryDirectory(prefix="wif-lab-init-") as run_dir:
        stack = MockStack(state_dir, host=args.host, connection_file=Path(run_dir) / "connection.json",
                          run_dir=Path(run_dir))
        try:
            with stack:
                pass
        except OSError as exc:
            raise ConfigurationError(
                f"cannot prepare the state dir {state_dir}: {exc.strerror or exc} ({exc.filename or 'state dir'})",
                hint="--state-dir must be a directory this user can create and write while the image is built",
            ) from exc
    files = sorted(p for p in state_dir.rglob("*.pem"))
    print(f"wif-lab state dir ready: {state_dir} ({len(files)} PEM files, {stack.timings['total']:.2f} s)")
    print("  It may be read-only from now on: running labs keep their own files under "
          "$WIF_LAB_RUN_DIR (default: the temp dir).")
    print(f"  export WIF_LAB_STATE_DIR={state_dir}")
    return 0


def _run_stack(stack: MockStack) -> int:
    try:
        connection = stack.start()
    except OSError as exc:  # the CA, keys or token files could not be written (a dir of another user?)
        raise ConfigurationError(
            f"cannot start the mock stack in {stack.state_dir}: {exc.strerror or exc} ({exc.filename or 'state dir'})",
            hint="everything in the state dir must be writable by this user; or pass a fresh --state-dir",
        ) from exc
    print(f"wif-lab mock stack running ({stack.timings['total']:.2f} s to start)")
    for name, section in connection.items():
        if isinstance(section, dict):
            url = section.get("base_url")  # every mock names its own
            if url:
                print(f"  {name:<10} {url}")
    print(f"Connection file: {stack.connection_file}")
    print(f"  export WIF_LAB_CONNECTION={stack.connection_file}")
    print("Press Ctrl-C to stop.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        print("stopped.")
    return 0


# --- mock serve: what is checked before anything starts ------------------------------------------


def _check_host(host: str) -> None:
    """Certificates and every URL in connection.json name ``host``: it must be the address clients use."""
    try:
        wildcard = not host or ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a DNS name
        wildcard = False
    if wildcard:
        raise ConfigurationError(
            f"--host {host or repr(host)} would listen on every address, but the certificates and the URLs in "
            "connection.json must name the one address clients use",
            hint="pass that address instead: --host <this machine's IP or DNS name on the workshop network> "
            "(certificates are issued for it), or leave the default 127.0.0.1 for clients on this machine",
        )


def _check_folder_options(args: argparse.Namespace) -> None:
    """An empty --state-dir or --run-dir (an unset shell variable, say) is a mistake, not a wish for the default."""
    for option in ("state_dir", "run_dir"):
        value = getattr(args, option, None)
        if value is not None and not value.strip():
            flag = "--" + option.replace("_", "-")
            raise ConfigurationError(f"{flag} is empty", hint=f"give {flag} a folder, or leave the option out for the "
                                     "default")


def _check_port(port: int, count: int) -> None:
    """The mocks take ``count`` consecutive ports from ``port`` (0: free ports chosen by the system)."""
    last = 65535 - count + 1
    if port != 0 and not 1 <= port <= 65535:
        raise ConfigurationError(f"--port {port} is not a port number",
                                 hint=f"a first port from 1024 to {last}, or 0 (the default) for free ports")
    if port != 0 and port > last:
        raise ConfigurationError(
            f"--port {port} is out of range: the {count} mocks take ports {port}–{port + count - 1}",
            hint=f"a first port from 1024 to {last}, or 0 (the default) for free ports",
        )


def _lock_state_dir(state_dir: Path) -> TextIO:
    """Create the state dir and hold its serve lock: a second serve must not take over connection.json."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        handle = open(state_dir / SERVE_LOCK, "a+")  # noqa: SIM115 - held open for the life of the process
    except OSError as exc:
        if isinstance(exc, FileExistsError | IsADirectoryError):
            kind = "it is a file, not a directory" if state_dir.is_file() else "its serve.lock is not a file"
        elif isinstance(exc, NotADirectoryError):
            kind = "part of that path is a file, not a directory"
        else:
            kind = (exc.strerror or str(exc)).lower()
        raise ConfigurationError(
            f"cannot use {state_dir} as the state dir: {kind}",
            hint="--state-dir must be a directory you can create and write, e.g. --state-dir ~/wif-lab-state",
        ) from exc
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock, as before
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise ConfigurationError(
            f"another `wif-lab mock serve` (pid {owner}) is already using the state dir {state_dir}",
            hint=f"use that stack (export WIF_LAB_CONNECTION={state_dir / 'connection.json'}), stop it first, or "
            "pass another --state-dir",
        ) from exc
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _run(args: argparse.Namespace) -> int:
    from .runner import BUILD_DIR, parse_parameters, run

    return run(args.notebooks, parameters=parse_parameters(args.parameter or []),
               output_dir=Path(args.output_dir) if args.output_dir else BUILD_DIR, timeout=args.timeout)


def _doctor(args: argparse.Namespace) -> int:
    from .doctor.cli import main

    return main(args)


def _doctor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=("live", "mock"), default="live",
                        help="live (default): the services this environment names; mock: the lab named by "
                        "WIF_LAB_CONNECTION (loopback issuers are then lab notes, not failures)")
    parser.add_argument("--provider",
                        choices=("file", "okta", "azure-imds", "aks", "spiffe", "github-actions", "gcp", "aws"),
                        help="how to get the identity token: file (--token-file, or the SDK's own token file; the "
                        "default), okta (client credentials), azure-imds (a VM's managed identity), aks (hop 1 "
                        "with the pod's projected token), spiffe (a JWT-SVID from the SPIRE agent at "
                        "SPIFFE_ENDPOINT_SOCKET or -p spiffe_endpoint_socket), github-actions (the runner of a job "
                        "with id-token: write), gcp (the Google Cloud metadata server, format=full), aws (STS "
                        "GetWebIdentityToken with the credentials boto3 would find, in -p aws_region)")
    parser.add_argument("--token-file", help="the identity token file to check (default: the one the SDK would read)")
    add_parameter_option(parser, "a value under the notebooks' parameter name, e.g. -p federation_rule_id fdrl_…, "
                         "-p okta_issuer https://…; secrets come from the environment (WIF_LAB_ADMIN_TOKEN, "
                         "OKTA_CLIENT_SECRET), never from here")
    parser.add_argument("--exchange", action="store_true",
                        help="also exchange the token and make one Messages call (presents the token once: a token "
                        "with a jti cannot be exchanged again)")
    parser.add_argument("--model", default="claude-haiku-4-5", help="the model of --exchange's call")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (secret-free) for a pipeline")
    parser.add_argument("--strict", action="store_true", help="warnings and skipped checks fail the run too")


def _regen(args: argparse.Namespace) -> int:
    from .runner import regen

    return regen(args.notebooks, timeout=args.timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wif-lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    mock = sub.add_parser("mock", help="the mock endpoints").add_subparsers(dest="mock_command", required=True)
    serve = mock.add_parser("serve", help="run the mock stack in the foreground until interrupted")
    serve.add_argument("--host", default="127.0.0.1",
                       help="the address clients use to reach this machine (an IP or DNS name of it); the mocks "
                       "listen there and their certificates name it (default 127.0.0.1; 0.0.0.0 is refused)")
    serve.add_argument("--port", type=int, default=0,
                       help="first port; the mocks take consecutive ports from it (default: free ports)")
    serve.add_argument("--state-dir", help="where the CA, keys and connection.json live; one serve at a time "
                       "(default ~/.cache/wif-lab/serve)")
    serve.add_argument("--run-dir", help="where connection.json and the serve lock go (default: the state dir; a "
                       "folder under $WIF_LAB_RUN_DIR or the temp dir when the state dir is read-only)")
    serve.add_argument("--shared", action="store_true",
                       help="a workshop's shared lab: connection.json readable by every local user (mode 644), so "
                       "attendees attach to it; each attendee registers their own apps and keys on joining")
    serve.set_defaults(func=_serve)
    init = mock.add_parser("init", help="prepare a state dir (CA, certificate, keys) ahead of time, e.g. while "
                           "building an image; it may be read-only afterwards")
    init.add_argument("--state-dir", help="the folder to prepare (default: $WIF_LAB_STATE_DIR or ~/.cache/wif-lab)")
    init.add_argument("--host", default="127.0.0.1", help="the address a later serve will use (its certificate)")
    init.set_defaults(func=_init)

    nbs = sub.add_parser("notebooks", help="run or regenerate the notebooks").add_subparsers(
        dest="nb_command", required=True)
    run = nbs.add_parser("run", help="run notebooks headless with papermill (default: all)")
    run.add_argument("notebooks", nargs="*", help="names or prefixes, e.g. 01_okta")
    add_parameter_option(run, "a parameter of the notebooks' parameters cell, e.g. -p mode live; an unknown name "
                         "stops the run before anything executes, and a value stays a string where the default is one")
    run.add_argument("--output-dir", help="where executed notebooks go (default build/notebooks)")
    run.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    run.set_defaults(func=_run)
    regen = nbs.add_parser("regen", help="re-execute notebooks in place (committed reference outputs)")
    regen.add_argument("notebooks", nargs="*")
    regen.add_argument("--timeout", type=int, default=120)
    regen.set_defaults(func=_regen)

    doctor = sub.add_parser("doctor", help="check a real federation setup step by step and say what to fix",
                            description="Check a workload's federation setup step by step (environment, identity "
                            "token, issuer, registered issuer and rule, workspace; --exchange: the exchange and one "
                            "Messages call) and say what to fix, without printing a secret. Run it where the "
                            "workload runs. Exit status 0: no check failed; 1: a check failed; 2: usage error.")
    _doctor_arguments(doctor)
    doctor.set_defaults(func=_doctor)
    from .setup.cli import add_parser as add_setup_parser

    add_setup_parser(sub)  # wif-lab setup anthropic|okta FILE
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(bind_parameter_pairs(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args) or 0)
    except WifLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
