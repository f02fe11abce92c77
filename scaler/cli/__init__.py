"""The `scaler` command line: one sub-command per module, one formatter per output format."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
import traceback
import typing
from collections.abc import Iterator, Sequence

from scaler import __version__, limits, numbers
from scaler.errors import UserError

DEBUG_HINT = "rerun with --debug for the stack"


def build_parser() -> argparse.ArgumentParser:
    # Imported here so `scaler --version` stays fast and sub-commands stay independent.
    from scaler.cli import catalog, plan, policies, rightsize, simulate
    from scaler.cli import run as run_cmd

    parser = _Parser(
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
    # Global options, accepted before or after the command (every sub-command takes them),
    # and every number flag finite and in range (one validation layer: scaler/numbers.py).
    for p in _parsers(parser):
        _check_numbers(p)
        top = p is parser
        p.add_argument("--debug", action="store_true",
                       default=False if top else argparse.SUPPRESS,
                       help="print the stack of an unexpected error (for bug reports)")
        p.add_argument("--limit", action="append", metavar="NAME=N",
                       default=None if top else argparse.SUPPRESS, help=limits.LIMIT_HELP)
    return parser


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage is one `--help` away)."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


# Flags whose range is narrower than "any finite number".
_RANGES: dict[str, tuple[float | None, float | None]] = {
    "--http-port": (0, 65535),
}


def _check_numbers(p: argparse.ArgumentParser) -> None:
    for action in p._actions:
        lo, hi = next((_RANGES[o] for o in action.option_strings if o in _RANGES),
                      (None, None))
        if action.type is float:
            action.type = numbers.float_arg(lo, hi)
        elif action.type is int:
            action.type = numbers.int_arg(None if lo is None else int(lo),
                                          None if hi is None else int(hi))


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for child in action.choices.values():
                if id(child) not in seen:  # aliases share a parser
                    seen.add(id(child))
                    yield from _parsers(child)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure is one line on stderr and an exit status:
    2 for bad input or an OS error, 130 for Ctrl-C, 1 for a bug (with --debug, its stack)."""
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as done:  # --help, --version, or a usage error already printed
            return done.code if isinstance(done.code, int) else 0
        debug = bool(getattr(args, "debug", False))
        limits.use(limits.parse_overrides(getattr(args, "limit", None)))
        code: int = args.func(args)
        sys.stdout.flush()  # a full disk shows here, while we can still say so
    except UserError as err:
        return _fail(err.render(), 2)
    except BrokenPipeError:  # `scaler ... | head` is not an error
        _quiet_stdout()
        return 0
    except KeyboardInterrupt:
        _quiet_stdout()
        print("scaler: interrupted", file=sys.stderr)
        return 130
    except RecursionError:
        return _fail("input nested too deeply", 2)
    except MemoryError:
        return _fail("out of memory (see docs/limits.md to bound the work)", 2)
    except OSError as err:
        if debug:
            traceback.print_exc()
        return _fail(_os_error(err), 2)
    except Exception as err:  # a bug: one line, the stack on request
        if debug:
            traceback.print_exc()
            return _fail(f"internal error: {type(err).__name__}: {_short(err)}", 1)
        return _fail(f"internal error: {type(err).__name__}: {_short(err)} ({DEBUG_HINT})", 1)
    return code


def _fail(message: str, code: int) -> int:
    try:
        print(f"scaler: error: {message}", file=sys.stderr)
        sys.stderr.flush()
    except OSError:
        pass
    if code == 2 and _stdout_broken():
        _quiet_stdout()
    return code


def _os_error(err: OSError) -> str:
    where = err.filename if isinstance(err.filename, str) else None
    reason = err.strerror or (errno.errorcode.get(err.errno or 0) if err.errno else None)
    text = reason or _short(err)
    if err.errno == errno.ENOSPC:
        text += " (the disk is full)"
    return f"{where}: {text}" if where else text


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _stdout_broken() -> bool:
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        return True
    return False


def _quiet_stdout() -> None:
    """Stop Python flushing a broken or full stdout again at exit (a second traceback)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    logging.shutdown()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
