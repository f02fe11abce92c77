"""KRR's severity of a recommendation and its cluster score, so a KRR user reads the same
judgement from scaler (facts from robusta-dev/krr's `severity.py` and `result.py`).

Severity compares what a container asks for now with what is recommended, per resource and
per requests/limits: CPU by the absolute difference in cores (>= 0.5 CRITICAL, >= 0.25
WARNING, >= 0.1 OK, else GOOD), memory by the absolute difference in MiB (>= 500, >= 250,
>= 100). Both unset is GOOD, one of them unset is WARNING, and no recommendation (not enough
data) is UNKNOWN. A container's severity is the worst of its four; the cluster score is the
share of containers not flagged, a WARNING counting 0.7 of a flag and a CRITICAL a whole one.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from scaler.core.rightsizing.model import CurrentResources, MiB, Recommendation


class Severity(enum.StrEnum):
    UNKNOWN = "UNKNOWN"
    GOOD = "GOOD"
    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


# Worst first: a container takes the first of these any of its values has.
WORST_FIRST = (Severity.CRITICAL, Severity.WARNING, Severity.OK, Severity.GOOD, Severity.UNKNOWN)
# (CRITICAL, WARNING, OK) thresholds of the absolute difference, in cores and in MiB.
THRESHOLDS = {"cpu": (0.5, 0.25, 0.1), "memory": (500.0, 250.0, 100.0)}
SCAN_COST = {Severity.WARNING: 0.7, Severity.CRITICAL: 1.0}
RESOURCES = ("cpu", "memory")
SELECTORS = ("requests", "limits")


def severity(resource: str, current: float | None, recommended: float | None) -> Severity:
    """One value's severity; `recommended` NaN means no recommendation (UNKNOWN)."""
    if recommended is not None and recommended != recommended:  # NaN: not enough data
        return Severity.UNKNOWN
    if current is None and recommended is None:
        return Severity.GOOD
    if current is None or recommended is None:
        return Severity.WARNING
    diff = abs(current - recommended)
    if resource == "memory":
        diff /= MiB
    critical, warning, ok = THRESHOLDS[resource]
    if diff >= critical:
        return Severity.CRITICAL
    if diff >= warning:
        return Severity.WARNING
    if diff >= ok:
        return Severity.OK
    return Severity.GOOD


NAN = float("nan")


def recommended_values(rec: Recommendation) -> dict[str, dict[str, float | None]]:
    """Recommended requests and limits as KRR holds them: NaN where there is no
    recommendation (too little data), None where the value is to be unset."""
    if rec.cpu_request is None or rec.memory_request is None:
        return {s: {r: NAN for r in RESOURCES} for s in SELECTORS}
    return {
        "requests": {"cpu": rec.cpu_request, "memory": rec.memory_request},
        "limits": {"cpu": rec.cpu_limit, "memory": rec.memory_limit},
    }


def current_values(cur: CurrentResources) -> dict[str, dict[str, float | None]]:
    return {
        "requests": {"cpu": cur.cpu_request, "memory": cur.memory_request},
        "limits": {"cpu": cur.cpu_limit, "memory": cur.memory_limit},
    }


def value_severities(
    cur: CurrentResources, rec: Recommendation
) -> dict[str, dict[str, Severity]]:
    """Severity per selector (requests, limits) and resource (cpu, memory)."""
    now, new = current_values(cur), recommended_values(rec)
    return {s: {r: severity(r, now[s][r], new[s][r]) for r in RESOURCES} for s in SELECTORS}


def worst(severities: Iterable[Severity]) -> Severity:
    found = set(severities)
    return next((s for s in WORST_FIRST if s in found), Severity.UNKNOWN)


def container_severity(cur: CurrentResources, rec: Recommendation) -> Severity:
    return worst(s for per in value_severities(cur, rec).values() for s in per.values())


def cluster_score(severities: Iterable[Severity]) -> int:
    """0-100: 100 when no container is flagged (0 for no containers, as KRR)."""
    found = list(severities)
    if not found:
        return 0
    flagged = sum(SCAN_COST.get(s, 0.0) for s in found)
    return int((len(found) - flagged) / len(found) * 100)


def score_letter(score: int) -> str:
    if score < 30:
        return "F"
    if score < 55:
        return "D"
    if score < 70:
        return "C"
    if score < 90:
        return "B"
    return "A"
