"""Part-filled nodes of a whole-node plan merged where one node holding both costs less
(`tails.py`)."""

from __future__ import annotations

import numpy as np

from scaler.core.model import Pod, Scheduling, TopologySpread
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.capacity import ONE_POD, NewCapacity
from scaler.core.scheduling.claim import Claim, Lookups
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.tails import merge_tails
from scaler.core.scheduling.topology import Topology
from tests.support.builders import TYPES, pool, req

HOST = "kubernetes.io/hostname"


def _claim(name: str, pods: list[Pod], capacity: NewCapacity, lk: Lookups) -> Claim:
    table = lk.table
    p = capacity.pools[0]
    reqs = capacity.launch_reqs[p.name]
    used = capacity.overhead_vector(p) + sum(
        np.array(table.vector(q.requests + ONE_POD), dtype=np.int64) for q in pods)
    idx = lk.fits(np.flatnonzero(table.mask(reqs)), used)
    claim = Claim(name, p, reqs, idx, used, (), pods=list(pods))
    claim.apply(reqs, idx, lk.cheapest(idx, reqs), lk)
    return claim


def _pod(name: str, cpu: str, spread: bool = False) -> Pod:
    rules = (TopologySpread(HOST, 1, selector=Requirements.from_labels({"app": "x"})),) \
        if spread else ()
    return Pod("d", name, Resources.parse({"cpu": cpu, "memory": "4Gi"}),
               Scheduling(topology_spread=rules), labels={"app": "y"})


def _setup() -> tuple[NewCapacity, Lookups]:
    table = InstanceTypeTable(TYPES)
    capacity = NewCapacity(table, [pool("plain", req("kubernetes.io/arch", "In", "amd64"))],
                           ())
    return capacity, Lookups(table, Topology({}))


def test_two_half_empty_nodes_become_one() -> None:
    """7 vCPU each: two m.4xlarge ($0.30 spot each) hold them, one holds both."""
    capacity, lk = _setup()
    claims = [_claim("a", [_pod("p1", "7")], capacity, lk),
              _claim("b", [_pod("p2", "7")], capacity, lk)]
    assert [c.price for c in claims] == [0.30, 0.30]
    merge_tails(claims, capacity, lk, lambda p: p.scheduling)
    assert len(claims) == 1
    assert sorted(p.name for p in claims[0].pods) == ["p1", "p2"]
    assert claims[0].price == 0.30


def test_a_node_with_a_hostname_spread_owner_keeps_its_pods() -> None:
    capacity, lk = _setup()
    claims = [_claim("a", [_pod("p1", "7", spread=True)], capacity, lk),
              _claim("b", [_pod("p2", "7")], capacity, lk)]
    merge_tails(claims, capacity, lk, lambda p: p.scheduling)
    assert len(claims) == 2
