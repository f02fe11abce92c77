"""What the disruption work reads from a snapshot: PodDisruptionBudgets, creation times and
the do-not-disrupt annotation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scaler.core.model import ANNOTATION_DO_NOT_DISRUPT, IntOrPercent, PodDisruptionBudget
from scaler.snapshot.documents import RawObject
from scaler.snapshot.fields import Fields, describe, join
from scaler.snapshot.selectors import label_selector
from scaler.times import parse_rfc3339

_INT_OR_PERCENT = re.compile(r"([0-9]+)%")


def do_not_disrupt(f: Fields, meta: Mapping[str, Any]) -> bool:
    annotations = f.labels(meta.get("annotations"), "metadata.annotations")
    return annotations.get(ANNOTATION_DO_NOT_DISRUPT) == "true"


def timestamp(f: Fields, value: object, field: str) -> float | None:
    """An RFC 3339 time (`2024-05-01T10:00:00Z`) as seconds since the epoch; None if absent."""
    text = f.string(value, field)
    if not text:
        return None
    try:
        return parse_rfc3339(text).timestamp()
    except ValueError:
        raise f.error(field, f"invalid time {text!r} (expected RFC 3339, e.g. "
                             "2024-05-01T10:00:00Z)") from None


def int_or_percent(f: Fields, value: object, field: str) -> IntOrPercent | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return IntOrPercent(value)
    if isinstance(value, str):
        m = _INT_OR_PERCENT.fullmatch(value)
        if m:
            return IntOrPercent(int(m.group(1)), percent=True)
        if value.isdigit():
            return IntOrPercent(int(value))
    raise f.error(field, f'expected a count or a percentage like "50%", got {describe(value)}')


def pod_disruption_budget(obj: RawObject) -> PodDisruptionBudget:
    f = Fields(obj.file, obj.label)
    spec = f.mapping(obj.body.get("spec"), "spec")
    status = f.mapping(obj.body.get("status"), "status")
    min_available = int_or_percent(f, spec.get("minAvailable"), "spec.minAvailable")
    max_unavailable = int_or_percent(f, spec.get("maxUnavailable"), "spec.maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        raise f.error("spec", "minAvailable and maxUnavailable are mutually exclusive")
    if min_available is None and max_unavailable is None:
        min_available = IntOrPercent(1)  # policy/v1beta1's default; the cautious reading
    allowed = status.get("disruptionsAllowed")
    return PodDisruptionBudget(
        namespace=obj.namespace,
        name=obj.name,
        selector=label_selector(f, spec.get("selector"), join("spec", "selector")),
        min_available=min_available,
        max_unavailable=max_unavailable,
        disruptions_allowed=(
            None if allowed is None else f.count(allowed, "status.disruptionsAllowed", 0)
        ),
        source=obj.file,
    )
