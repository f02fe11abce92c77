"""Throttling storm: half of the EC2 calls answer RequestLimitExceeded while the workload
grows. Throttled calls are retried after jittered waits (never the same wait twice in a
row), no launch is lost (every pod Running, no LaunchFailed) and none is made twice."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable

from tests.chaos.cluster import ClusterSim, Deployment
from tests.chaos.conftest import (
    NC,
    SCALE,
    Scaler,
    ctl,
    launches_per_claim,
    nodepool,
    scaler_instances,
    wait_for,
)
from tests.integration.aws.conftest import World
from tests.integration.aws.faults import ec2_error
from tests.support.http_faults import Fault, HttpFaultProxy
from tests.support.kube_api import KubeApi

# AWS's backoff waits are wall-clock (base 0.25 s, cap 20 s): the storm lasts 20 s of wall
# time, which is 200 s of the compressed loop's time (more than the minute asked).
STORM = 20.0
EC2 = b"Version=2016-11-15"


def _action(body: bytes) -> str:
    m = re.search(rb"Action=(\w+)", body)
    return m.group(1).decode() if m else "?"


def test_a_throttling_storm_loses_no_launch_and_doubles_none(
        kube_api: KubeApi, world: World, rig: Callable[..., Scaler],
        cluster: Callable[..., ClusterSim], ec2_proxy: HttpFaultProxy) -> None:
    proxy = ec2_proxy
    sim = cluster()
    scaler = rig(nodepool(after=30), aws_url=proxy.url)
    sim.deploy(Deployment("web", replicas=2, cpu="600m"))
    wait_for(sim.all_running, "the first pods Running", 40, (scaler,))
    began = time.monotonic()
    proxy.begin()
    proxy.add(Fault("throttled", status=503, body=ec2_error(
        "RequestLimitExceeded", "Request limit exceeded."),
        headers={"Content-Type": "text/xml"}, body_contains=EC2, every=2, stop=STORM))
    sim.deploy(Deployment("web", replicas=12, cpu="600m"))
    time.sleep(STORM / 2)
    sim.deploy(Deployment("web", replicas=16, cpu="600m"))
    wait_for(sim.all_running, "all 16 pods Running", STORM + ctl(180), (scaler,))
    took = time.monotonic() - began
    wait_for(lambda: time.monotonic() - began >= STORM, "the storm's end", STORM)

    reqs = list(proxy.requests)
    throttled = [r for r in reqs if r.action == "throttled"]
    ec2_calls = [r for r in reqs if EC2 in r.body and 0 <= r.at - began < STORM]
    # Each throttled call's retry: the next request with the same body.
    waits = []
    for i, r in enumerate(reqs):
        if r.action != "throttled":
            continue
        again = next((q for q in reqs[i + 1:] if q.body == r.body), None)
        if again is not None:
            waits.append(again.at - r.at)
    actions = sorted({_action(r.body) for r in throttled})
    failed = [e for e in kube_api.objects("v1", "events")
              if e["reason"] in ("LaunchFailed", "InsufficientCapacityError")]
    doubles = {k: v for k, v in launches_per_claim(world).items() if v > 1}
    claims = kube_api.objects(NC, "nodeclaims")
    print(f"\n[throttling] {STORM:.0f}s wall storm ({STORM * SCALE:.0f}s controller time): "
          f"{len(throttled)} of {len(ec2_calls)} EC2 calls in the storm throttled "
          f"({', '.join(actions)}); "
          f"{len(waits)} retries, waits {min(waits):.3f}-{max(waits):.3f}s wall "
          f"(stdev {statistics.pstdev(waits):.3f}); all 16 pods Running "
          f"{took * SCALE:.0f}s (controller) after the storm began; launches failed "
          f"{len(failed)}, double launches {len(doubles)}, claims {len(claims)}")
    assert len(throttled) >= 10 and "CreateFleet" in actions
    assert len(throttled) >= 0.45 * len(ec2_calls)
    assert len(waits) >= len(throttled) * 0.9
    assert statistics.pstdev(waits) > 0.01  # jittered, not a fixed wait
    assert not failed, [e["message"] for e in failed]
    assert not doubles, doubles
    wait_for(lambda: len(kube_api.objects(NC, "nodeclaims")) == len(sim.scaler_nodes())
             == len(scaler_instances(world)), "claims, nodes and instances agree",
             ctl(60), (scaler,))
    assert not sim.errors, sim.errors
    assert "Traceback" not in scaler.text()
