"""The CostAllocationPolicy as the allocation core's rules."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from scaler.core.allocation.money import HOURS_PER_MONTH, to_micros
from scaler.core.allocation.prices import (
    PricingRules,
    ReservedRate,
    ResourceRatios,
    SavingsPlanRate,
)
from scaler.core.allocation.sharing import (
    FixedCost,
    SharedWorkloads,
    ShareRule,
    SharingRules,
)
from scaler.core.allocation.teams import TeamRules
from scaler.policy.costallocation import CostAllocationPolicy, SplitRule


@dataclass(frozen=True)
class Rules:
    teams: TeamRules | None
    sharing: SharingRules
    pricing: PricingRules
    ratios: ResourceRatios
    gpu_prices: dict[str, int]  # instance family -> micro-dollars per GPU-hour
    show_idle: bool  # the policy keeps idle as its own line (idle.handling: Separate)


def _rule(r: SplitRule) -> ShareRule:
    return ShareRule(r.split, dict(r.weights or {}))


def rules_from(
    policy: CostAllocationPolicy | None, share_idle: bool | None
) -> Rules:
    """`share_idle` (the --share-idle flag) overrides the policy's idle handling."""
    if policy is None:
        return Rules(
            None, SharingRules(share_idle=bool(share_idle)), PricingRules(), ResourceRatios(),
            {}, show_idle=False,
        )
    spec = policy.spec
    t = spec.teams
    teams = TeamRules(
        label_key=t.from_label.key if t.from_label else None,
        label_object=t.from_label.object if t.from_label else "Pod",
        namespaces=tuple((m.team, tuple(m.namespaces)) for m in t.from_namespaces or ()),
        unallocated=t.unallocated_team,
    )
    handling = spec.idle.handling if spec.idle else "Distribute"
    shared: list[SharedWorkloads] = []
    if spec.shared_namespaces:
        shared.append(
            SharedWorkloads(
                _rule(spec.shared_namespaces), namespaces=tuple(spec.shared_namespaces.namespaces)
            )
        )
    if spec.shared_labels:
        shared.append(SharedWorkloads(_rule(spec.shared_labels), labels=spec.shared_labels.labels))
    fixed = []
    for c in spec.shared_costs or ():
        per_hour = (
            Fraction(c.cost_per_hour)
            if c.cost_per_hour is not None
            else Fraction(c.cost_per_month or 0) / HOURS_PER_MONTH
        )
        fixed.append(FixedCost(c.name, per_hour, _rule(c)))
    sharing = SharingRules(
        share_idle=handling == "Distribute" if share_idle is None else share_idle,
        shared=tuple(shared),
        fixed=tuple(fixed),
    )
    p = spec.pricing
    pricing = PricingRules()
    ratios = ResourceRatios()
    gpu_prices: dict[str, int] = {}
    if p is not None:
        pricing = PricingRules(
            discount_percent=p.discount_percent,
            savings_plans=tuple(
                SavingsPlanRate(
                    sp.name,
                    sp.discount_percent,
                    frozenset(sp.instance_families) if sp.instance_families else None,
                )
                for sp in p.savings_plans or ()
            ),
            reserved=tuple(
                ReservedRate(ri.instance_type, ri.count, ri.price_per_hour)
                for ri in p.reserved_instances or ()
            ),
        )
        if p.resource_prices is not None:
            rp = p.resource_prices
            ratios = ResourceRatios(
                Fraction(str(rp.cpu_per_core_hour)),
                Fraction(str(rp.ram_per_gib_hour)),
                Fraction(str(rp.gpu_per_hour)),
            )
        gpu_prices = {
            g.instance_family: to_micros(g.price_per_gpu_hour) for g in p.gpu_prices or ()
        }
    return Rules(teams, sharing, pricing, ratios, gpu_prices, show_idle=handling == "Separate")
