"""The controller's HTTP endpoints, started on a free port and read over real HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from scaler.runtime.http import LEADER, STANDBY, ControllerServer, Health
from scaler.runtime.observability import PrometheusRecorder


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def health(clock: Clock) -> Health:
    return Health(heartbeat_timeout=30, clock=clock)


@pytest.fixture
def recorder() -> PrometheusRecorder:
    return PrometheusRecorder(process_metrics=False)


@pytest.fixture
def url(recorder: PrometheusRecorder, health: Health) -> Iterator[str]:
    with ControllerServer(recorder.registry, health, host="127.0.0.1", port=0) as server:
        assert server.port > 0
        yield f"http://127.0.0.1:{server.port}"


def get(url: str, accept: str | None = None) -> tuple[int, str, str]:
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


def test_metrics_serves_what_the_loop_recorded(url: str, recorder: PrometheusRecorder) -> None:
    recorder.record_launch("general", "provisioning", 2)
    recorder.set_pending(5)
    code, ctype, body = get(url + "/metrics")
    assert code == 200 and ctype.startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(body)
        for s in fam.samples
    }
    assert samples["scaler_nodes_created_total", (("nodepool", "general"),
                                                  ("reason", "provisioning"))] == 2
    assert samples["scaler_pods_pending", ()] == 5
    recorder.set_pending(0)
    assert "scaler_pods_pending 0.0" in get(url + "/metrics")[2].splitlines()


def test_metrics_speaks_openmetrics_when_asked(url: str) -> None:
    code, ctype, body = get(url + "/metrics", accept="application/openmetrics-text")
    assert code == 200 and ctype.startswith("application/openmetrics-text")
    assert body.endswith("# EOF\n")


def test_healthz_fails_once_the_loop_stops_beating(
    url: str, health: Health, clock: Clock
) -> None:
    code, _, body = get(url + "/healthz")
    assert code == 200 and body.splitlines()[-1] == "healthz check passed"
    clock.t += 31  # the loop is wedged: no heartbeat for longer than the limit
    code, _, body = get(url + "/healthz")
    assert code == 503
    assert "[-]loop failed: last heartbeat 31s ago (limit 30s)" in body
    health.heartbeat()
    assert get(url + "/healthz")[0] == 200


def test_readyz_needs_policies_caches_and_a_role(url: str, health: Health) -> None:
    code, _, body = get(url + "/readyz")
    assert code == 503
    assert body.splitlines() == [
        "[-]policies failed: no validated policy bundle loaded yet",
        "[-]caches failed: informer caches not synced yet",
        "[-]leader-election failed: not yet leader or standby",
        "readyz check failed",
    ]
    health.set_policies_loaded(True)
    health.set_caches_synced(True)
    assert get(url + "/readyz")[0] == 503
    health.set_role(STANDBY)  # the standby is ready too: it must count for the PDB
    code, _, body = get(url + "/readyz")
    assert code == 200 and "[+]leader-election ok" in body
    health.set_role(LEADER)
    assert get(url + "/readyz")[0] == 200
    health.set_caches_synced(False)  # a relist after 410 Gone: not ready until synced again
    assert get(url + "/readyz")[0] == 503


def test_unknown_paths_are_404(url: str) -> None:
    assert get(url + "/nope")[0] == 404


def test_a_bad_role_is_refused(health: Health) -> None:
    with pytest.raises(ValueError, match="role must be"):
        health.set_role("boss")
