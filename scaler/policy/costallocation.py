"""`CostAllocationPolicy` (scaler.dev/v1alpha1): who pays for which part of the cluster.

* `teams`: a workload's team comes from a label (on the pod, or on its namespace), or from
  an explicit namespace list per team; anything else goes to `unallocatedTeam`.
* `sharedNamespaces`, `sharedLabels`: the cost of workloads everyone uses (kube-system,
  monitoring, or anything labelled e.g. `cost.scaler.dev/shared: "true"`) is split over the
  teams: evenly, by fixed weights, or in proportion to each team's cost.
* `sharedCosts`: fixed costs outside the nodes (support plan, NAT gateways), per month or
  per hour, split the same way.
* `idle`: capacity no pod requests is either `Distribute`d over the workloads in proportion
  to their cost (per node, per resource, as OpenCost's shareIdle), or kept `Separate` as its
  own `__idle__` line.
* `pricing`: what the account really pays: an enterprise discount, Savings Plans (a discount
  on on-demand compute) and Reserved Instances (an hourly rate for N instances of a type);
  the relative prices used to split a node's price into CPU, RAM and GPU (OpenCost's custom
  pricing), and known GPU prices per instance family, taken out of the node's price first.

At most one CostAllocationPolicy per bundle. `scaler report` applies it (docs/reports.md).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from scaler.policy.common import (
    DnsLabel,
    Percent,
    ScalerModel,
    ScalerObjectMeta,
    ranged,
)
from scaler.policy.nodepool import FieldPath, LabelKey, PolicyFieldError

KIND = "CostAllocationPolicy"
SPLITS = ("Even", "Weighted", "Proportional")
IDLE_HANDLING = ("Distribute", "Separate")

Split = Literal["Even", "Weighted", "Proportional"]
Weight = Annotated[
    float,
    AfterValidator(ranged(0, None, "weight")),
    Field(json_schema_extra={"minimum": 0}),
]
Money = Annotated[
    float,
    AfterValidator(ranged(0, None, "amount")),
    Field(json_schema_extra={"minimum": 0}),
]
# A namespace name, or a shell-style pattern such as `shop-*`.
NamespacePattern = Annotated[
    str, Field(json_schema_extra={"pattern": r"^[a-z0-9*?]([-a-z0-9*?]*[a-z0-9*?])?$"})
]


class LabelSource(ScalerModel):
    key: LabelKey = Field(description="The label whose value names the team, e.g. `team`.")
    # Not `on`: YAML 1.1 (kubectl's) reads a bare `on` key as the boolean true.
    object: Literal["Pod", "Namespace"] = Field(
        default="Pod", description="Read the label from the Pod or from its Namespace."
    )


class TeamNamespaces(ScalerModel):
    team: DnsLabel = Field(description="Team name.")
    namespaces: list[NamespacePattern] = Field(
        description="Namespaces (or patterns like `shop-*`) whose workloads belong to the team.",
        json_schema_extra={"minItems": 1},
    )


class Teams(ScalerModel):
    from_label: LabelSource | None = Field(
        default=None, alias="fromLabel", description="Team from a label (checked first)."
    )
    from_namespaces: list[TeamNamespaces] | None = Field(
        default=None, alias="fromNamespaces", description="Team from explicit namespace lists."
    )
    unallocated_team: DnsLabel = Field(
        default="unallocated",
        alias="unallocatedTeam",
        description="Where workloads that match no team go.",
    )


class SplitRule(ScalerModel):
    split: Split = Field(
        default="Even",
        description=(
            "Even: equal parts per team; Weighted: by `weights`; Proportional: by each "
            "team's own cost."
        ),
    )
    weights: dict[DnsLabel, Weight] | None = Field(
        default=None, description="Team -> weight, with split: Weighted."
    )


class SharedNamespaces(SplitRule):
    namespaces: list[NamespacePattern] = Field(
        description="Namespaces whose cost is shared by every team.",
        json_schema_extra={"minItems": 1},
    )


class SharedLabels(SplitRule):
    labels: dict[LabelKey, str] = Field(
        description="Workloads with any of these pod labels (key: value) are shared.",
        json_schema_extra={"minProperties": 1},
    )


class SharedCost(SplitRule):
    name: DnsLabel = Field(description="What the cost is, e.g. `support-plan`.")
    cost_per_month: Money | None = Field(
        default=None, alias="costPerMonth", description="USD per month (730 hours)."
    )
    cost_per_hour: Money | None = Field(default=None, alias="costPerHour", description="USD/h.")


class Idle(ScalerModel):
    handling: Literal["Distribute", "Separate"] = Field(
        default="Distribute",
        description=(
            "Distribute: idle capacity is charged to the workloads in proportion to their "
            "cost; Separate: it is reported as its own line."
        ),
    )


class SavingsPlan(ScalerModel):
    name: DnsLabel
    discount_percent: Percent = Field(
        alias="discountPercent", description="Discount on on-demand prices it covers."
    )
    instance_families: list[str] | None = Field(
        default=None,
        alias="instanceFamilies",
        description="Only these families (EC2 Instance Savings Plan); default: all (Compute).",
    )
    commitment_per_hour: Money | None = Field(
        default=None, alias="commitmentPerHour", description="USD/h committed (informational)."
    )


class ReservedInstance(ScalerModel):
    instance_type: str = Field(alias="instanceType", description="e.g. m5.xlarge")
    count: int = Field(description="How many instances are reserved.", json_schema_extra={
        "minimum": 1})
    price_per_hour: Money = Field(
        alias="pricePerHour", description="Effective USD/h per instance, upfront included."
    )


class ResourcePrices(ScalerModel):
    """Relative prices that split a node's price into CPU, RAM and GPU (only the ratios
    matter; they are scaled to the node's price). Defaults: OpenCost's."""

    cpu_per_core_hour: Money = Field(default=0.031611, alias="cpuPerCoreHour")
    ram_per_gib_hour: Money = Field(default=0.004237, alias="ramPerGiBHour")
    gpu_per_hour: Money = Field(default=0.95, alias="gpuPerHour")


class GpuPrice(ScalerModel):
    instance_family: str = Field(alias="instanceFamily", description="e.g. g5, p4d")
    price_per_gpu_hour: Money = Field(
        alias="pricePerGpuHour", description="USD per GPU-hour, taken from the node's price first."
    )


class Pricing(ScalerModel):
    discount_percent: Percent = Field(
        default=0, alias="discountPercent", description="Enterprise discount on everything."
    )
    savings_plans: list[SavingsPlan] | None = Field(default=None, alias="savingsPlans")
    reserved_instances: list[ReservedInstance] | None = Field(
        default=None, alias="reservedInstances"
    )
    resource_prices: ResourcePrices | None = Field(default=None, alias="resourcePrices")
    gpu_prices: list[GpuPrice] | None = Field(default=None, alias="gpuPrices")


class CostAllocationPolicySpec(ScalerModel):
    teams: Teams = Field(description="How workloads map to teams.")
    shared_namespaces: SharedNamespaces | None = Field(default=None, alias="sharedNamespaces")
    shared_labels: SharedLabels | None = Field(default=None, alias="sharedLabels")
    shared_costs: list[SharedCost] | None = Field(default=None, alias="sharedCosts")
    idle: Idle | None = Field(default=None, description="What happens to unrequested capacity.")
    pricing: Pricing | None = Field(default=None, description="Discounts and reservations.")
    currency: Literal["USD"] = Field(default="USD", description="Catalog prices are in USD.")


class CostAllocationPolicy(ScalerModel):
    """How scaler splits the cluster's cost over teams."""

    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ScalerObjectMeta
    spec: CostAllocationPolicySpec
    status: dict[str, object] | None = None

    @property
    def name(self) -> str:
        return self.metadata.name


