"""The `scaler` command line: one sub-command per module, one formatter per output format."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from scaler import __version__
from scaler.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    # Imported here so `scaler --version` stays fast and sub-commands stay independent.
    from scaler.cli import catalog, plan, policies, rightsize, simulate
    from scaler.cli import run as run_cmd

    parser = argparse.ArgumentParser(
        prog="scaler",
        description="Cost-aware autoscaling and right-sizing for Kubernetes.",
    )
    parser.add_argument("--version", action="version", version=f"scaler {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    from scaler.cli import report as report_cli  # cost reports (beside the others, for merging)

    report_cli.register(sub)
    simulate.register(sub)
    catalog.register(sub)
    policies.register(sub)
    plan.register(sub)
    rightsize.register(sub)
    run_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except UserError as err:
        print(f"scaler: error: {err.render()}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `scaler ... | head` is not an error
        return 0
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
