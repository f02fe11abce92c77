"""Whole-node packing's view of where a class of pods may run."""

from __future__ import annotations

from scaler.core.scheduling.capacity import NewCapacity
from scaler.core.scheduling.claim import Lookups
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.topology import Topology
from scaler.core.scheduling.whole_nodes import WholeNodes
from tests.support.builders import TYPES, pod, pool, req

ZONE = "topology.kubernetes.io/zone"


def test_zone_bits_name_the_zones_a_class_may_launch_in() -> None:
    # The pattern search keeps classes with no zone in common off one node (kinds carry no
    # zone); a class pinned to a zone must say so, one pinned nowhere allows every zone.
    table = InstanceTypeTable(TYPES)
    whole = WholeNodes(NewCapacity(table, [pool()], ()), Lookups(table, Topology({})), "",
                       lambda p: p.scheduling)
    in_a = pod("a", selector={ZONE: "z-a"})
    in_b = pod("b", terms=[[req(ZONE, "In", "z-b")]])
    either = pod("e", terms=[[req(ZONE, "In", "z-a")], [req(ZONE, "In", "z-b")]])
    anywhere = pod("n")
    assert whole.zone_bits([[in_a], [in_b], [either], [anywhere]]) == [0b01, 0b10, 0b11, 0b11]
    pinned_pool = WholeNodes(NewCapacity(table, [pool("default", req(ZONE, "In", "z-b"))], ()),
                             Lookups(table, Topology({})), "", lambda p: p.scheduling)
    assert pinned_pool.zone_bits([[in_a], [anywhere]]) == [0, 0b10]
