"""Leader failover mid-consolidation: two `scaler run` replicas; the leader launches a
cheaper replacement for an underutilized node and is killed (kill -9) before it drains the
old node. The new leader finishes the consolidation (drains onto the replacement once it is
Ready, deletes the old node) or rolls it back, and never launches a second replacement."""

from __future__ import annotations

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
from tests.support.kube_api import KubeApi


def _holder(kube_api: KubeApi) -> str:
    lease = kube_api.get("coordination.k8s.io/v1", "leases", "scaler", "kube-system") or {}
    return str(lease.get("spec", {}).get("holderIdentity") or "")


def test_a_new_leader_finishes_the_consolidation_without_a_second_replacement(
        kube_api: KubeApi, world: World, rig: Callable[..., Scaler],
        cluster: Callable[..., ClusterSim]) -> None:
    pool = nodepool(after=0, types=("m5.large", "m5.xlarge"))
    replicas = {name: rig(pool, name=name) for name in ("replica-a", "replica-b")}
    sim = cluster()
    # 3 x 1.2 CPU: one m5.xlarge (three m5.large would cost more).
    sim.deploy(Deployment("web", replicas=3, cpu="1200m"))
    procs = tuple(replicas.values())
    wait_for(sim.all_running, "the pods Running", 60, procs)
    [first] = sim.scaler_nodes()
    assert first["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "m5.xlarge"
    leader = replicas[wait_for(lambda: _holder(kube_api), "a leader", 10, procs)]
    follower = next(r for r in procs if r is not leader)

    # Two pods go: one 1.2 CPU pod on a 4-CPU node; an m5.large is cheaper.
    sim.deploy(Deployment("web", replicas=1, cpu="1200m"))
    for p in sim.pods_of("web")[1:]:
        kube_api.delete("v1", "pods", p["metadata"]["name"], "default")

    def replacement() -> list[str]:
        return [c["metadata"]["name"] for c in kube_api.objects(NC, "nodeclaims")
                if c["metadata"]["name"].split("-")[-1].startswith("r")
                and c.get("status", {}).get("providerID")]
    # Killed once the replacement's instance is launched, before it is Ready and
    # before anything is drained.
    [launched] = wait_for(replacement, "a replacement launched", ctl(180), procs)
    leader.kill()  # before the old node is drained: it is still there
    killed = time.monotonic()
    assert first["metadata"]["name"] in {n["metadata"]["name"] for n in sim.scaler_nodes()}
    evictions_before = kube_api.count("POST", "/eviction")

    def settled() -> bool:
        nodes = sim.scaler_nodes()
        return (len(nodes) == 1 and len(kube_api.objects(NC, "nodeclaims")) == 1
                and sim.running("web") == 1 and len(scaler_instances(world)) == 1)
    wait_for(settled, "one node left with the pod Running", ctl(300), (follower,))
    took = time.monotonic() - killed
    [last] = sim.scaler_nodes()
    kind = last["metadata"]["labels"]["node.kubernetes.io/instance-type"]
    outcome = "finished" if kind == "m5.large" else "rolled back"
    time.sleep(ctl(60))  # and it stays that way
    replacements = {n for n in launches_per_claim(world)
                    if n.split("-")[-1].startswith("r")}
    print(f"\n[failover] leader killed after launching replacement {launched}; "
          f"{_holder(kube_api)} took over and {outcome} the consolidation in "
          f"{took * SCALE:.0f}s (controller); replacements launched in all "
          f"{len(replacements)}; evictions after the kill "
          f"{kube_api.count('POST', '/eviction') - evictions_before}")
    assert _holder(kube_api) == follower.name
    assert replacements == {launched}, replacements
    assert len(sim.scaler_nodes()) == 1 and sim.running("web") == 1
    assert not {k: v for k, v in launches_per_claim(world).items() if v > 1}
    assert not sim.errors, sim.errors
    assert "Traceback" not in follower.text()
