"""Zonal failure: a 15-replica Deployment spread over three zones (maxSkew 1, DoNotSchedule);
one zone fails. Its instances stop (and every instance launched there afterwards stops too:
the zone is down), then 25%, 50% and 100% of its offerings answer
InsufficientInstanceCapacity on CreateFleet, then its subnet is deleted.

Every pod is Running again within 2 minutes of the failure (Karpenter's bound: 5), in the
two zones left, and no offering of the failed zone is launched into again while the
unavailable-offerings cache says it failed (an InsufficientInstanceCapacity answer, or an
instance of it that stopped under its node); once its subnet is gone, nothing is aimed at
it, past the cache's TTL too (watched until 240 s after the failure)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tests.chaos.cluster import ZONE, ClusterSim, Deployment
from tests.chaos.conftest import (
    REGISTRATION,
    SCALE,
    ZONES,
    Scaler,
    ctl,
    instance_state,
    launches_per_claim,
    nodepool,
    wait_for,
)
from tests.integration.aws.conftest import World
from tests.integration.aws.faults import FaultProxy, fleet_overrides
from tests.support.kube_api import KubeApi

REPLICAS = 15
FAILED = ZONES[2]
TYPES = ("c5.large", "m5.large", "c5.xlarge", "m5.xlarge")  # cheapest first (eu-west-1)
# The zone's offerings run out in the order the controller reaches for them: its nodes are
# c5.large (which stop with the zone), so the next cheapest goes first.
ICE_ORDER = ("m5.large", "c5.xlarge", "m5.xlarge", "c5.large")
# Controller seconds after the failure -> how many of ICE_ORDER answer
# InsufficientInstanceCapacity: 25%, 50%, 100% of the zone's offerings.
STAGES = ((0.0, 1), (10.0, 2), (20.0, 4))
SUBNET_GONE = 40.0
WATCH = 240.0  # controller seconds watched after the failure: past the cache's TTL
TTL = 180.0  # the unavailable-offerings cache (Karpenter's 3 minutes)
BOUND = 120.0


class FailedZone:
    """The zone's side of the failure: stops every instance of ours running there, as often
    as it looks (every 0.1 s wall); records which types died and when."""

    def __init__(self, world: World, zone: str) -> None:
        self.ec2 = world.ec2
        self.zone = zone
        self.died: list[tuple[float, str]] = []  # (when, instance type)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> FailedZone:
        self._sweep()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _sweep(self) -> None:
        found = self.ec2.describe_instances(Filters=[
            {"Name": "instance-state-name", "Values": ["pending", "running"]}])
        live = [i for r in found["Reservations"] for i in r["Instances"]
                if i["Placement"]["AvailabilityZone"] == self.zone
                and any(t["Key"] == "karpenter.sh/nodeclaim" for t in i.get("Tags", ()))]
        if live:
            self.ec2.stop_instances(InstanceIds=[i["InstanceId"] for i in live])
            now = time.monotonic()
            self.died += [(now, i["InstanceType"]) for i in live]

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._sweep()


def _zones_of_pods(sim: ClusterSim) -> dict[str, int]:
    nodes = {n["metadata"]["name"]: n for n in sim.scaler_nodes()}
    out: dict[str, int] = {}
    for p in sim.pods_of("web"):
        n = nodes.get(p["spec"].get("nodeName") or "")
        if n is not None and (p.get("status") or {}).get("phase") == "Running":
            z = n["metadata"]["labels"].get(ZONE, "?")
            out[z] = out.get(z, 0) + 1
    return dict(sorted(out.items()))


def _fleet_overrides_in(proxy: FaultProxy, subnet: str) -> list[tuple[float, str, int]]:
    """(when, instance type, CreateFleet status) of every override aimed at `subnet`."""
    return [(r.at, o.get("InstanceType", ""), r.status)
            for r in proxy.calls("CreateFleet")
            for o in fleet_overrides(r.params).values() if o.get("SubnetId") == subnet]


def test_a_failed_zone_is_left_and_its_pods_run_in_the_others_within_two_minutes(
        kube_api: KubeApi, world: World, rig: Callable[..., Scaler]) -> None:
    proxy = FaultProxy(world.url).start()
    sim = ClusterSim(kube_api, register_after=ctl(REGISTRATION),
                     instance_alive=instance_state(world), alive_every=0.2).start()
    scaler = rig(nodepool(after=30, types=TYPES), aws_url=proxy.url)
    zone = FailedZone(world, FAILED)
    subnet = world.subnets[FAILED]
    try:
        # One pod per zone first: kube-scheduler counts only the zones nodes are in, so a
        # zone whose first node registers late would be left short (as in a real cluster).
        sim.deploy(Deployment("web", replicas=len(ZONES), cpu="600m", spread_zones=True))
        wait_for(sim.all_running, "a pod Running in each zone", 60, (scaler,))
        sim.deploy(Deployment("web", replicas=REPLICAS, cpu="600m", spread_zones=True))
        wait_for(sim.all_running, "all pods Running before the failure", 60, (scaler,))
        time.sleep(ctl(20))  # settle
        before = _zones_of_pods(sim)
        assert before == dict.fromkeys(ZONES, REPLICAS // 3), before

        began = time.monotonic()
        ice_from: dict[str, float] = {}  # type -> when it began to answer ICE
        stage = [0]
        gone: list[float] = []

        def advance() -> None:  # the failure's course, on the controller's clock
            at = (time.monotonic() - began) * SCALE
            while stage[0] < len(STAGES) and at >= STAGES[stage[0]][0]:
                for t in ICE_ORDER[:STAGES[stage[0]][1]]:
                    if t not in ice_from:
                        proxy.insufficient_capacity(t, subnet, "on-demand")
                        ice_from[t] = time.monotonic()
                stage[0] += 1
            if not gone and at >= SUBNET_GONE:
                world.ec2.delete_subnet(SubnetId=subnet)
                gone.append(time.monotonic())

        advance()
        zone.start()  # the zone's instances stop

        down = [False]

        def recovered() -> bool:
            advance()
            running = sim.running("web")
            down[0] = down[0] or running < REPLICAS  # the zone's pods were seen lost
            return down[0] and running >= REPLICAS

        wait_for(recovered, "all pods Running again", ctl(300), (scaler,))
        took = (time.monotonic() - began) * SCALE
        after = _zones_of_pods(sim)
        low = REPLICAS
        while (time.monotonic() - began) * SCALE < WATCH:  # stays so while the zone fails
            advance()
            low = min(low, sim.running("web"))
            time.sleep(0.05)
        zone.stop()

        # What reached the failed zone (after its first InsufficientInstanceCapacity answer,
        # after its subnet went), and whether any offering was tried there again while the
        # cache held it failed (an ICE answer for it, or an instance of it that stopped).
        aimed = _fleet_overrides_in(proxy, subnet)
        ice = [(at, t) for at, t, _ in aimed if t in ice_from and at >= ice_from[t]]
        failed_at = sorted([*ice, *zone.died])
        first_ice = min((at for at, _ in ice), default=None)
        after_first = [(at, t) for at, t, _ in aimed if first_ice is not None and at > first_ice]
        after_gone = [t for at, t, _ in aimed if gone and at > gone[0]]
        fleets_into = {r.at for r in proxy.calls("CreateFleet") if r.at >= began and any(
            o.get("SubnetId") == subnet for o in fleet_overrides(r.params).values())}
        retried = [(round((at - began) * SCALE), t) for at, t, _ in aimed
                   if any(t == ft and 0 < at - f < ctl(TTL) for f, ft in failed_at)]
        stopped_claims = [e for e in kube_api.objects("v1", "events")
                          if e["reason"] == "InstanceStopped"]
        doubles = {k: v for k, v in launches_per_claim(world).items() if v > 1}
        # Stopped instances are terminated with their claims, none left behind.
        in_failed = [i for i in world.instances(("pending", "running", "stopping", "stopped"))
                     if i["Placement"]["AvailabilityZone"] == FAILED]
        print(f"\n[zonal failure] {FAILED} failed; pods per zone before {before}, after "
              f"{after}; all {REPLICAS} Running {took:.0f}s after the failure (bound "
              f"{BOUND:.0f}s); fewest Running while watched after: {low}; ICE answers from "
              f"the zone {len(ice)}, instances that died there {len(zone.died)}, "
              f"InstanceStopped replacements {len(stopped_claims)}; CreateFleet calls into "
              f"the zone after the failure {len(fleets_into)}; overrides aimed at the "
              f"zone after its first ICE {len(after_first)}, of them retries of an offering "
              f"the cache held failed {len(retried)} {retried}; subnet deleted at "
              f"{(gone[0] - began) * SCALE if gone else float('nan'):.0f}s, overrides aimed "
              f"at it after that {len(after_gone)}; "
              f"double launches {len(doubles)}; wall {time.monotonic() - began:.1f}s")
        assert ice, "the failed zone never answered InsufficientInstanceCapacity: no test"
        assert took <= BOUND, f"{took:.0f}s"
        assert FAILED not in after and sum(after.values()) == REPLICAS, after
        assert low == REPLICAS
        assert not retried, retried
        assert not after_gone, after_gone  # its subnet gone: never aimed at again
        assert not doubles, doubles
        assert not in_failed, [i["InstanceId"] for i in in_failed]
        assert not sim.errors, sim.errors
        assert "Traceback" not in scaler.text()
    finally:
        zone.stop()
        sim.stop()
        scaler.kill()
        proxy.stop()
