"""Crash at every step: while a workload grows and shrinks (launch -> register -> drain ->
delete, over and over), `scaler run` is killed with SIGKILL at random points right after
one of those steps' calls, and started again, at least 50 times (`SCALER_CHAOS_KILLS`).
After every restart: no instance launched twice for a claim; at the end no instance leaked
(every one has its claim), no node left cordoned (the disrupted taint), every pod Running,
and no pod evicted without room ready for it: every pod made to replace one that went
(evicted, or lost with its node) binds within 10 s of controller time, unless the
Deployment shrank and deleted it first (it then needed no room). Room is ready at once or
not at all here: kube-scheduler's stand-in binds a pod in its next tick (0.5 s) when a
Ready node has room, while a node launched for it takes 30 s to register.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

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
from tests.support.http_faults import HttpFaultProxy
from tests.support.kube_api import KubeApi

KILLS = int(os.environ.get("SCALER_CHAOS_KILLS", "50"))
DISRUPTED = "karpenter.sh/disrupted"
ROOM_READY = ctl(10)  # a replaced pod binds within this (wall seconds) when room was ready
MAX_JOURNAL = 50_000
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


class StepCounter:
    """How many calls of each step the API stand-in and the EC2 proxy have seen, read
    incrementally (their request logs only grow)."""

    def __init__(self, kube: KubeApi, ec2: HttpFaultProxy) -> None:
        self.kube, self.ec2 = kube, ec2
        self._kube_at = self._ec2_at = 0
        self.counts = dict.fromkeys(STEPS, 0)

    def update(self) -> dict[str, int]:
        kube, ec2 = self.kube.requests[self._kube_at:], self.ec2.requests[self._ec2_at:]
        self._kube_at += len(kube)
        self._ec2_at += len(ec2)
        for step, (where, method, part) in STEPS.items():
            if where == "kube":
                self.counts[step] += sum(1 for r in kube if r.method == method and part in r.path)
            else:
                self.counts[step] += sum(1 for r in ec2 if part.encode() in r.body)
        return dict(self.counts)


class WatchedCluster(ClusterSim):
    """The cluster simulator, plus when each replacement pod that went unbound went, and a
    journal of what changed each tick (what a failure message shows)."""

    def __init__(self, api: KubeApi, **kw: Any) -> None:
        super().__init__(api, **kw)
        self.began = time.monotonic()
        self.gone: dict[str, float] = {}  # replacement pods deleted before they bound
        self.journal: list[tuple[float, str]] = []
        self._seen: dict[str, str] = {}

    def note(self, what: str) -> None:
        if len(self.journal) < MAX_JOURNAL:
            self.journal.append((time.monotonic() - self.began, what))

    def step(self) -> None:
        super().step()
        now = time.monotonic()
        state: dict[str, str] = {}
        for p in self.api.objects("v1", "pods"):
            state[f"pod {p['metadata']['name']}"] = p["spec"].get("nodeName") or "pending"
        for n in self.api.objects("v1", "nodes"):
            taints = [t.get("key", "") for t in (n.get("spec") or {}).get("taints") or ()]
            cpu = (n.get("status") or {}).get("allocatable", {}).get("cpu")
            state[f"node {n['metadata']['name']}"] = f"cpu {cpu} taints {taints}"
        for c in self.api.objects(NC, "nodeclaims"):
            status = c.get("status") or {}
            state[f"claim {c['metadata']['name']}"] = (
                f"{status.get('instanceType')} {status.get('providerID', '')[-8:]} "
                f"node {status.get('nodeName', '')} replaces "
                f"{(c['metadata'].get('labels') or {}).get('scaler.dev/replaces', '')}")
        for key in sorted(set(self._seen) | set(state)):
            if self._seen.get(key) != state.get(key):
                self.note(f"{key}: {self._seen.get(key, 'new')} -> {state.get(key, 'gone')}")
                name = key.removeprefix("pod ")
                if key not in state and name in self.replacements \
                        and self.replacements[name][1] is None:
                    self.gone[name] = now
        self._seen = state

    def waits(self) -> dict[str, float]:
        """Replacement pod -> wall seconds it waited for room (until bound, deleted, or now)."""
        now = time.monotonic()
        return {name: (bound or self.gone.get(name) or now) - made
                for name, (made, bound) in self.replacements.items() if made is not None}

    def around(self, name: str) -> str:
        made = (self.replacements[name][0] or 0.0) - self.began
        return "\n".join(f"  {t * SCALE:7.1f}s {what}" for t, what in self.journal
                         if made - ctl(60) <= t <= made + ctl(60))


def test_kill_9_at_every_step_leaks_nothing_and_doubles_nothing(
        kube_api: KubeApi, world: World, rig: Callable[..., Scaler],
        cluster: Callable[..., ClusterSim], ec2_proxy: HttpFaultProxy,
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(15)
    # Each restart reads its modules' bytecode as an installed controller does (CI writes it;
    # a PYTHONDONTWRITEBYTECODE environment would recompile them at every start).
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    # No faults: it shows the EC2 calls, and replays moto's slow catalogue answers so that
    # each restart is not spent re-reading them (the spot prices asked "from now" too).
    for action in (b"DescribeInstanceTypes", b"DescribeInstanceTypeOfferings",
                   b"DescribeSpotPriceHistory", b"DescribeImages"):
        ec2_proxy.memo(b"Action=" + action + b"&", ignore=(b"StartTime",))
    sim = cluster(WatchedCluster)
    assert isinstance(sim, WatchedCluster)
    scaler = rig(nodepool(after=0), aws_url=ec2_proxy.url)
    steps = StepCounter(kube_api, ec2_proxy)
    stop = threading.Event()

    def workload() -> None:  # grow and shrink, so every step keeps happening
        for i in range(10_000):
            sim.deploy(Deployment("web", replicas=(7, 2, 5, 1)[i % 4], cpu="600m"))
            if stop.wait(ctl(rng.uniform(15, 40))):
                return

    try:
        threading.Thread(target=workload, daemon=True).start()
        landed: dict[str, int] = {}
        after_step = 0
        began = time.monotonic()
        load_before = os.getloadavg()[0]
        for _ in range(KILLS):
            # The 1st to 4th step call after the restart (so that work moves on between
            # kills), then a random instant.
            wanted = rng.randint(1, 4)
            before = steps.update()
            deadline = time.monotonic() + ctl(300)  # a restart takes seconds under load
            hit: dict[str, int] = {}
            while sum(hit.values()) < wanted and time.monotonic() < deadline:
                time.sleep(0.01)
                now = steps.update()
                hit = {s: now[s] - before[s] for s in STEPS if now[s] > before[s]}
            if hit:
                after_step += 1
            for s, n in hit.items():  # the step calls between this restart and this kill
                landed[s] = landed.get(s, 0) + n
            last = ", ".join(sorted(hit))
            time.sleep(rng.uniform(0, 0.03))
            scaler.kill()
            sim.note(f"scaler killed after {last}")
            doubles = {k: v for k, v in launches_per_claim(world).items() if v > 1}
            assert not doubles, (last, doubles)
            scaler.start()
        kills_took = time.monotonic() - began
        load = (load_before + os.getloadavg()[0]) / 2
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
        with sim.lock:
            waits = sim.waits()
        late = {k: round(v * SCALE, 1) for k, v in waits.items() if v > ROOM_READY}
        doubles = {k: v for k, v in launches_per_claim(world).items() if v > 1}
        print(f"\n[crash] {KILLS} kill -9s in {kills_took:.0f}s wall (load average "
              f"{load:.1f}), {after_step} after 1-4 step calls; the step calls the kills "
              "interrupted: " + ", ".join(f"{k} {v}" for k, v in sorted(landed.items()))
              + f"; instances launched {len(launches_per_claim(world))}, double launches "
              f"{len(doubles)}; leaked instances 0, cordoned nodes 0 after restart; pods "
              f"replaced {len(waits)} ({len(sim.gone)} deleted by a scale-down before "
              f"binding), longest wait for room "
              f"{max(waits.values(), default=0.0) * SCALE:.1f}s, waited for room {len(late)}")
        assert after_step >= KILLS * 0.9
        if KILLS >= 50:  # a full run interrupts (nearly) every kind of step
            assert len(landed) >= len(STEPS) - 2, landed
        assert not doubles
        assert not late, (late, "\n".join(f"{name}:\n{sim.around(name)}" for name in late))
        assert not sim.errors, sim.errors
    finally:
        stop.set()
