"""Kubernetes Events for scaler's decisions, with the reasons a Karpenter user knows.

Events go through core/v1 (every cluster serves it; kubectl describe shows them). Events on
cluster-scoped objects (nodes, node claims) go to the `default` namespace, as kubectl and
Karpenter do. The same (object, reason, message) is sent once per `dedupe_seconds`, so a
pod that stays unschedulable does not write an Event every pass. Only the leader speaks;
dry-run still emits them (that is how it shows what it would do).

Writes go through a bounded queue and a worker thread, as client-go's broadcaster does: a
pass that nominates a thousand pods does not wait for a thousand POSTs. When the queue is
full, events are dropped (and counted); `flush()` waits for the queue to drain.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Final

from scaler.adapters.kubernetes.client import Kube, KubeApiError, object_path
from scaler.ports.cluster import ObjectRef
from scaler.ports.fence import Fence
from scaler.times import now_rfc3339

log = logging.getLogger(__name__)

NORMAL: Final = "Normal"
WARNING: Final = "Warning"

# Karpenter's reason for a pod's nomination (the loop names the others where it decides).
NOMINATED: Final = "Nominated"


class EventRecorder:
    def __init__(self, kube: Kube, fence: Fence, *, component: str = "scaler",
                 instance: str = "", dedupe_seconds: float = 600.0,
                 clock: Callable[[], float] = time.monotonic,
                 queue_size: int = 10_000) -> None:
        self.kube = kube
        self.fence = fence
        self.component = component
        self.instance = instance or component
        self.dedupe_seconds = dedupe_seconds
        self.clock = clock
        self.dropped = 0
        self._sent: dict[tuple[ObjectRef, str, str], float] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, dict[str, object], str]] = queue.Queue(queue_size)
        self._worker = threading.Thread(target=self._drain, daemon=True, name="events")
        self._worker.start()

    def _drain(self) -> None:
        while True:
            namespace, body, what = self._queue.get()
            try:
                self.kube.request("POST", object_path("v1", "events", namespace), body=body,
                                  what=what)
            except KubeApiError as e:
                log.warning("%s", e)
            finally:
                self._queue.task_done()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was written (or failed); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def emit(self, ref: ObjectRef, type_: str, reason: str, message: str) -> bool:
        """Queue the event; False when it was a repeat, this replica is not leading, or the
        queue is full (an event is never worth failing or slowing a decision for)."""
        log.info("event %s %s %s: %s", ref, type_, reason, message)
        if not self.fence.leading():
            return False
        key = (ref, reason, message)
        now = self.clock()
        with self._lock:
            last = self._sent.get(key)
            if last is not None and now - last < self.dedupe_seconds:
                return False
            self._sent[key] = now
            if len(self._sent) > 10_000:  # forget the oldest half
                for k, _ in sorted(self._sent.items(), key=lambda kv: kv[1])[:5_000]:
                    del self._sent[k]
        namespace = ref.namespace or "default"
        stamp = now_rfc3339()
        involved = {"kind": ref.kind, "name": ref.name, "apiVersion": ref.api_version}
        if ref.namespace:
            involved["namespace"] = ref.namespace
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{ref.name}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": involved,
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "reportingInstance": self.instance,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        try:
            self._queue.put_nowait((namespace, body, f"create event {reason} on {ref}"))
        except queue.Full:
            self.dropped += 1
            return False
        return True
