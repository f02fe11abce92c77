"""`RightSizingPolicy` (scaler.dev/v1alpha1): how scaler recommends (later, sets) requests.

For the workloads a selector picks, scaler looks at their usage over a window and
recommends requests with a strategy (`scaler`, the default; `percentile`, KRR-style; `vpa`,
VPA-recommender-style) whose own settings go in `settings` (camelCase names of the
`scaler rightsize` flags), clamped to a min and max, and only when the change is big enough
to matter. `mode` says what happens with the
recommendation: `Off` (nothing), `Recommend` (reported only) or `Apply` (scaler updates the
workload; a later issue). Several policies may match one workload: the highest `priority`
wins, then the name in alphabetical order.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationError

from scaler.core.rightsizing import STRATEGIES
from scaler.policy.common import (
    DnsLabel,
    Duration,
    Percent,
    Quantity,
    ScalerModel,
    ScalerObjectMeta,
    duration_seconds,
    quantity_value,
    ranged,
)
from scaler.policy.nodepool import FieldPath, LabelKey, LabelValue, PolicyFieldError

KIND = "RightSizingPolicy"
MODES = ("Off", "Recommend", "Apply")
WORKLOAD_KINDS = (
    "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Rollout"
)
LIMIT_POLICIES = ("Recommend", "Keep", "Proportional", "Remove")
STRATEGY_NAMES = ("scaler", "percentile", "vpa")
MIN_WINDOW_SECONDS = 3600  # usage of less than an hour says little about a daily cycle

WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]
Percentile = Annotated[
    float,
    AfterValidator(ranged(50, 100, "percentile")),
    Field(json_schema_extra={"minimum": 50, "maximum": 100}),
]
Headroom = Annotated[
    float,
    AfterValidator(ranged(0, 1000, "headroom")),
    Field(json_schema_extra={"minimum": 0, "maximum": 1000}),
]


class WorkloadSelector(ScalerModel):
    namespaces: list[DnsLabel] | None = Field(
        default=None, description="Only workloads in these namespaces (default: all)."
    )
    exclude_namespaces: list[DnsLabel] | None = Field(
        default=None, alias="excludeNamespaces", description="Never workloads in these."
    )
    match_labels: dict[LabelKey, LabelValue] | None = Field(
        default=None, alias="matchLabels", description="Only workloads with all these labels."
    )
    kinds: list[WorkloadKind] | None = Field(
        default=None, description="Only these workload kinds (default: all)."
    )


class ResourcePolicy(ScalerModel):
    percentile: Percentile = Field(
        default=95, description="Recommend this percentile (50-100) of observed usage."
    )
    headroom_percent: Headroom = Field(
        default=15, alias="headroomPercent", description="Added on top of the percentile."
    )
    min: Quantity | None = Field(default=None, description="Never recommend less than this.")
    max: Quantity | None = Field(default=None, description="Never recommend more than this.")


class RightSizingPolicySpec(ScalerModel):
    selector: WorkloadSelector = Field(description="Which workloads this policy covers.")
    mode: Literal["Off", "Recommend", "Apply"] = Field(
        default="Recommend",
        description="Off: nothing; Recommend: report only; Apply: update the workload's requests.",
    )
    strategy: Literal["scaler", "percentile", "vpa"] = Field(
        default="scaler",
        description=(
            "How recommendations are made: scaler (default), percentile (KRR-style) or vpa "
            "(VPA-recommender-style)."
        ),
    )
    settings: dict[str, Any] | None = Field(
        default=None,
        description=(
            "The strategy's own settings by camelCase name (e.g. cpuHalfLifeHours: 12 for vpa); "
            "see `scaler rightsize --help`."
        ),
    )
    window: Duration = Field(
        default="168h",
        description=(
            "How much usage history to look at (at least 1h; default: the strategy's own, "
            "336h for scaler and percentile, 192h for vpa)."
        ),
    )
    min_data_points: int | None = Field(
        default=None,
        alias="minDataPoints",
        ge=1,
        description="Data points needed before recommending (default 100).",
    )
    min_history: Duration | None = Field(
        default=None,
        alias="minHistory",
        description="History needed before recommending (default 24h).",
    )
    hpa: Literal["Keep", "Recommend"] = Field(
        default="Keep",
        description=(
            "For a request an HPA scales on: Keep it, or Recommend a new one with a warning "
            "saying how the HPA's scaling point moves."
        ),
    )
    cpu: ResourcePolicy | None = Field(default=None, description="CPU request settings.")
    memory: ResourcePolicy | None = Field(default=None, description="Memory request settings.")
    limits: Literal["Recommend", "Keep", "Proportional", "Remove"] = Field(
        default="Recommend",
        description=(
            "What happens to limits when requests change: the strategy's Recommendation, Keep "
            "them, scale them Proportionally, or Remove them."
        ),
    )
    min_change_percent: Percent = Field(
        default=10,
        alias="minChangePercent",
        description="Ignore recommendations that change a request by less than this.",
    )
    priority: int = Field(
        default=0, description="When several policies match a workload, the highest wins."
    )


class RightSizingPolicy(ScalerModel):
    """How scaler right-sizes the requests of the workloads a selector picks."""

    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ScalerObjectMeta
    spec: RightSizingPolicySpec
    status: dict[str, object] | None = None

    @property
    def name(self) -> str:
        return self.metadata.name


def semantic_errors(policy: RightSizingPolicy) -> Iterator[PolicyFieldError]:
    spec = policy.spec
    if duration_seconds(spec.window) < MIN_WINDOW_SECONDS:
        yield PolicyFieldError(
            ("spec", "window"), f"window {spec.window} is too short (at least 1h)"
        )
    sel = spec.selector
    both = set(sel.namespaces or ()) & set(sel.exclude_namespaces or ())
    if both:
        yield PolicyFieldError(
            ("spec", "selector", "excludeNamespaces"),
            f"namespace {sorted(both)[0]} is both selected and excluded",
        )
    yield from _settings_errors(spec)
    for resource, rp in (("cpu", spec.cpu), ("memory", spec.memory)):
        if rp is None or rp.min is None or rp.max is None:
            continue
        if quantity_value(rp.min) > quantity_value(rp.max):
            path: FieldPath = ("spec", resource, "min")
            yield PolicyFieldError(path, f"min {rp.min} is more than max {rp.max}")


def snake(name: str) -> str:
    """`cpuHalfLifeHours` -> `cpu_half_life_hours`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _settings_errors(spec: RightSizingPolicySpec) -> Iterator[PolicyFieldError]:
    if not spec.settings:
        return
    model = STRATEGIES[spec.strategy].settings_model
    known = {camel(n) for n in model.model_fields}
    for key, value in spec.settings.items():
        path: FieldPath = ("spec", "settings", key)
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            yield PolicyFieldError(
                path, f"unknown setting {key!r} for strategy {spec.strategy}{hint}"
            )
            continue
        try:
            model.model_validate({snake(key): value}, strict=True)
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            yield PolicyFieldError(path, str(first["msg"]).replace("Input", "value"))
