"""Spot interruption storm: EventBridge puts two-minute warnings for 30% of the nodes on
the interruption queue (moto's SQS) within 10 s. For each warned node capacity is launched
before its pods are evicted, evictions go through the Eviction API (PodDisruptionBudgets
honoured), and every pod is Running again within 3 minutes (Karpenter's interruption suite:
the node is gone before the Spot shutdown and the pods healthy again)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.chaos.cluster import ClusterSim, Deployment
from tests.chaos.conftest import (
    REGISTRATION,
    SCALE,
    Scaler,
    ctl,
    launches_per_claim,
    nodepool,
    wait_for,
)
from tests.integration.aws.conftest import World
from tests.support.kube_api import KubeApi

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "aws" / "events"
PLACEHOLDER = "i-0123456789abcdef0"
REPLICAS = 24
MIN_AVAILABLE = 18  # the PDB: at most 6 of the 24 pods away at once


def test_a_spot_interruption_storm_replaces_before_draining_and_honours_pdbs(
        kube_api: KubeApi, world: World, rig: Callable[..., Scaler]) -> None:
    sim = ClusterSim(kube_api, register_after=ctl(REGISTRATION)).start()
    scaler = rig(nodepool(after=30, capacity=("spot",), types=("m5.large",)))
    try:
        kube_api.put("policy/v1", "poddisruptionbudgets", {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"minAvailable": MIN_AVAILABLE, "selector": {"matchLabels": {"app": "web"}}}})
        sim.deploy(Deployment("web", replicas=REPLICAS, cpu="600m"))
        wait_for(sim.all_running, "all pods Running before the storm", 60, (scaler,))
        time.sleep(ctl(30))  # settle: consolidation has nothing left to do
        nodes = sim.scaler_nodes()
        warned = nodes[:math.ceil(0.3 * len(nodes))]
        node_pods: dict[str, set[str]] = {}
        for p in kube_api.objects("v1", "pods"):
            node_pods.setdefault(p["spec"].get("nodeName") or "", set()).add(p["metadata"]["name"])
        on_warned = set().union(*(node_pods.get(n["metadata"]["name"], set()) for n in warned))
        low = [REPLICAS]
        done = threading.Event()

        def watch() -> None:  # the fewest pods Running at once during the storm
            while not done.wait(0.05):
                low[0] = min(low[0], sim.running("web"))
        threading.Thread(target=watch, daemon=True).start()

        mark = len(kube_api.requests)
        body = (EVENTS / "spot_interruption.json").read_text()
        began = time.monotonic()
        for n in warned:  # spread over 10 s of controller time
            iid = n["spec"]["providerID"].rsplit("/", 1)[-1]
            world.sqs.send_message(QueueUrl=world.queue_url,
                                   MessageBody=body.replace(PLACEHOLDER, iid))
            time.sleep(ctl(10) / len(warned))
        warned_names = {n["metadata"]["name"] for n in warned}
        wait_for(lambda: not warned_names & {n["metadata"]["name"] for n in sim.scaler_nodes()},
                 "the warned nodes gone", ctl(120), (scaler,))
        gone = time.monotonic() - began
        wait_for(lambda: sim.running("web") >= REPLICAS, "all pods Running again", ctl(180),
                 (scaler,))
        took = time.monotonic() - began
        done.set()

        reqs = kube_api.requests[mark:]
        claim_posts = [i for i, r in enumerate(reqs)
                       if r.method == "POST" and r.path.endswith("/nodeclaims")]
        evictions = [(i, r.path.split("/")[-2]) for i, r in enumerate(reqs)
                     if r.method == "POST" and r.path.endswith("/eviction")]
        pod_node = {p: n["metadata"]["name"] for n in warned for p in on_warned
                    if p in node_pods[n["metadata"]["name"]]}
        # Each warned node's first eviction, in order; between the previous one and it,
        # a claim for its pods was created (every node is full: its pods need new room).
        firsts = sorted({pod_node[name]: i for i, name in reversed(evictions)
                         if name in pod_node}.values())
        ahead = sum(1 for prev, first in zip([-1, *firsts], firsts, strict=False)
                    if any(prev < i < first for i in claim_posts))
        evicted = {name for _, name in evictions}
        deletes = [r for r in reqs if r.method == "DELETE" and "/pods/" in r.path]
        doubles = {k: v for k, v in launches_per_claim(world).items() if v > 1}
        print(f"\n[spot-storm] {len(warned)} of {len(nodes)} nodes warned within 10s; "
              f"warned nodes gone {gone * SCALE:.0f}s and all {REPLICAS} pods Running "
              f"{took * SCALE:.0f}s (controller) after the first warning (bound 180s); "
              f"{ahead} of {len(warned)} warned nodes had a claim created for their pods before "
              f"their first eviction; "
              f"{len(evictions)} eviction calls for {len(evicted)} pods "
              f"({kube_api.count('POST', '/eviction') - len(evicted)} refused or repeated); "
              f"fewest pods Running {low[0]} (PDB minAvailable {MIN_AVAILABLE})")
        assert took <= ctl(180)
        assert ahead == len(warned)  # capacity on its way before each node's first eviction
        assert on_warned <= evicted  # every pod on a warned node left through the Eviction API
        assert not deletes
        assert low[0] >= MIN_AVAILABLE
        assert not doubles, doubles
        assert not sim.errors, sim.errors
        assert "Traceback" not in scaler.text()
    finally:
        sim.stop()
        scaler.kill()