def _split_errors(rule: SplitRule, path: FieldPath) -> Iterator[PolicyFieldError]:
    if rule.split == "Weighted" and not rule.weights:
        yield PolicyFieldError((*path, "weights"), "split: Weighted needs weights (team: weight)")
    if rule.split != "Weighted" and rule.weights:
        yield PolicyFieldError(
            (*path, "weights"),
            f"weights are only used with split: Weighted (split is {rule.split})",
        )
    if rule.weights and not any(w > 0 for w in rule.weights.values()):
        yield PolicyFieldError((*path, "weights"), "at least one weight must be above 0")


def semantic_errors(policy: CostAllocationPolicy) -> Iterator[PolicyFieldError]:
    spec = policy.spec
    teams = spec.teams
    if teams.from_label is None and not teams.from_namespaces:
        yield PolicyFieldError(
            ("spec", "teams"), "give fromLabel or fromNamespaces (or both) to find teams"
        )
    owner: dict[str, tuple[str, int]] = {}
    seen_teams: dict[str, int] = {}
    for i, mapping in enumerate(teams.from_namespaces or ()):
        if mapping.team in seen_teams:
            yield PolicyFieldError(
                ("spec", "teams", "fromNamespaces", i, "team"),
                f"team {mapping.team} is listed twice "
                f"(also fromNamespaces[{seen_teams[mapping.team]}])",
            )
        seen_teams.setdefault(mapping.team, i)
        for j, ns in enumerate(mapping.namespaces):
            if ns in owner and owner[ns][0] != mapping.team:
                yield PolicyFieldError(
                    ("spec", "teams", "fromNamespaces", i, "namespaces", j),
                    f"namespace {ns} belongs to team {owner[ns][0]} already",
                )
            owner.setdefault(ns, (mapping.team, i))
    shared = spec.shared_namespaces
    if shared is not None:
        yield from _split_errors(shared, ("spec", "sharedNamespaces"))
        for j, ns in enumerate(shared.namespaces):
            team = next((t for pat, (t, _) in owner.items() if fnmatch.fnmatchcase(ns, pat)), None)
            if team is not None:
                yield PolicyFieldError(
                    ("spec", "sharedNamespaces", "namespaces", j),
                    f"namespace {ns} is shared but also belongs to team {team}",
                )
    if spec.shared_labels is not None:
        yield from _split_errors(spec.shared_labels, ("spec", "sharedLabels"))
    names: set[str] = set()
    for i, cost in enumerate(spec.shared_costs or ()):
        path: FieldPath = ("spec", "sharedCosts", i)
        if cost.name in names:
            yield PolicyFieldError((*path, "name"), f"shared cost {cost.name} is listed twice")
        names.add(cost.name)
        if (cost.cost_per_month is None) == (cost.cost_per_hour is None):
            yield PolicyFieldError(path, "set exactly one of costPerMonth and costPerHour")
        yield from _split_errors(cost, path)
    pricing = spec.pricing
    for i, sp in enumerate(pricing.savings_plans or () if pricing else ()):
        if sp.discount_percent >= 100:
            yield PolicyFieldError(
                ("spec", "pricing", "savingsPlans", i, "discountPercent"),
                "a discount of 100% or more would make compute free",
            )
    seen_types: set[str] = set()
    for i, ri in enumerate(pricing.reserved_instances or () if pricing else ()):
        path = ("spec", "pricing", "reservedInstances", i)
        if ri.count < 1:
            yield PolicyFieldError((*path, "count"), f"count {ri.count} must be at least 1")
        if ri.instance_type in seen_types:
            yield PolicyFieldError(
                (*path, "instanceType"),
                f"{ri.instance_type} is listed twice; add the counts into one entry",
            )
        seen_types.add(ri.instance_type)
    rp = pricing.resource_prices if pricing else None
    if rp is not None and rp.cpu_per_core_hour == 0 and rp.ram_per_gib_hour == 0:
        yield PolicyFieldError(
            ("spec", "pricing", "resourcePrices"),
            "cpuPerCoreHour and ramPerGiBHour cannot both be 0 (nothing to split a price by)",
        )
