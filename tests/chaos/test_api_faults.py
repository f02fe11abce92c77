"""API faults: for a minute of controller time every path to the Kubernetes API misbehaves
(500s, 429 with Retry-After, 410 Gone on watches, 2 s latency, connection resets) while the
workload grows. The loop keeps its cadence (it keeps beating and keeps provisioning), a
throttled call is sent again no earlier than its Retry-After, no NodeClaim is made twice
for the same pods, and once the faults stop the relisted caches heal: every pod Running,
every claim registered, no instance without a claim."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from tests.chaos.cluster import ClusterSim, Deployment
from tests.chaos.conftest import (
    NC,
    REGISTRATION,
    SCALE,
    Scaler,
    ctl,
    launches_per_claim,
    nodepool,
    scaler_instances,
    wait_for,
)
from tests.integration.aws.conftest import World
from tests.support.http_faults import Fault, HttpFaultProxy, Seen
from tests.support.kube_api import KubeApi

# Faults last 20 s of wall time (200 s of the compressed loop's time: more than the minute
# asked). What the server dictates stays in wall time: the 2 s latency, the Retry-After,
# and so the Lease timings they race (production values: 15 s / 10 s / 2 s).
FAULTS = 20.0
LEASE = {"leaseDuration": 15, "renewDeadline": 10, "retryPeriod": 2}
RETRY_AFTER = 1  # seconds (wall), the 429s' Retry-After


def resends_after_429(seen: Sequence[Seen]) -> list[float]:
    """For each call answered 429, how long after it the same call (method, path and body)
    came again, in wall seconds; calls never sent again are left out."""
    gaps = []
    for i, call in enumerate(seen):
        if call.action != "429":
            continue
        again = next((s for s in seen[i + 1:] if (s.method, s.path, s.body) ==
                      (call.method, call.path, call.body)), None)
        if again is not None:
            gaps.append(again.at - call.at)
    return gaps


def test_api_faults_keep_the_cadence_and_make_no_duplicate_claims(
        kube_api: KubeApi, world: World, rig: Callable[..., Scaler]) -> None:
    proxy = HttpFaultProxy(kube_api.url).start()
    sim = ClusterSim(kube_api, register_after=ctl(REGISTRATION)).start()
    scaler = rig(nodepool(after=30), kube_url=proxy.url, leaderElection=LEASE)
    try:
        sim.deploy(Deployment("web", replicas=2, cpu="600m"))
        wait_for(sim.all_running, "the first pods Running", 30, (scaler,))

        stop = FAULTS
        # Lease calls get the latency but not the errors: a replica that cannot renew for
        # renewDeadline must step down (client-go's rule; the failover scenario covers it).
        busy = {"watch": False, "stop": stop, "exclude": "/leases"}
        proxy.begin()
        proxy.add(Fault("reset", reset=True, every=7, **busy))
        proxy.add(Fault("500", status=500, body=b'{"kind":"Status","code":500}',
                        headers={"Content-Type": "application/json"}, every=4, **busy))
        proxy.add(Fault("429", status=429, body=b'{"kind":"Status","code":429}',
                        headers={"Content-Type": "application/json",
                                 "Retry-After": str(RETRY_AFTER)},
                        every=5, **busy))
        proxy.add(Fault("410", gone=True, watch=True, every=2, stop=stop))
        proxy.add(Fault("latency", latency=2.0, every=3, stop=stop))
        began = time.monotonic()
        sim.deploy(Deployment("web", replicas=8, cpu="600m"))  # needs more nodes
        unhealthy = 0
        samples = 0
        while time.monotonic() - began < stop:
            assert scaler.alive(), scaler.text()[-3000:]
            samples += 1
            unhealthy += scaler.healthz() != 200
            time.sleep(0.1)
        fired = {f.name: f.fired for f in proxy.faults}
        # Healing: every pod Running within 2 minutes of the faults' end.
        wait_for(sim.all_running, "all pods Running after the faults", ctl(120), (scaler,))
        healed = time.monotonic() - began - stop
        waited = resends_after_429(proxy.requests)
        claims = kube_api.objects(NC, "nodeclaims")
        nodes = sim.scaler_nodes()
        empty = [n["metadata"]["name"] for n in nodes
                 if not any(p["spec"].get("nodeName") == n["metadata"]["name"]
                            for p in kube_api.objects("v1", "pods"))]
        created = kube_api.count("POST", "/nodeclaims")
        print(f"\n[api-faults] {FAULTS:.0f}s wall of faults ({FAULTS * SCALE:.0f}s of "
              f"controller time at x{SCALE:.0f}), fired: {fired}; healthz failing in "
              f"{unhealthy}/{samples} samples; all 8 pods Running {healed * SCALE:.0f}s "
              f"(controller) after the faults; claims created {created}, live {len(claims)}, "
              f"nodes {len(nodes)}, empty nodes {len(empty)}; {len(waited)} throttled calls "
              f"sent again {min(waited, default=0):.2f}-{max(waited, default=0):.2f}s (wall) "
              f"after their 429 (Retry-After: {RETRY_AFTER}s)")
        assert all(fired[k] > 0 for k in ("reset", "500", "429", "410", "latency")), fired
        assert unhealthy == 0
        # Retry-After honoured: no throttled call was sent again before the server said.
        assert waited and min(waited) >= RETRY_AFTER, waited
        # No duplicates: every claim is one instance and one node, and none is spare.
        assert len(claims) == len(nodes) == len(scaler_instances(world))
        assert not empty, empty
        doubles = {k: v for k, v in launches_per_claim(world).items() if v > 1}
        assert not doubles, doubles
        assert not sim.errors, sim.errors
        assert "Traceback" not in scaler.text()
    finally:
        sim.stop()
        scaler.kill()
        proxy.stop()
