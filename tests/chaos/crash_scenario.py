"""UNFINISHED (not collected by `pytest`; run it by path: `python3 -m pytest
tests/chaos/crash_scenario.py`): in one of its two full runs a pod made to replace an
evicted one waited 130 s of controller time for room. See docs/reliability.md.

Crash at every step: while a workload grows and shrinks (launch -> register -> drain ->
delete, over and over), `scaler run` is killed with SIGKILL at random points right after
one of those steps' calls, and started again, at least 50 times. After every restart: no
instance launched twice for a claim, no instance leaked (every one has its claim, once the
garbage collector's grace is over), no node left cordoned (the disrupted taint) without a
disruption under way, and no pod evicted without room ready for it (a pod made to replace
an evicted or lost one binds at once)."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable

from tests.chaos.cluster import ClusterSim, Deployment
from tests.chaos.conftest import (
    NC,
    REGISTRATION,
    Scaler,
    ctl,
    launches_per_claim,
    nodepool,
    scaler_instances,
    wait_for,
)
from tests.integration.aws.conftest import World
from tests.support.http_faults import HttpFaultProxy
from tests.support.kube_api import KubeApi

KILLS = int(os.environ.get("SCALER_CHAOS_KILLS", "50"))
DISRUPTED = "karpenter.sh/disrupted"
# The steps a kill follows: (where, what the request looks like).
STEPS = {
    "claim created": ("kube", "POST", "/nodeclaims"),
    "claim status written": ("kube", "PATCH", "/status"),
    "instance launched": ("ec2", "POST", "Action=CreateFleet"),
    "node tainted": ("kube", "PATCH", "/api/v1/nodes/"),
    "pod evicted": ("kube", "POST", "/eviction"),
    "node deleted": ("kube", "DELETE", "/api/v1/nodes/"),
    "instance terminated": ("ec2", "POST", "Action=TerminateInstances"),
    "claim deleted": ("kube", "DELETE", "/nodeclaims/"),
}


def test_kill_9_at_every_step_leaks_nothing_and_doubles_nothing(
        kube_api: KubeApi, world: World, rig: Callable[..., Scaler]) -> None:
    rng = random.Random(15)
    # No faults: it shows the EC2 calls, and replays moto's slow catalogue answers so that
    # each restart is not spent re-reading them.
    ec2 = HttpFaultProxy(world.url).start()
    for action in (b"DescribeInstanceTypes", b"DescribeInstanceTypeOfferings",
                   b"DescribeSpotPriceHistory", b"DescribeImages"):
        ec2.memo(b"Action=" + action + b"&")
    sim = ClusterSim(kube_api, register_after=ctl(REGISTRATION)).start()
    scaler = rig(nodepool(after=0), aws_url=ec2.url)
    stop = threading.Event()

    def workload() -> None:  # grow and shrink, so every step keeps happening
        for i in range(10_000):
            sim.deploy(Deployment("web", replicas=(7, 2, 5, 1)[i % 4], cpu="600m"))
            if stop.wait(ctl(rng.uniform(15, 40))):
                return
    def seen(step: str) -> int:
        where, method, part = STEPS[step]
        if where == "kube":
            return sum(1 for r in list(kube_api.requests)
                       if r.method == method and part in r.path)
        return sum(1 for r in list(ec2.requests) if part.encode() in r.body)

    try:
        threading.Thread(target=workload, daemon=True).start()
        landed: dict[str, int] = {}
        after_step = 0
        began = time.monotonic()
        for _ in range(KILLS):
            # The 1st to 4th step call after the restart (so that work moves on between
            # kills), then a random instant.
            wanted = rng.randint(1, 4)
            before = {step: seen(step) for step in STEPS}
            deadline = time.monotonic() + ctl(300)  # a restart takes seconds under load
            hit: dict[str, int] = {}
            while sum(hit.values()) < wanted and time.monotonic() < deadline:
                time.sleep(0.005)
                hit = {s: seen(s) - before[s] for s in STEPS if seen(s) > before[s]}
            if hit:
                after_step += 1
            for s, n in hit.items():  # the step calls between this restart and this kill
                landed[s] = landed.get(s, 0) + n
            last = ", ".join(sorted(hit))
            time.sleep(rng.uniform(0, 0.03))
            scaler.kill()
            doubles = {k: v for k, v in launches_per_claim(world).items() if v > 1}
            assert not doubles, (last, doubles)
            scaler.start()
        kills_took = time.monotonic() - began
        stop.set()

        # Quiet: whatever the kills left half-done is finished or undone.
        def consistent() -> bool:
            claims = {c["metadata"]["name"] for c in kube_api.objects(NC, "nodeclaims")}
            tagged = {next(t["Value"] for t in i["Tags"] if t["Key"] == "karpenter.sh/nodeclaim")
                      for i in scaler_instances(world)}
            cordoned = [n for n in sim.scaler_nodes()
                        if any(t.get("key") == DISRUPTED for t in n["spec"].get("taints") or ())]
            return tagged <= claims and not cordoned and sim.all_running()
        wait_for(consistent, "no leaked instance, no cordoned node, all pods Running",
                 60, (scaler,))
        late = {k: v for k, v in sim.replacements.items()
                if v[1] is None or v[1] - v[0] > ctl(10)}
        doubles = {k: v for k, v in launches_per_claim(world).items() if v > 1}
        print(f"\n[crash] {KILLS} kill -9s in {kills_took:.0f}s wall, "
              f"{after_step} after 1-4 step calls; the step calls the kills interrupted: "
              + ", ".join(f"{k} {v}" for k, v in sorted(landed.items()))
              + f"; instances launched {len(launches_per_claim(world))}, double launches "
              f"{len(doubles)}; leaked instances 0, cordoned nodes 0 after restart; pods "
              f"replaced {len(sim.replacements)}, of which waited for room {len(late)}")
        assert after_step >= KILLS * 0.9
        if KILLS >= 50:  # a full run interrupts (nearly) every kind of step
            assert len(landed) >= len(STEPS) - 2, landed
        assert not doubles
        assert not late, late
        assert not sim.errors, sim.errors
    finally:
        stop.set()
        sim.stop()
        scaler.kill()
        ec2.stop()
