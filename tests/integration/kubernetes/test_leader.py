"""Leader election on a Lease: one leader at a time, takeover on expiry, fencing at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from scaler.adapters.kubernetes import ElectionSettings, LeaderElector
from scaler.ports.fence import NotLeaderError
from tests.integration.kubernetes.test_informer import eventually
from tests.support.kube_api import KubeApi

FAST = dict(lease_duration=1.0, renew_deadline=0.6, retry_period=0.1, request_timeout=1.0)


class Replica:
    """A contender that 'launches' in a loop, each launch fenced by its elector."""

    def __init__(self, config: Any, identity: str) -> None:
        self.stopped_leading = threading.Event()
        self.elector = LeaderElector(
            config, ElectionSettings(name="scaler", namespace="kube-system",
                                     identity=identity, **FAST),
            on_stopped_leading=self.stopped_leading.set)
        self.launches: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._act, daemon=True)

    def _act(self) -> None:
        while not self._stop.is_set():
            try:
                self.elector.check("launch")
                self.launches.append(time.monotonic())
            except NotLeaderError:
                pass
            time.sleep(0.01)

    def start(self) -> Replica:
        self.elector.start()
        self._thread.start()
        return self

    def crash(self) -> None:
        """Stop renewing without releasing the Lease (a killed pod)."""
        self.elector.stop(release=False)
        self._stop.set()


@pytest.fixture
def replicas(kube_config: Any) -> Iterator[tuple[Replica, Replica]]:
    a, b = Replica(kube_config, "replica-a"), Replica(kube_config, "replica-b")
    a.start()
    b.start()
    yield a, b
    for r in (a, b):
        r.crash()


def test_two_contenders_exactly_one_acts_and_the_other_takes_over_on_expiry(
        kube_api: KubeApi, replicas: tuple[Replica, Replica]) -> None:
    a, b = replicas
    eventually(lambda: a.elector.is_leader() or b.elector.is_leader())
    time.sleep(1.5)  # longer than a lease: the follower must not steal a renewed lease
    leader, follower = (a, b) if a.elector.is_leader() else (b, a)
    assert leader.launches and not follower.launches
    lease = kube_api.get("coordination.k8s.io/v1", "leases", "scaler", "kube-system")
    assert lease is not None and lease["spec"]["holderIdentity"] == leader.elector.identity

    crashed_at = time.monotonic()
    leader.crash()
    eventually(follower.elector.is_leader, timeout=5)
    took_over = time.monotonic() - crashed_at
    assert took_over >= 0.9  # it waited for the lease to expire
    eventually(lambda: bool(follower.launches))
    # Never both: every launch of the old leader happened before the new one's first.
    assert max(leader.launches) < min(follower.launches)
    lease = kube_api.get("coordination.k8s.io/v1", "leases", "scaler", "kube-system")
    assert lease is not None and lease["spec"]["holderIdentity"] == follower.elector.identity
    assert lease["spec"]["leaseTransitions"] == 1


def test_a_leader_that_loses_the_lease_stops_acting_at_once(
        kube_api: KubeApi, replicas: tuple[Replica, Replica]) -> None:
    a, b = replicas
    eventually(lambda: a.elector.is_leader() or b.elector.is_leader())
    leader = a if a.elector.is_leader() else b
    b_or_a = b if leader is a else a
    b_or_a.crash()
    # Someone else (an operator, another controller version) takes the Lease for a minute.
    lease = kube_api.get("coordination.k8s.io/v1", "leases", "scaler", "kube-system")
    assert lease is not None
    lease["spec"].update(holderIdentity="intruder", leaseDurationSeconds=60)
    kube_api.put("coordination.k8s.io/v1", "leases", lease)
    assert leader.stopped_leading.wait(2)
    assert not leader.elector.is_leader()
    count = len(leader.launches)
    time.sleep(0.3)
    assert len(leader.launches) == count


def test_the_lease_has_its_own_connection_pool(kube_api: KubeApi, kube_config: Any) -> None:
    from scaler.adapters.kubernetes import Kube

    main = Kube(kube_config)
    main.request("GET", "/api/v1/pods")
    elector = LeaderElector(kube_config, ElectionSettings(identity="x", **FAST))
    assert elector.try_acquire_or_renew()
    assert elector.api_client is not main.api_client
    pools = elector.api_client.rest_client.pool_manager, main.api_client.rest_client.pool_manager
    assert pools[0] is not pools[1]
    main_ports = {r.client[1] for r in kube_api.requests if "/pods" in r.path}
    lease_ports = {r.client[1] for r in kube_api.requests if "/leases" in r.path}
    assert main_ports and lease_ports and not main_ports & lease_ports
    elector.stop()
    lease = kube_api.get("coordination.k8s.io/v1", "leases", "scaler", "kube-system")
    assert lease is not None and not lease["spec"].get("holderIdentity")  # released
