"""Disruption methods behind one interface, tried in Karpenter's order: emptiness, drift,
expiration, then consolidation (multi-node, then single-node; or scaler's MILP over every
candidate at once, see `optimiser`).

Unlike Karpenter, which stops a pass at the first method that finds something, a pass here
runs every method in turn on the cluster as the earlier ones left it, sharing the budgets
and PDB allowances, so one pass gives the whole plan (the loop still revalidates it before
acting).

One module per method (emptiness, drift, expiration, multi_node, single_node), all behind
the `Method` protocol in `context`.
"""

from __future__ import annotations

from scaler.core.disruption.methods.context import Method
from scaler.core.disruption.methods.drift import Drift
from scaler.core.disruption.methods.emptiness import Emptiness
from scaler.core.disruption.methods.expiration import Expiration
from scaler.core.disruption.methods.multi_node import MultiNode
from scaler.core.disruption.methods.single_node import SingleNode


def karpenter_methods() -> list[Method]:
    return [Emptiness(), Drift(), Expiration(), MultiNode(), SingleNode()]
