"""Runaway scale-up (Karpenter's chaos suite): a hostile controller taints every new node
NoExecute, so the one pod of a 1-replica Deployment is evicted from each node it lands on
and a new node is launched for it. Over 5 minutes of controller time the node count must
stay at most 5 (Karpenter: below 35), with consolidation on and with emptiness only."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.chaos.cluster import ClusterSim, Deployment
from tests.chaos.conftest import SCALE, Scaler, ctl, nodepool, wait_for
from tests.support.kube_api import KubeApi

BOUND = 5
WINDOW = 300.0  # controller seconds


@pytest.mark.parametrize("mode", ["consolidation", "emptiness"])
def test_a_hostile_tainter_does_not_cause_a_runaway_scale_up(
        mode: str, kube_api: KubeApi, rig: Callable[..., Scaler],
        cluster: Callable[..., ClusterSim]) -> None:
    if mode == "consolidation":
        pool = nodepool(policy="WhenEmptyOrUnderutilized", after=0)
        scaler = rig(pool, disruption={"planner": "consolidation"})
    else:
        pool = nodepool(policy="WhenEmpty", after=30)
        scaler = rig(pool, disruption={"planner": "emptiness", "emptyAfter": ctl(30)})
    sim = cluster(hostile=True)
    sim.deploy(Deployment("my-app", replicas=1, cpu="500m"))
    wait_for(lambda: kube_api.objects("scaler.dev/v1alpha1", "nodeclaims"),
             "a first node claim", 20, (scaler,))
    began = time.monotonic()
    while time.monotonic() - began < ctl(WINDOW):
        assert scaler.alive(), scaler.text()[-3000:]
        assert sim.max_nodes <= BOUND, (sim.history, scaler.text()[-3000:])
        time.sleep(0.1)
    launched = kube_api.count("POST", "/nodeclaims")
    print(f"\n[runaway/{mode}] over {WINDOW:.0f}s controller time "
          f"({ctl(WINDOW):.0f}s wall at x{SCALE:.0f}): most nodes at once "
          f"{sim.max_nodes} (bound {BOUND}; Karpenter < 35), node claims created "
          f"{launched}, node-count changes {len(sim.history)}")
    assert sim.max_nodes <= BOUND
    assert launched >= 3  # the hostile taint really kept evicting the pod
    assert not sim.errors, sim.errors
    assert "Traceback" not in scaler.text()
