"""``wif-lab``: serve the mock stack for a workshop, run notebooks headless, regenerate outputs."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from .errors import WifLabError


def _serve(args: argparse.Namespace) -> int:
    from .mock.stack import MockStack

    state_dir = Path(args.state_dir).expanduser() if args.state_dir else None
    if state_dir is None:
        from .lab import default_state_dir

        state_dir = default_state_dir() / "serve"
    stack = MockStack(state_dir, host=args.host, port=args.port)
    connection = stack.start()
    print(f"wif-lab mock stack running ({stack.timings['total']:.2f} s to start)")
    for name, section in connection.items():
        if isinstance(section, dict):
            url = section.get("base_url") or section.get("org_url") or section.get("issuer") or section.get("imds_url")
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


def _run(args: argparse.Namespace) -> int:
    from .runner import BUILD_DIR, parse_parameters, run

    return run(args.notebooks, parameters=parse_parameters(args.parameter or []),
               output_dir=Path(args.output_dir) if args.output_dir else BUILD_DIR, timeout=args.timeout)


def _regen(args: argparse.Namespace) -> int:
    from .runner import regen

    return regen(args.notebooks, timeout=args.timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wif-lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    mock = sub.add_parser("mock", help="the mock endpoints").add_subparsers(dest="mock_command", required=True)
    serve = mock.add_parser("serve", help="run the mock stack in the foreground until interrupted")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0,
                       help="first port; the mocks take consecutive ports from it (default: free ports)")
    serve.add_argument("--state-dir", help="where the CA, keys and connection.json live")
    serve.set_defaults(func=_serve)

    nbs = sub.add_parser("notebooks", help="run or regenerate the notebooks").add_subparsers(
        dest="nb_command", required=True)
    run = nbs.add_parser("run", help="run notebooks headless with papermill (default: all)")
    run.add_argument("notebooks", nargs="*", help="names or prefixes, e.g. 01_okta")
    run.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                     help="papermill parameter, e.g. -p mode live")
    run.add_argument("--output-dir", help="where executed notebooks go (default build/notebooks)")
    run.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    run.set_defaults(func=_run)
    regen = nbs.add_parser("regen", help="re-execute notebooks in place (committed reference outputs)")
    regen.add_argument("notebooks", nargs="*")
    regen.add_argument("--timeout", type=int, default=120)
    regen.set_defaults(func=_regen)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WifLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
