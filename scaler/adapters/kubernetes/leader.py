"""Leader election on a coordination.k8s.io/v1 Lease, the way client-go's leaderelection does.

The lock is written with `CoordinationV1Api` on an `ApiClient` of its own, so renewals never
queue behind the reflectors' lists on the main connection pool. A candidate:

* takes the Lease when it is free, expired (not renewed for `lease_duration` by the clock of
  the observer: the record must stay unchanged that long, so clock skew does not matter),
  or already its own; every write carries the resourceVersion read, so of two candidates
  racing for the same Lease one gets 409 Conflict and stays a follower;
* renews every `retry_period`; if no renewal succeeds for `renew_deadline`, it stops
  leading at once: `is_leader()` turns False before the next mutating call is fenced,
  then `on_stopped_leading` runs;
* on a graceful stop, releases the Lease (holder cleared, duration 1 s) so a standby takes
  over without waiting for it to expire.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s  # type: ignore[import-untyped]

from scaler.adapters.kubernetes.client import KubeApiError, api_error
from scaler.ports.fence import NotLeaderError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ElectionSettings:
    name: str = "scaler"
    namespace: str = "kube-system"
    identity: str = ""
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    request_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > self.retry_period > 0:
            raise ValueError("need lease duration > renew deadline > retry period > 0")


@dataclass(frozen=True)
class _Record:
    holder: str
    duration: float
    renew_time: datetime | None
    transitions: int


class LeaderElector:
    def __init__(self, configuration: Any, settings: ElectionSettings, *,
                 on_started_leading: Callable[[], None] | None = None,
                 on_stopped_leading: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.identity = settings.identity
        # Its own ApiClient: its own connection pool.
        self.api_client = k8s.ApiClient(configuration=configuration)
        self.api = k8s.CoordinationV1Api(self.api_client)
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.clock = clock
        self._leading = False
        self._renewed_at = 0.0  # monotonic time of our last successful write
        self._observed: _Record | None = None
        self._observed_at = 0.0  # when the record last changed, by our clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.attempts = 0  # finished acquire/renew attempts: 0 until the election answered

    # -- the fence's view ----------------------------------------------------------------

    def is_leader(self) -> bool:
        """True only while a renewal succeeded within the renew deadline."""
        with self._lock:
            return self._leading and (
                self.clock() - self._renewed_at < self.settings.renew_deadline)

    def check(self, action: str) -> None:
        if not self.is_leader():
            raise NotLeaderError(f"not the leader: refusing to {action}")

    # -- one attempt ---------------------------------------------------------------------

    def _read(self) -> Any | None:
        s = self.settings
        try:
            return self.api.read_namespaced_lease(s.name, s.namespace,
                                                  _request_timeout=s.request_timeout)
        except Exception as e:
            err = api_error(f"get lease {s.namespace}/{s.name}", e)
            if err.status == 404:
                return None
            raise err from None

    def _spec(self, acquire_time: datetime | None, transitions: int) -> Any:
        now = datetime.now(UTC)
        return k8s.V1LeaseSpec(
            holder_identity=self.identity,
            lease_duration_seconds=max(1, round(self.settings.lease_duration)),
            acquire_time=acquire_time or now,
            renew_time=now,
            lease_transitions=transitions,
        )

    def try_acquire_or_renew(self) -> bool:
        s = self.settings
        now = self.clock()
        lease = self._read()
        if lease is None:
            body = k8s.V1Lease(metadata=k8s.V1ObjectMeta(name=s.name, namespace=s.namespace),
                               spec=self._spec(None, 0))
            try:
                self.api.create_namespaced_lease(s.namespace, body,
                                                 _request_timeout=s.request_timeout)
            except Exception as e:
                err = api_error(f"create lease {s.namespace}/{s.name}", e)
                if err.status == 409:
                    return False
                raise err from None
            self._became(now)
            return True
        spec = lease.spec or k8s.V1LeaseSpec()
        record = _Record(spec.holder_identity or "", float(spec.lease_duration_seconds or 0),
                         spec.renew_time, int(spec.lease_transitions or 0))
        if record != self._observed:
            self._observed, self._observed_at = record, now
        mine = record.holder == self.identity
        free = not record.holder
        expired = now - self._observed_at >= max(record.duration, 1.0)
        if not (mine or free or expired):
            return False
        transitions = record.transitions if mine else record.transitions + 1
        acquire = spec.acquire_time if mine else None
        lease.spec = self._spec(acquire, transitions)
        try:
            self.api.replace_namespaced_lease(s.name, s.namespace, lease,
                                              _request_timeout=s.request_timeout)
        except Exception as e:
            err = api_error(f"update lease {s.namespace}/{s.name}", e)
            if err.status == 409:  # someone else wrote first
                return False
            raise err from None
        self._became(now)
        return True

    def _became(self, now: float) -> None:
        with self._lock:
            started = not self._leading
            self._leading = True
            self._renewed_at = now
        if started:
            log.info("became the leader (lease %s/%s, identity %s)", self.settings.namespace,
                     self.settings.name, self.identity)
            if self.on_started_leading:
                self.on_started_leading()

    def _lost(self, why: str) -> None:
        with self._lock:
            was = self._leading
            self._leading = False
        if was:
            log.warning("stopped leading: %s", why)
            if self.on_stopped_leading:
                self.on_stopped_leading()

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        s = self.settings
        while not self._stop.is_set():
            try:
                ok = self.try_acquire_or_renew()
            except KubeApiError as e:
                log.warning("%s", e)
                ok = False
            else:
                self.attempts += 1
            if not ok and self._leading:
                if self.clock() - self._renewed_at >= s.renew_deadline:
                    self._lost("could not renew the lease within the renew deadline")
                elif self._observed is not None and self._observed.holder not in (
                        "", self.identity):
                    self._lost(f"the lease is held by {self._observed.holder}")
            self._stop.wait(s.retry_period)

    def start(self) -> LeaderElector:
        self._thread = threading.Thread(target=self.run, daemon=True, name="leader-election")
        self._thread.start()
        return self

    def stop(self, release: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.request_timeout + self.settings.retry_period)
        if release and self._leading:
            self._release()
        self._lost("shutting down")
        self.api_client.close()

    def _release(self) -> None:
        s = self.settings
        try:
            lease = self._read()
            if lease is None or (lease.spec and lease.spec.holder_identity != self.identity):
                return
            lease.spec.holder_identity = None
            lease.spec.lease_duration_seconds = 1
            lease.spec.renew_time = datetime.now(UTC)
            self.api.replace_namespaced_lease(s.name, s.namespace, lease,
                                              _request_timeout=s.request_timeout)
            log.info("released the lease %s/%s", s.namespace, s.name)
        except Exception as e:
            log.warning("%s", api_error(f"release lease {s.namespace}/{s.name}", e))
