"""`scaler plan`: what a policy change does to a cluster's cost, before it is merged.

The policies at two revisions of a repository are each loaded (validated as a bundle) and
run through the same provisioning simulation on the same cluster snapshot and catalog; the
result compares the two:

* nodes and cost per hour after provisioning, at each revision (existing nodes plus the new
  ones the pending pods need);
* pods that become unschedulable at the new revision;
* nodes of the snapshot that become drifted (they matched their NodePool before and do not
  after), which the disruption work would replace.

The cost does not include replacing drifted nodes (that is disruption's decision, with its
budgets); the drifted list says which nodes are affected.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pricing import Catalog, CatalogError, load_catalog
from scaler.adapters.simulated import SimulatedCloud, SimulatedCluster
from scaler.core.disruption.drift import NodeDrift, find_drift
from scaler.core.model import Snapshot
from scaler.core.plan import Plan
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.errors import UserError
from scaler.gitops.git import Repository, Revision
from scaler.policy import PolicySet, load_policies
from scaler.simulation.provision import provision
from scaler.snapshot import load_snapshot

_THRESHOLD = re.compile(r"\s*\+?(?P<value>[0-9]+(\.[0-9]+)?)\s*(?P<unit>%|usd/h|/h)?\s*", re.I)


@dataclass(frozen=True)
class Side:
    """One revision's outcome on the snapshot."""

    revision: str
    policies: PolicySet
    plan: Plan
    drifted: tuple[NodeDrift, ...]

    @property
    def cost_per_hour(self) -> float:
        return self.plan.planned_per_hour

    @property
    def nodes(self) -> int:
        return len(self.plan.nodes)

    @property
    def unschedulable(self) -> tuple[str, ...]:
        return tuple(u.pod for u in self.plan.unschedulable)

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "costPerHour": round(self.cost_per_hour, 6),
            "nodes": self.nodes,
        }


@dataclass(frozen=True)
class CostPreview:
    before: Side
    after: Side
    snapshot: str
    region: str

    @property
    def delta_per_hour(self) -> float:
        return self.after.cost_per_hour - self.before.cost_per_hour

    @property
    def delta_percent(self) -> float | None:
        """The change relative to the old cost; None when the old cost is zero."""
        base = self.before.cost_per_hour
        return 100.0 * self.delta_per_hour / base if base > 0 else None

    @property
    def newly_unschedulable(self) -> tuple[str, ...]:
        was = set(self.before.unschedulable)
        return tuple(p for p in self.after.unschedulable if p not in was)

    @property
    def newly_drifted(self) -> tuple[NodeDrift, ...]:
        was = {d.node for d in self.before.drifted}
        return tuple(d for d in self.after.drifted if d.node not in was)

    def reason_of(self, pod: str) -> str:
        return next((u.reason for u in self.after.plan.unschedulable if u.pod == pod), "")

    def to_json(self) -> dict[str, Any]:
        """The contract of `scaler plan --output json` (docs/gitops.md)."""
        return {
            "from": self.before.to_json(),
            "to": self.after.to_json(),
            "deltaPerHour": round(self.delta_per_hour, 6),
            "newlyUnschedulable": list(self.newly_unschedulable),
            "drifted": [d.node for d in self.newly_drifted],
        }


@dataclass(frozen=True)
class Threshold:
    """`--fail-if-increase-above`: USD per hour (`0.5`) or a percentage (`10%`)."""

    value: float
    percent: bool

    @classmethod
    def parse(cls, text: str) -> Threshold:
        m = _THRESHOLD.fullmatch(text)
        if not m:
            raise UserError(
                f"invalid threshold {text!r} (expected USD per hour like 0.50, or a percentage "
                "like 10%)",
                field="--fail-if-increase-above",
            )
        return cls(float(m.group("value")), m.group("unit") == "%")

    def exceeded_by(self, preview: CostPreview) -> bool:
        delta = preview.delta_per_hour
        if delta <= 1e-9:
            return False
        if not self.percent:
            return delta > self.value + 1e-9
        pct = preview.delta_percent
        return pct is None or pct > self.value + 1e-9

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else f"${self.value:g}/h"


def load_revision(repo: Repository, revision: Revision, workdir: Path, which: str) -> PolicySet:
    """The policies at a revision, or a UserError naming the revision and the problem."""
    dest = workdir / which
    root = repo.export(revision, dest)
    try:
        return load_policies(root, display_root=dest)
    except UserError as err:
        raise UserError(err.render(), file=f"--{which} {revision}") from None


def simulate(
    revision: str, policies: PolicySet, snapshot: Snapshot, catalog: Catalog,
    table: InstanceTypeTable,
) -> Side:
    """One revision's provisioning plan and drifted nodes (`table`: the catalog's types, for
    the labels each node's instance type implies)."""
    plan = provision(
        SimulatedCluster(snapshot), SimulatedCloud(catalog), policies.node_pools, catalog
    )
    drifted = tuple(find_drift(snapshot.nodes, policies.node_pools, table))
    return Side(revision, policies, plan, drifted)


def preview(
    repo: Repository,
    from_rev: str,
    to_rev: str,
    snapshot_paths: Sequence[str],
    region: str = "us-east-1",
    zones: Sequence[str] | None = None,
) -> CostPreview:
    try:
        catalog = load_catalog(region, zones)
    except CatalogError as err:
        raise UserError(str(err), field="--region") from None
    snapshot = load_snapshot([Path(p) for p in snapshot_paths])
    before_rev, after_rev = repo.resolve(from_rev), repo.resolve(to_rev)
    with tempfile.TemporaryDirectory(prefix="scaler-plan-") as tmp:
        before_policies = load_revision(repo, before_rev, Path(tmp), "from")
        after_policies = load_revision(repo, after_rev, Path(tmp), "to")
    table = InstanceTypeTable(catalog.instance_types)
    return CostPreview(
        before=simulate(str(before_rev), before_policies, snapshot, catalog, table),
        after=simulate(str(after_rev), after_policies, snapshot, catalog, table),
        snapshot=", ".join(snapshot_paths),
        region=catalog.region,
    )
