"""The rest of a cluster around `scaler run`, for chaos tests: test support, not product code.

`ClusterSim` runs one bounded loop in the test process, against the Kubernetes API stand-in
(tests/support/kube_api.py) in-process, and plays the parts a real cluster has:

* the ReplicaSet controller: each `Deployment` keeps `replicas` pods (an evicted or deleted
  one is made again, Pending);
* the kubelet: `register_after` seconds after a NodeClaim has a providerID (and while its
  instance is alive, when `instance_alive` is given) a Ready Node with the claim's labels
  and allocatable registers, once per instance; an instance that stops makes its node
  NotReady; a node whose instance is gone never comes back;
* kube-scheduler: Pending pods bind to Ready, schedulable nodes with room that carry no
  NoSchedule/NoExecute taint, honouring a zone spread (maxSkew 1, DoNotSchedule, every
  node's zone a domain, NotReady ones too) when the Deployment asks; the pod turns Running;
* the taint manager: pods on a node with a NoExecute taint are deleted; pod garbage
  collection: pods on a node that is gone are deleted;
* optionally a hostile controller that taints every new scaler node `NoExecute`.

It also measures: the most nodes seen at once, and a node-count history.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support.kube_api import KubeApi

NC = "scaler.dev/v1alpha1"
ZONE = "topology.kubernetes.io/zone"
NODEPOOL = "karpenter.sh/nodepool"
HOSTILE = {"key": "test", "value": "true", "effect": "NoExecute"}
MAX_TICKS = 100_000


@dataclass
class Deployment:
    name: str
    replicas: int
    cpu: str = "500m"
    spread_zones: bool = False
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def selector(self) -> dict[str, str]:
        return {"app": self.name, **self.labels}


def _cpu_m(q: str) -> int:
    return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)


def _ready(node: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or ())


class ClusterSim:
    def __init__(self, api: KubeApi, *, register_after: float = 1.0, tick: float = 0.05,
                 hostile: bool = False,
                 instance_alive: Callable[[str], bool | None] | None = None,
                 alive_every: float = 0.5) -> None:
        self.api = api
        self.register_after = register_after
        self.tick = tick
        self.hostile = hostile
        # providerID -> True (running), False (stopped: NotReady), None (gone)
        self.instance_alive = instance_alive
        self.alive_every = alive_every
        self.deployments: dict[str, Deployment] = {}
        self.max_nodes = 0
        self.history: list[tuple[float, int]] = []
        self.errors: list[str] = []
        self._seen_claims: dict[str, float] = {}  # providerID -> first seen launched
        self._registered: set[str] = set()  # providerIDs whose node registered once
        self._alive: dict[str, bool | None] = {}
        self._alive_at = 0.0
        self._names = itertools.count(1)
        # Pods made to replace one that went (evicted, or lost with its node), not for a
        # scale-up: name -> (made at, bound at or None).
        self.replacements: dict[str, list[float | None]] = {}
        self._wanted: dict[str, int] = {}
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._thread: threading.Thread | None = None
        self.lock = threading.Lock()  # held for each tick: tests read a consistent state

    # -- control ---------------------------------------------------------------------

    def deploy(self, dep: Deployment) -> None:
        with self.lock:
            self.deployments[dep.name] = dep

    def start(self) -> ClusterSim:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        for _ in range(MAX_TICKS):
            if self._stop.wait(self.tick):
                return
            try:
                with self.lock:
                    self.step()
            except Exception as e:  # keep playing; the test reads `errors`
                self.errors.append(repr(e))

    # -- what tests read -----------------------------------------------------------------

    def scaler_nodes(self) -> list[dict[str, Any]]:
        return [n for n in self.api.objects("v1", "nodes")
                if NODEPOOL in (n["metadata"].get("labels") or {})]

    def pods_of(self, dep: str) -> list[dict[str, Any]]:
        return [p for p in self.api.objects("v1", "pods")
                if (p["metadata"].get("labels") or {}).get("app") == dep]

    def running(self, dep: str) -> int:
        nodes = {n["metadata"]["name"]: n for n in self.api.objects("v1", "nodes")}
        return sum(1 for p in self.pods_of(dep)
                   if (p.get("status") or {}).get("phase") == "Running"
                   and p["spec"].get("nodeName") in nodes
                   and _ready(nodes[p["spec"]["nodeName"]]))

    def all_running(self) -> bool:
        return all(self.running(d.name) >= d.replicas for d in self.deployments.values())

    # -- one tick ------------------------------------------------------------------------

    def step(self) -> None:
        api = self.api
        now = time.monotonic()
        self._refresh_alive(now)
        self._kubelet(now)
        nodes = {n["metadata"]["name"]: n for n in api.objects("v1", "nodes")}
        if self.hostile:
            for n in nodes.values():
                if NODEPOOL not in (n["metadata"].get("labels") or {}):
                    continue
                taints = (n.get("spec") or {}).get("taints") or []
                if HOSTILE not in taints:
                    n.setdefault("spec", {})["taints"] = [*taints, HOSTILE]
                    api.put("v1", "nodes", n)
        pods = api.objects("v1", "pods")
        for p in pods:  # taint manager and pod GC
            node = p["spec"].get("nodeName")
            if not node:
                continue
            n = nodes.get(node)
            if n is None or any(t.get("effect") == "NoExecute"
                                for t in (n.get("spec") or {}).get("taints") or ()):
                api.delete("v1", "pods", p["metadata"]["name"], p["metadata"]["namespace"])
        pods = api.objects("v1", "pods")
        for dep in self.deployments.values():  # ReplicaSet controller
            have = [p for p in pods if (p["metadata"].get("labels") or {}).get("app") == dep.name]
            grown = max(0, dep.replicas - self._wanted.get(dep.name, 0))
            self._wanted[dep.name] = dep.replicas
            surplus = sorted(have, key=lambda p: (bool(p["spec"].get("nodeName")),
                                                  p["metadata"]["name"]))
            for p in surplus[:max(0, len(have) - dep.replicas)]:  # scale-down: pending first
                api.delete("v1", "pods", p["metadata"]["name"], p["metadata"]["namespace"])
            for i in range(dep.replicas - len(have)):
                name = self._new_pod(dep)
                if i >= grown:
                    self.replacements[name] = [now, None]
        self._schedule(nodes)
        count = len([n for n in nodes.values()
                     if NODEPOOL in (n["metadata"].get("labels") or {})])
        self.max_nodes = max(self.max_nodes, count)
        if not self.history or self.history[-1][1] != count:
            self.history.append((now, count))

    def _refresh_alive(self, now: float) -> None:
        if self.instance_alive is None or now - self._alive_at < self.alive_every:
            return
        self._alive_at = now
        for c in self.api.objects(NC, "nodeclaims"):
            pid = (c.get("status") or {}).get("providerID")
            if pid:
                self._alive[pid] = self.instance_alive(pid)

    def _kubelet(self, now: float) -> None:
        api = self.api
        for c in api.objects(NC, "nodeclaims"):
            status = c.get("status") or {}
            pid = status.get("providerID")
            if not pid or pid in self._registered:
                continue
            first = self._seen_claims.setdefault(pid, now)
            if now - first < self.register_after:
                continue
            if self.instance_alive is not None and self._alive.get(pid, True) is not True:
                continue
            self._registered.add(pid)
            name = f"ip-10-0-{len(self._registered) // 250}-{len(self._registered) % 250}" \
                   ".compute.internal"
            labels = dict(c["metadata"].get("labels") or {})
            labels["kubernetes.io/hostname"] = name
            if status.get("zone"):
                labels[ZONE] = status["zone"]
            if status.get("instanceType"):
                labels["node.kubernetes.io/instance-type"] = status["instanceType"]
            api.put("v1", "nodes", {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": labels},
                "spec": {"providerID": pid},
                "status": {"allocatable": status.get("allocatable") or {},
                           "conditions": [{"type": "Ready", "status": "True"}]},
            })
        if self.instance_alive is None:
            return
        for n in api.objects("v1", "nodes"):
            pid = (n.get("spec") or {}).get("providerID")
            alive = self._alive.get(pid, True) if pid else True
            want = "True" if alive else "False"
            conds = (n.get("status") or {}).get("conditions") or []
            if [c.get("status") for c in conds if c.get("type") == "Ready"] != [want]:
                n["status"]["conditions"] = [{"type": "Ready", "status": want}]
                api.put("v1", "nodes", n)

    def _new_pod(self, dep: Deployment) -> str:
        name = f"{dep.name}-{next(self._names):05d}"
        self.api.put("v1", "pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": dep.selector,
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                              "name": f"{dep.name}-rs", "uid": "u",
                                              "controller": True}]},
            "spec": {
                "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "c", "image": "x", "resources": {
                    "requests": {"cpu": dep.cpu, "memory": "256Mi"}}}],
                **({"topologySpreadConstraints": [{
                    "maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": dep.selector}}]}
                   if dep.spread_zones else {}),
            },
            "status": {"phase": "Pending"},
        })
        return name

    def _schedule(self, nodes: dict[str, dict[str, Any]]) -> None:
        pods = self.api.objects("v1", "pods")
        used: dict[str, int] = {}
        for p in pods:
            if p["spec"].get("nodeName"):
                used[p["spec"]["nodeName"]] = used.get(p["spec"]["nodeName"], 0) + sum(
                    _cpu_m(c["resources"]["requests"]["cpu"]) for c in p["spec"]["containers"])

        def usable(n: dict[str, Any]) -> bool:
            spec = n.get("spec") or {}
            return _ready(n) and not spec.get("unschedulable") and not any(
                t.get("effect") in ("NoSchedule", "NoExecute") for t in spec.get("taints") or ())

        for p in pods:
            if p["spec"].get("nodeName"):
                continue
            need = sum(_cpu_m(c["resources"]["requests"]["cpu"]) for c in p["spec"]["containers"])
            app = (p["metadata"].get("labels") or {}).get("app", "")
            dep = self.deployments.get(app)
            fits = [n for n in nodes.values() if usable(n) and _cpu_m(str(
                (n.get("status") or {}).get("allocatable", {}).get("cpu", "0"))) - used.get(
                    n["metadata"]["name"], 0) >= need]
            if dep is not None and dep.spread_zones:
                fits = self._spread(fits, dep, nodes)
            if not fits:
                continue
            target = sorted(fits, key=lambda n: n["metadata"]["name"])[0]
            name = target["metadata"]["name"]
            p["spec"]["nodeName"] = name
            p["status"] = {"phase": "Running"}
            self.api.put("v1", "pods", p)
            if p["metadata"]["name"] in self.replacements:
                self.replacements[p["metadata"]["name"]][1] = time.monotonic()
            used[name] = used.get(name, 0) + need

    def _spread(self, fits: list[dict[str, Any]], dep: Deployment,
                nodes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """maxSkew 1 over the zones of the nodes pods may go to. kube-scheduler counts every
        node's zone as a domain, NotReady or tainted ones too (nodeTaintsPolicy defaults to
        Ignore), with the pods bound there: a failed zone whose nodes are still there holds
        the others to its count."""
        zones = {(n["metadata"].get("labels") or {}).get(ZONE) for n in nodes.values()
                 if NODEPOOL in (n["metadata"].get("labels") or {})}
        zones.discard(None)
        count = dict.fromkeys(zones, 0)
        for p in self.pods_of(dep.name):
            node = nodes.get(p["spec"].get("nodeName") or "")
            z = (node["metadata"].get("labels") or {}).get(ZONE) if node else None
            if z in count:
                count[z] += 1
        if not count:
            return fits
        low = min(count.values())
        return [n for n in fits
                if count.get((n["metadata"].get("labels") or {}).get(ZONE), low + 99) + 1
                - low <= 1]
