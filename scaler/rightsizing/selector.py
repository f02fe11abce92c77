"""Kubernetes label selectors (`app=web,tier!=db,env in (prod,staging),!legacy`), to select
workloads from manifests the way the API server selects them from a cluster."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from scaler.errors import UserError

_SET = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")
_HAS = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*$")

Labels = Mapping[str, str]


def _split(text: str) -> list[str]:
    """On commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def _requirement(part: str, flag: str) -> Callable[[Labels], bool]:
    if m := _SET.match(part):
        key, op = m.group(1), m.group(2)
        values = {v.strip() for v in m.group(3).split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _EQ.match(part):
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _HAS.match(part):
        negate, key = m.group(1) == "!", m.group(2)
        return lambda labels: (key in labels) != negate
    raise UserError(
        f"not a label selector requirement: {part.strip()!r} (e.g. app=web, tier!=db, "
        "env in (prod,staging), !legacy)",
        field=flag,
    )


def parse_selector(text: str, flag: str = "--selector") -> Callable[[Labels], bool]:
    """A predicate over labels: every requirement must hold."""
    if not text.strip():
        raise UserError("empty label selector", field=flag)
    reqs = [_requirement(p, flag) for p in _split(text)]
    return lambda labels: all(r(labels) for r in reqs)
