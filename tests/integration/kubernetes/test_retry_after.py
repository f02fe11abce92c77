"""A 429 with Retry-After (API Priority and Fairness shedding load) is waited out as the API
server says, through the fault proxy in front of the API stand-in: the call is sent again no
earlier than asked, other calls on the client wait too, a wait longer than the client's
bound fails at once unsent, and a 429 without the header (a PodDisruptionBudget's refusal)
is an answer, never retried by the client."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scaler.adapters.kubernetes import (
    ClusterCache,
    EventRecorder,
    Kube,
    KubeApiError,
    KubernetesCluster,
    KubeSettings,
    load_configuration,
)
from scaler.adapters.kubernetes.cache import NODES, PODS
from scaler.adapters.kubernetes.client import retry_after_seconds
from scaler.adapters.kubernetes.informer import Reflector
from scaler.ports.fence import OpenFence
from tests.integration.kubernetes.test_informer import FAST
from tests.support.builders import node_manifest, pod_manifest
from tests.support.http_faults import Fault, HttpFaultProxy, Seen
from tests.support.kube_api import KubeApi

# What the API server's APF filter answers: plain text, not a Status.
APF_BODY = b"Too many requests, please try again later.\n"


def throttled(retry_after: str, path: str, method: str | None = None) -> Fault:
    return Fault("429", status=429, body=APF_BODY, method=method, path=path, limit=1,
                 headers={"Retry-After": retry_after, "Content-Type": "text/plain"})


@pytest.fixture
def proxy(kube_api: KubeApi) -> Iterator[HttpFaultProxy]:
    p = HttpFaultProxy(kube_api.url).start()
    yield p
    p.stop()


@pytest.fixture
def proxied(kube_api: KubeApi, proxy: HttpFaultProxy, tmp_path: Path) -> Iterator[Kube]:
    """A client whose calls go through the fault proxy."""
    path = tmp_path / "kubeconfig-proxied"
    path.write_text(kube_api.kubeconfig().replace(kube_api.url, proxy.url))
    settings = KubeSettings(kubeconfig=str(path), read_timeout=5.0)
    k = Kube(load_configuration(settings), settings)
    yield k
    k.close()


def calls(proxy: HttpFaultProxy, method: str, path: str) -> list[Seen]:
    return [r for r in proxy.requests if r.method == method and r.path.startswith(path)]


def test_a_429_is_sent_again_no_earlier_than_its_retry_after(
        kube_api: KubeApi, proxy: HttpFaultProxy, proxied: Kube) -> None:
    kube_api.put("v1", "nodes", node_manifest("n1"))
    proxy.add(throttled("2", "/api/v1/nodes"))
    doc = proxied.request("GET", "/api/v1/nodes", what="list nodes")
    assert [n["metadata"]["name"] for n in doc["items"]] == ["n1"]
    first, again = calls(proxy, "GET", "/api/v1/nodes")
    assert (first.action, again.action) == ("429", "forwarded")
    assert again.at - first.at >= 2.0


def test_other_calls_on_the_client_wait_for_the_retry_after_too(
        kube_api: KubeApi, proxy: HttpFaultProxy, proxied: Kube) -> None:
    kube_api.put("v1", "nodes", node_manifest("n1"))
    proxy.add(throttled("2", "/api/v1/nodes"))
    listing = threading.Thread(target=proxied.request, args=("GET", "/api/v1/nodes"))
    listing.start()
    while not calls(proxy, "GET", "/api/v1/nodes"):
        time.sleep(0.01)
    time.sleep(0.2)  # the 429 is in
    proxied.request("GET", "/api/v1/namespaces/default/pods", what="list pods")
    listing.join()
    [throttle] = calls(proxy, "GET", "/api/v1/nodes")[:1]
    [other] = calls(proxy, "GET", "/api/v1/namespaces/default/pods")
    assert other.at - throttle.at >= 2.0


def test_a_retry_after_beyond_the_clients_bound_fails_at_once_and_unsent(
        proxy: HttpFaultProxy, proxied: Kube) -> None:
    proxy.add(throttled("3600", "/api/v1/nodes"))
    began = time.monotonic()
    with pytest.raises(KubeApiError) as err:
        proxied.request("GET", "/api/v1/nodes", what="list nodes")
    # An hour is honoured as the cap (60 s), longer than a call may wait (10 s): no wait.
    assert err.value.retry_after is not None and 59 <= err.value.retry_after <= 60
    assert "\n" not in str(err.value) and "not sent" in str(err.value)
    with pytest.raises(KubeApiError, match="not sent"):
        proxied.request("GET", "/api/v1/namespaces/default/pods", what="list pods")
    assert time.monotonic() - began < 2.0
    assert len(proxy.requests) == 1  # neither the resend nor the other call reached it


@pytest.mark.parametrize("value", ["Wed, 21 Oct 2026 07:28:00 GMT", "-1", "1.5", ""])
def test_a_retry_after_that_is_not_whole_seconds_is_not_waited_for(
        proxy: HttpFaultProxy, proxied: Kube, value: str) -> None:
    proxy.add(throttled(value, "/api/v1/nodes"))
    with pytest.raises(KubeApiError) as err:
        proxied.request("GET", "/api/v1/nodes", what="list nodes")
    assert err.value.status == 429 and err.value.retry_after is None
    assert len(proxy.requests) == 1


@pytest.mark.parametrize(("value", "seconds"), [
    ("0", 0.0), ("7", 7.0), (" 2 ", 2.0), ("0000000000001", 1.0), ("60", 60.0),
    ("61", 60.0), ("9" * 400, 60.0), ("1e3", None), ("0x10", None), ("+5", None),
    (None, None)])
def test_retry_after_is_whole_seconds_capped(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value) == seconds


def test_a_drain_evicts_after_the_retry_after_of_a_throttled_eviction(
        kube_api: KubeApi, proxy: HttpFaultProxy, proxied: Kube, kube: Kube) -> None:
    kube_api.put("v1", "nodes", node_manifest("n1"))
    kube_api.put("v1", "pods", pod_manifest("web-0", node="n1", labels={"app": "web"}))
    cache = ClusterCache()
    reflectors = [Reflector(kube, k, cache, FAST).start() for k in (PODS, NODES)]
    try:
        assert all(r.synced.wait(5) for r in reflectors)
        # The drain's own backoff is short: only the server's Retry-After makes it wait.
        cluster = KubernetesCluster(proxied, cache, OpenFence(), EventRecorder(kube, OpenFence()),
                                    eviction_backoff=0.05, eviction_backoff_cap=0.1)
        proxy.add(throttled("2", "/eviction", "POST"))
        result = cluster.drain("n1", timeout=5)
    finally:
        for r in reflectors:
            r.stop()
    assert result.done and result.evicted == ("default/web-0",)
    first, again = calls(proxy, "POST", "/api/v1/namespaces/default/pods/web-0/eviction")
    assert first.action == "429" and again.at - first.at >= 2.0
    assert kube_api.get("v1", "pods", "web-0", "default") is None
