"""The cluster port on the Kubernetes API: reads from the cache, writes through the fence.

Nodes register themselves (the kubelet creates them) and kube-scheduler binds pods, so
`add_node` and `bind` only record the decision: `bind` is a Nominated event. Node claims
that launched but have no node yet count as nodes in `snapshot()`, so the pods nominated
to them are not provisioned for twice (Karpenter's in-flight nodes).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from scaler.adapters.kubernetes import nodeclaims as nc
from scaler.adapters.kubernetes.cache import NODECLAIMS, NODES, ClusterCache
from scaler.adapters.kubernetes.client import MERGE_PATCH, Kube, KubeApiError, object_path
from scaler.adapters.kubernetes.events import NOMINATED, NORMAL, EventRecorder
from scaler.core.model import ANNOTATION_DO_NOT_DISRUPT, LABEL_HOSTNAME, Node, Snapshot, Taint
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.ports.cloud import CloudNode
from scaler.ports.cluster import (
    LABEL_REPLACES,
    ClaimView,
    DisruptionBlockedError,
    DrainResult,
    ObjectRef,
)
from scaler.ports.fence import Fence
from scaler.times import now_rfc3339, parse_rfc3339

log = logging.getLogger(__name__)

# Karpenter's annotation for the claim a node or pod belongs to, and its disruption taint.
DISRUPTED_TAINT: Final = Taint("karpenter.sh/disrupted", "NoSchedule")
MIRROR_POD: Final = "kubernetes.io/config.mirror"
NODEPOOL_GROUP_VERSION: Final = "karpenter.sh/v1"


def _epoch(stamp: object) -> float:
    if not isinstance(stamp, str) or not stamp:
        return time.time()
    try:
        return parse_rfc3339(stamp).timestamp()
    except ValueError:
        return time.time()


def claim_view(obj: Mapping[str, Any]) -> ClaimView:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    price = status.get("pricePerHour")
    try:
        price_f = float(price) if price is not None else 0.0
    except (TypeError, ValueError):
        price_f = 0.0
    return ClaimView(
        name=str(meta.get("name", "")),
        node_pool=str(spec.get("nodePool", "")),
        created_at=_epoch(meta.get("creationTimestamp")),
        provider_id=str(status.get("providerID") or ""),
        node_name=str(status.get("nodeName") or ""),
        instance_type=str(status.get("instanceType") or ""),
        zone=str(status.get("zone") or ""),
        capacity_type=str(status.get("capacityType") or ""),
        price_per_hour=price_f,
        launched=nc.is_true(obj, nc.LAUNCHED),
        registered=nc.is_true(obj, nc.REGISTERED),
        initialized=nc.is_true(obj, nc.INITIALIZED),
        drifted=nc.is_true(obj, nc.DRIFTED),
        deleting=bool(meta.get("deletionTimestamp")),
        deleted_at=(_epoch(meta.get("deletionTimestamp")) if meta.get("deletionTimestamp")
                    else None),
        replaces=str((meta.get("labels") or {}).get(LABEL_REPLACES) or ""),
    )


def _ready(node: Mapping[str, Any]) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or ():
        if isinstance(cond, Mapping) and cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


class KubernetesCluster:
    def __init__(self, kube: Kube, cache: ClusterCache, fence: Fence, events: EventRecorder,
                 *, eviction_backoff: float = 1.0, eviction_backoff_cap: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.kube = kube
        self.cache = cache
        self.fence = fence
        self.events = events
        self.eviction_backoff = eviction_backoff
        self.eviction_backoff_cap = eviction_backoff_cap
        self.sleep = sleep

    # -- reads ---------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        snap = self.cache.snapshot()
        inflight = []
        names = {n.name for n in snap.nodes}
        for obj in self.cache.objects(NODECLAIMS):
            view = claim_view(obj)
            if view.node_name or not view.launched or view.name in names:
                continue
            node = self._inflight_node(obj)
            if node is not None:
                inflight.append(node)
        if not inflight:
            return snap
        return Snapshot(nodes=snap.nodes + tuple(inflight), pods=snap.pods,
                        daemonsets=snap.daemonsets,
                        pod_disruption_budgets=snap.pod_disruption_budgets)

    @staticmethod
    def _inflight_node(obj: Mapping[str, Any]) -> Node | None:
        meta = obj.get("metadata") or {}
        status = obj.get("status") or {}
        try:
            allocatable = Resources.parse(status.get("allocatable") or {})
        except Exception:
            return None
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        labels[LABEL_HOSTNAME] = str(meta.get("name"))
        taints = tuple(Taint(str(t.get("key")), str(t.get("effect")), str(t.get("value") or ""))
                       for t in (obj.get("spec") or {}).get("taints") or ())
        return Node(name=str(meta.get("name")), labels=labels, allocatable=allocatable,
                    taints=taints, source="nodeclaim")

    def claims(self) -> Sequence[ClaimView]:
        return [claim_view(o) for o in self.cache.objects(NODECLAIMS)]

    def node_for_provider_id(self, provider_id: str) -> tuple[str, bool] | None:
        node = self.cache.node_for_provider_id(provider_id)
        if node is None:
            return None
        return str((node.get("metadata") or {}).get("name")), _ready(node)

    # -- decisions that only speak -------------------------------------------------------

    def event(self, ref: ObjectRef, type_: str, reason: str, message: str) -> None:
        self.events.emit(ref, type_, reason, message)

    def add_node(self, node: Node) -> None:
        log.debug("node %s will register itself", node.name)

    def bind(self, pod_key: str, node_name: str) -> None:
        """kube-scheduler binds; scaler nominates (the pod's Event says where it will go)."""
        self.events.emit(ObjectRef.pod(pod_key), NORMAL, NOMINATED,
                         f"Pod should schedule on: nodeclaim/{node_name}"
                         if self.cache.get(NODECLAIMS, node_name) is not None
                         else f"Pod should schedule on: node/{node_name}")

    # -- writes (each passes the fence first) ---------------------------------------------

    def _write(self, action: str, method: str, path: str, body: Any = None,
               content_type: str = "application/json") -> Mapping[str, Any] | None:
        if not self.fence.allow(action):  # dry run (the fence logged it)
            return None
        return self.kube.request(method, path, body=body, content_type=content_type,
                                 what=action)

    def create_claim(self, name: str, node_pool: str, requirements: Requirements,
                     taints: Sequence[Taint], requests: Resources,
                     labels: Mapping[str, str],
                     annotations: Mapping[str, str] | None = None) -> None:
        doc = nc.nodeclaim_doc(name, node_pool, requirements, taints, requests, labels,
                               annotations)
        doc["status"] = {"conditions": [nc.condition(nc.LAUNCHED, None, "Launching")]}
        created = self._write(f"create nodeclaim {name}", "POST",
                              object_path(nc.GROUP_VERSION, nc.PLURAL), doc)
        if created is not None:
            # The main resource ignores status (status subresource): set it there.
            self._write(f"update nodeclaim {name} status", "PATCH",
                        object_path(nc.GROUP_VERSION, nc.PLURAL, name=name, subresource="status"),
                        {"status": doc["status"]}, MERGE_PATCH)
            self.cache.apply(NODECLAIMS, "ADDED", created)

    def _patch_claim_status(self, name: str, status: Mapping[str, Any],
                            *conds: Mapping[str, Any]) -> None:
        current = self.cache.get(NODECLAIMS, name) or {}
        body = {"status": {**status, "conditions": nc.with_conditions(current, *conds)}}
        updated = self._write(
            f"update nodeclaim {name} status", "PATCH",
            object_path(nc.GROUP_VERSION, nc.PLURAL, name=name, subresource="status"),
            body, MERGE_PATCH)
        if updated:
            self.cache.apply(NODECLAIMS, "MODIFIED", updated)

    def claim_launched(self, name: str, node: CloudNode, labels: Mapping[str, str],
                       allocatable: Resources) -> None:
        # Labels first: a claim that says Launched always has them, so the next pass can
        # count it as an in-flight node.
        self._write(f"label nodeclaim {name}", "PATCH",
                    object_path(nc.GROUP_VERSION, nc.PLURAL, name=name),
                    {"metadata": {"labels": dict(labels)}}, MERGE_PATCH)
        current = self.cache.get(NODECLAIMS, name)
        if current is not None:
            meta = dict(current.get("metadata") or {})
            meta["labels"] = {**(meta.get("labels") or {}), **labels}
            self.cache.apply(NODECLAIMS, "MODIFIED", {**current, "metadata": meta})
        self._patch_claim_status(
            name,
            {"providerID": node.provider_id, "instanceType": node.instance_type,
             "zone": node.zone, "capacityType": node.capacity_type,
             "pricePerHour": f"{node.price_per_hour:.6f}",
             "allocatable": nc.resources_doc(allocatable)},
            nc.condition(nc.LAUNCHED, True, "Launched", f"{node.instance_type} in {node.zone}"),
            nc.condition(nc.REGISTERED, None, "AwaitingRegistration"),
            nc.condition(nc.INITIALIZED, None, "AwaitingRegistration"),
        )

    def claim_registered(self, name: str, node_name: str, initialized: bool) -> None:
        claim = self.cache.get(NODECLAIMS, name) or {}
        if not nc.is_true(claim, nc.REGISTERED):
            self._sync_node(node_name, claim)
        self._patch_claim_status(
            name, {"nodeName": node_name},
            nc.condition(nc.REGISTERED, True, "Registered", f"node {node_name}"),
            nc.condition(nc.INITIALIZED, initialized,
                         "Initialized" if initialized else "NodeNotReady"),
        )

    def claim_drifted(self, name: str, reason: str | None) -> None:
        self._patch_claim_status(
            name, {},
            nc.condition(nc.DRIFTED, reason is not None,
                         "Drifted" if reason is not None else "NotDrifted", reason or ""))

    def _sync_node(self, node_name: str, claim: Mapping[str, Any]) -> None:
        """Karpenter's registration: the node takes the claim's labels (NodePool, capacity
        type, the NodePool's own labels...), annotations (the NodePool template's) and
        taints, which the kubelet does not know."""
        node = self.cache.get(NODES, node_name) or {}
        have = (node.get("metadata") or {}).get("labels") or {}
        have_notes = (node.get("metadata") or {}).get("annotations") or {}
        notes = {k: v for k, v in ((claim.get("metadata") or {}).get("annotations") or {}).items()
                 if have_notes.get(k) != v}
        # The hostname is the kubelet's: the claim's (its own name, for topology while the
        # node is in flight) never replaces it.
        labels = {k: v for k, v in ((claim.get("metadata") or {}).get("labels") or {}).items()
                  if have.get(k) != v and k != LABEL_HOSTNAME}
        taints = [dict(t) for t in (node.get("spec") or {}).get("taints") or ()]
        keys = {(t.get("key"), t.get("effect")) for t in taints}
        missing = [dict(t) for t in (claim.get("spec") or {}).get("taints") or ()
                   if (t.get("key"), t.get("effect")) not in keys]
        patch: dict[str, Any] = {}
        if labels or notes:
            patch["metadata"] = {**({"labels": labels} if labels else {}),
                                 **({"annotations": notes} if notes else {})}
        if missing:
            patch["spec"] = {"taints": taints + missing}
        if patch:
            self._write(f"label node {node_name} from nodeclaim "
                        f"{(claim.get('metadata') or {}).get('name')}", "PATCH",
                        object_path("v1", "nodes", name=node_name), patch, MERGE_PATCH)

    def delete_claim(self, name: str) -> None:
        """Delete the claim, then release its termination finalizer (its node and instance
        are gone by now). A crash in between leaves a claim marked for deletion, which the
        lifecycle pass terminates and releases."""
        path = object_path(nc.GROUP_VERSION, nc.PLURAL, name=name)
        try:
            deleted = self._write(f"delete nodeclaim {name}", "DELETE", path)
            if deleted is None:
                return
            finalizers = list((deleted.get("metadata") or {}).get("finalizers") or ())
            if nc.TERMINATION_FINALIZER in finalizers:
                finalizers.remove(nc.TERMINATION_FINALIZER)
                self._write(f"release nodeclaim {name}", "PATCH", path,
                            {"metadata": {"finalizers": finalizers or None}}, MERGE_PATCH)
        except KubeApiError as e:
            if e.status != 404:
                raise
        self.cache.apply(NODECLAIMS, "DELETED", {"metadata": {"name": name}})

    def cordon(self, node_name: str) -> None:
        self._write(f"cordon node {node_name}", "PATCH",
                    object_path("v1", "nodes", name=node_name),
                    {"spec": {"unschedulable": True}}, MERGE_PATCH)

    def _taints(self, node_name: str) -> list[dict[str, Any]]:
        node = self.cache.get(NODES, node_name) or {}
        return [dict(t) for t in (node.get("spec") or {}).get("taints") or ()]

    def taint(self, node_name: str, taint: Taint) -> None:
        taints = [t for t in self._taints(node_name) if t.get("key") != taint.key]
        taints.append({"key": taint.key, "effect": taint.effect,
                       **({"value": taint.value} if taint.value else {})})
        self._write(f"taint node {node_name} {taint}", "PATCH",
                    object_path("v1", "nodes", name=node_name),
                    {"spec": {"taints": taints}}, MERGE_PATCH)

    def untaint(self, node_name: str, key: str) -> None:
        taints = [t for t in self._taints(node_name) if t.get("key") != key]
        self._write(f"remove taint {key} from node {node_name}", "PATCH",
                    object_path("v1", "nodes", name=node_name),
                    {"spec": {"taints": taints or None, "unschedulable": None}}, MERGE_PATCH)

    def evict(self, pod_key: str) -> None:
        """policy/v1 Eviction; DisruptionBlockedError when a PodDisruptionBudget says no."""
        ns, _, name = pod_key.partition("/")
        body = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": name, "namespace": ns}}
        try:
            self._write(f"evict pod {pod_key}", "POST",
                        object_path("v1", "pods", ns, name, "eviction"), body)
        except KubeApiError as e:
            if e.status == 429 and e.retry_after is not None:
                # The API server shedding load, not a budget: the drain tries again later
                # (the client holds every call until the Retry-After is over).
                raise DisruptionBlockedError(
                    f"evicting pod {pod_key}: the API server is busy, retry after "
                    f"{e.retry_after:.0f}s") from None
            if e.status == 429:
                why = "; ".join(e.causes) or e.message
                raise DisruptionBlockedError(f"evicting pod {pod_key}: {why}") from None
            if e.status == 404:  # already gone
                return
            raise

    def node_pool_condition(self, name: str, condition: Mapping[str, str]) -> None:
        """Karpenter's NodePool status condition, through the status subresource. A NodePool
        not in the cluster (the bundle lives in Git only) or a cluster without Karpenter's
        CRD has no status to write: logged, not an error."""
        path = object_path(NODEPOOL_GROUP_VERSION, "nodepools", name=name)
        try:
            current = self.kube.request("GET", path, what=f"get nodepool {name}")
        except KubeApiError as e:
            if e.status == 404:
                log.info("nodepool %s is not in the cluster: condition %s=%s not written",
                         name, condition.get("type"), condition.get("status"))
                return
            raise
        now = now_rfc3339()
        new: dict[str, Any] = {**condition, "lastTransitionTime": now}
        generation = (current or {}).get("metadata", {}).get("generation")
        if isinstance(generation, int):
            new["observedGeneration"] = generation
        conditions = []
        for old in ((current or {}).get("status") or {}).get("conditions") or ():
            if not isinstance(old, Mapping) or old.get("type") != condition["type"]:
                conditions.append(old)
            elif old.get("status") == condition.get("status"):
                new["lastTransitionTime"] = old.get("lastTransitionTime", now)
        conditions.append(new)
        self._write(f"update nodepool {name} status ({condition['type']}="
                    f"{condition.get('status')}: {condition.get('reason')})", "PATCH",
                    object_path(NODEPOOL_GROUP_VERSION, "nodepools", name=name,
                                subresource="status"),
                    {"status": {"conditions": conditions}}, MERGE_PATCH)

    def delete_pod(self, pod_key: str) -> None:
        ns, _, name = pod_key.partition("/")
        try:
            self._write(f"delete pod {pod_key}", "DELETE", object_path("v1", "pods", ns, name))
        except KubeApiError as e:
            if e.status != 404:  # already gone
                raise

    def drain(self, node_name: str, timeout: float) -> DrainResult:
        """Evict every pod but DaemonSet and mirror pods; retry budget refusals with backoff
        until `timeout` seconds have passed. A `karpenter.sh/do-not-disrupt` pod is not
        evicted but holds the drain (Karpenter's drain waits on it the same way)."""
        deadline = time.monotonic() + timeout
        evicted: list[str] = []
        blocked: dict[str, str] = {}
        delay = self.eviction_backoff
        while True:
            blocked = {}
            for pod in self.cache.pods_on(node_name):
                meta = pod.get("metadata") or {}
                owners = meta.get("ownerReferences") or ()
                if any(o.get("kind") == "DaemonSet" and o.get("controller") for o in owners):
                    continue
                if MIRROR_POD in (meta.get("annotations") or {}):
                    continue
                key = f"{meta.get('namespace')}/{meta.get('name')}"
                if key in evicted:
                    continue
                if (meta.get("annotations") or {}).get(ANNOTATION_DO_NOT_DISRUPT) == "true":
                    blocked[key] = f"pod {key} has {ANNOTATION_DO_NOT_DISRUPT}"
                    continue
                try:
                    self.evict(key)
                    evicted.append(key)
                except DisruptionBlockedError as e:
                    blocked[key] = str(e)
            if not blocked or time.monotonic() + delay > deadline:
                return DrainResult(tuple(evicted), blocked)
            self.sleep(delay * (0.75 + random.random() / 2))
            delay = min(self.eviction_backoff_cap, delay * 2)

    def delete_node(self, node_name: str) -> None:
        try:
            self._write(f"delete node {node_name}", "DELETE",
                        object_path("v1", "nodes", name=node_name))
        except KubeApiError as e:
            if e.status != 404:
                raise
