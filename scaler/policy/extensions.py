"""`NodePoolPolicy` (scaler.dev/v1alpha1): what scaler adds to a Karpenter NodePool.

The NodePool itself stays Karpenter's object, unchanged, so the same file can be applied to
the cluster for Karpenter and read by scaler. scaler's extensions live in a separate object
that names its NodePool (`spec.nodePoolRef.name`), as Karpenter's own NodeClass does:

* `spot.maxInterruptionBand`: launch spot only from instance types whose Spot Instance
  Advisor interruption band is at most this one (`<5%`, `5-10%`, `10-15%`, `15-20%`, `>20%`).
* `onDemandShare.minPercent`: keep at least this share of the pool's vCPU on on-demand.
* `architecture.prefer` / `maxPricePremiumPercent`: prefer an architecture (arm64 for
  Graviton) while its price is at most this much above the cheapest choice.

* `spot.minInstanceTypes`: a spot launch lists at least this many instance types (15).

The scheduler acts on all of them (`scaler.core.model.NodePool`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from scaler.core.model import LABEL_ARCH, LABEL_CAPACITY_TYPE, ON_DEMAND, SPOT, NodePool
from scaler.policy.common import (
    DnsLabel,
    Percent,
    ScalerModel,
    ScalerObjectMeta,
)
from scaler.policy.nodepool import PolicyFieldError

KIND = "NodePoolPolicy"
INTERRUPTION_BANDS = ("<5%", "5-10%", "10-15%", "15-20%", ">20%")
ARCHITECTURES = ("arm64", "amd64")

InterruptionBand = Literal["<5%", "5-10%", "10-15%", "15-20%", ">20%"]
Architecture = Literal["arm64", "amd64"]


class NodePoolRef(ScalerModel):
    name: DnsLabel = Field(description="Name of the Karpenter NodePool (karpenter.sh/v1).")


class SpotPolicy(ScalerModel):
    max_interruption_band: InterruptionBand = Field(
        default=">20%",
        alias="maxInterruptionBand",
        description=(
            "Highest Spot Instance Advisor interruption band allowed for spot launches in this "
            "pool: <5%, 5-10%, 10-15%, 15-20% or >20% (>20%, the default, allows every "
            "instance type)."
        ),
    )
    min_instance_types: int = Field(
        default=15,
        ge=1,
        le=60,
        alias="minInstanceTypes",
        description=(
            "A spot launch passes at least this many instance types to the fleet request, "
            "where that many hold its pods, so it can fall back when a spot pool runs dry."
        ),
    )


class OnDemandShare(ScalerModel):
    min_percent: Percent = Field(
        alias="minPercent",
        description="At least this share (0-100) of the pool's vCPU stays on on-demand capacity.",
    )


class ArchitecturePreference(ScalerModel):
    prefer: Architecture = Field(description="The architecture to choose when prices allow.")
    max_price_premium_percent: Percent = Field(
        default=0,
        alias="maxPricePremiumPercent",
        description=(
            "Choose the preferred architecture while its price is at most this many percent "
            "above the cheapest offering (0: only when it is also the cheapest)."
        ),
    )


class NodePoolPolicySpec(ScalerModel):
    node_pool_ref: NodePoolRef = Field(
        alias="nodePoolRef", description="The NodePool these settings extend."
    )
    spot: SpotPolicy | None = Field(default=None, description="Limits on spot capacity.")
    on_demand_share: OnDemandShare | None = Field(
        default=None, alias="onDemandShare", description="A floor of on-demand capacity."
    )
    architecture: ArchitecturePreference | None = Field(
        default=None, description="An architecture preference (e.g. arm64 for Graviton)."
    )


class NodePoolPolicy(ScalerModel):
    """scaler's extensions to one Karpenter NodePool: spot interruption cap, on-demand share,
    architecture preference."""

    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ScalerObjectMeta
    spec: NodePoolPolicySpec
    status: dict[str, object] | None = None

    @property
    def name(self) -> str:
        return self.metadata.name


def pool_errors(policy: NodePoolPolicy, pool: NodePool) -> Iterator[PolicyFieldError]:
    """Settings that contradict the NodePool they extend (checked across the bundle)."""
    capacity = pool.requirements.get(LABEL_CAPACITY_TYPE)
    arch = pool.requirements.get(LABEL_ARCH)
    spec = policy.spec
    where = f"NodePool {pool.name}"
    if spec.spot is not None and capacity is not None and not capacity.matches(SPOT):
        yield PolicyFieldError(
            ("spec", "spot"),
            f"{where} does not allow spot ({capacity.describe()}); remove spec.spot or allow spot",
        )
    share = spec.on_demand_share
    if share is not None and share.min_percent > 0:
        if capacity is not None and not capacity.matches(ON_DEMAND):
            yield PolicyFieldError(
                ("spec", "onDemandShare", "minPercent"),
                f"{where} does not allow on-demand ({capacity.describe()})",
            )
    pref = spec.architecture
    if pref is not None and arch is not None and not arch.matches(pref.prefer):
        yield PolicyFieldError(
            ("spec", "architecture", "prefer"),
            f"{where} does not allow {pref.prefer} ({arch.describe()})",
        )
