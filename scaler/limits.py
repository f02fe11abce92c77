"""Limits on the work one input may ask for (docs/limits.md lists them).

Input comes from people and pull requests (snapshots, policy repositories, usage files,
timelines), so every amount of work it can ask for has a ceiling: a file that hits one is
refused with one line naming the file, the object and the limit, not served for minutes or
gigabytes. The defaults are far above any real cluster; `--limit NAME=N` (any command) or
`SCALER_LIMITS="NAME=N,..."` (e.g. for `scaler run`) raises one.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from scaler.errors import UserError

__all__ = ["LIMIT_HELP", "LimitError", "Limits", "current", "parse_overrides", "use"]


@dataclass(frozen=True, slots=True)
class Limits:
    file_bytes: int = 512 * 2**20  # one input file (snapshot, policy, catalog, CSV, settings)
    yaml_alias_nodes: int = 100_000  # nodes that YAML aliases add to one document
    yaml_depth: int = 1_000  # nesting of one YAML or JSON document
    snapshot_objects: int = 1_000_000  # objects in one snapshot (all files)
    workload_replicas: int = 100_000  # pods expanded from one Deployment/StatefulSet/...
    total_replicas: int = 250_000  # pods expanded from all workloads of a snapshot
    timeline_rows: int = 1_000_000  # rows of a --timeline CSV
    timeline_replicas: int = 100_000  # replicas one timeline row may ask for
    timeline_steps: int = 100_000  # simulated steps of one --timeline run
    usage_rows: int = 50_000_000  # samples in one usage file


LIMIT_NAMES: Final = tuple(f.name.replace("_", "-") for f in dataclasses.fields(Limits))
LIMIT_HELP: Final = (
    "raise a limit on work, e.g. --limit workload-replicas=500000 (repeatable; "
    f"names: {', '.join(LIMIT_NAMES)}; see docs/limits.md)"
)
ENV: Final = "SCALER_LIMITS"


class LimitError(UserError):
    """Input that asks for more work than a limit allows."""

    def __init__(self, what: str, limit: str, value: int, *, file: str | None = None,
                 obj: str | None = None, field: str | None = None) -> None:
        super().__init__(
            f"{what} exceeds the limit {limit}={value} "
            f"(raise it with --limit {limit}=N or {ENV}; see docs/limits.md)",
            file=file, obj=obj, field=field,
        )


_current: Limits = Limits()


def current() -> Limits:
    """The limits in force (defaults, then SCALER_LIMITS, then --limit flags)."""
    return _current


def use(limits: Limits) -> None:
    global _current
    _current = limits


def parse_overrides(items: list[str] | None, environ: Mapping[str, str] | None = None) -> Limits:
    """Defaults, then `SCALER_LIMITS` (comma-separated NAME=N), then `items` (NAME=N)."""
    env = os.environ if environ is None else environ
    pairs: list[tuple[str, str]] = []
    for part in env.get(ENV, "").split(","):
        if part.strip():
            pairs.append((ENV, part.strip()))
    pairs.extend(("--limit", item) for item in items or [])
    values: dict[str, int] = {}
    for source, item in pairs:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or name not in LIMIT_NAMES:
            raise UserError(f"expected NAME=N with NAME one of {', '.join(LIMIT_NAMES)}, "
                            f"got {item[:60]!r}", field=source)
        try:
            value = int(raw.strip().replace("_", ""))
        except ValueError:
            raise UserError(f"{name}: expected a whole number, got {raw[:40]!r}",
                            field=source) from None
        if not 0 < value <= 2**62:
            raise UserError(f"{name}: expected a number from 1 to 2^62, got {value}",
                            field=source)
        values[name.replace("-", "_")] = value
    return dataclasses.replace(Limits(), **values)
