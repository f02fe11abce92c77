"""Structured logs for the running controller: every `scaler.*` logger writes one JSON object
per line to stderr, as Karpenter (zap) and Flux do, so `kubectl logs` output goes straight
into Loki, CloudWatch Logs Insights or `jq`:

    {"time": "2024-05-01T10:00:00Z", "level": "info", "logger": "scaler.provisioner",
     "msg": "launched node", "nodepool": "general", "instance_type": "m7g.large"}

Extra fields come from `extra={"fields": {...}}` or plain `extra={...}` keys, or from
`log_event(log, level, msg, **fields)`. The record layout and the secret scrubbing are the
ones the GitOps logs already use (scaler/gitops/logs.py), so a process has one format.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import IO, Any

from scaler.errors import UserError
from scaler.gitops.logs import JsonFormatter, RedactingFilter

ROOT_LOGGER = "scaler"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
_MARK = "_scaler_runtime_json"
# apscheduler only: botocore, urllib3 and kubernetes keep propagating (their records pass
# through the credential filters of scaler.adapters.aws.redact, and tests read them).
THIRD_PARTY_LOGGERS = ("apscheduler",)


def parse_level(name: str, where: str = "--log-level") -> int:
    """`info` -> logging.INFO; anything else is a user mistake named in one line."""
    try:
        return LEVELS[name.strip().lower()]
    except KeyError:
        raise UserError(
            f"{where}: unknown log level {name!r} (expected one of {', '.join(LEVELS)})"
        ) from None


def log_event(log: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    """Log `msg` with `fields` as top-level JSON keys."""
    log.log(level, msg, extra={"fields": fields})


def configure_logging(
    stream: IO[str] | None = None,
    level: int = logging.INFO,
    redact: Callable[[str], str] | None = None,
) -> logging.Handler:
    """Send every `scaler.*` (and `apscheduler.*`) record to `stream` (stderr by default) as
    JSON lines.

    Idempotent: a second call replaces the handler of the first. The GitOps logger's own JSON
    handler (what `scaler policies` commands install) is replaced by propagation to this one,
    so each record is written once, in one stream."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    if redact is not None:
        handler.addFilter(RedactingFilter(redact))
    setattr(handler, _MARK, True)
    root = logging.getLogger(ROOT_LOGGER)
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False  # the Python root logger may print plain text; one format only
    # apscheduler's warnings ("skipped: maximum number of running instances") would print
    # plain text through Python's last-resort handler: give it the same JSON handler.
    for name in THIRD_PARTY_LOGGERS:
        other = logging.getLogger(name)
        for old in [h for h in other.handlers if getattr(h, _MARK, False)]:
            other.removeHandler(old)
        other.addHandler(handler)
        other.setLevel(max(level, logging.WARNING))
        other.propagate = False
    gitops = logging.getLogger(f"{ROOT_LOGGER}.gitops")
    for old in [h for h in gitops.handlers if getattr(h, "_scaler_json", False)]:
        gitops.removeHandler(old)
    gitops.propagate = True
    gitops.setLevel(logging.NOTSET)
    # The job scheduler warns (a job overran its interval, a run was skipped) under its own
    # name: the same JSON lines, or a plain-text line would break the one format.
    sched = logging.getLogger("apscheduler")
    for old in [h for h in sched.handlers if getattr(h, _MARK, False)]:
        sched.removeHandler(old)
    sched.addHandler(handler)
    sched.setLevel(logging.WARNING)
    sched.propagate = False
    return handler
