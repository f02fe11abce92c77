"""The Prometheus adapter against a real Prometheus with backfilled history."""

from __future__ import annotations

import pytest

from scaler.adapters.prometheus import PrometheusSource
from scaler.ports.metrics import ContainerRef, MetricsError, Window
from tests.integration.prometheus.conftest import STEP, History

MiB = 2**20


def window(h: History, step: float = STEP) -> Window:
    # Start after the first rate window so every point has a full 5m of counter history.
    return Window(start=h.start + 600, end=h.end, step=step)


def by_ref(samples: object) -> dict[tuple[str, str, str], object]:
    return {(s.ref.namespace, s.ref.pod, s.ref.container): s for s in samples}  # type: ignore[attr-defined]


def test_cpu_usage_is_the_counter_rate_per_container(history: History) -> None:
    src = PrometheusSource(history.url)
    got = by_ref(src.cpu_usage(window(history), "shop"))
    assert set(got) == {("shop", "web-1", "app"), ("shop", "web-1", "sidecar"),
                        ("shop", "cache-0", "redis")}
    app = got[("shop", "web-1", "app")]
    assert app.values and all(v == pytest.approx(0.25, rel=1e-3) for v in app.values)  # type: ignore[attr-defined]
    assert app.labels == {"node": "node-a"}  # type: ignore[attr-defined]
    ts = app.timestamps  # type: ignore[attr-defined]
    assert all(b - a == STEP for a, b in zip(ts, ts[1:], strict=False))


def test_memory_requests_and_limits(history: History) -> None:
    src = PrometheusSource(history.url)
    w = window(history)
    mem = by_ref(src.memory_usage(w, "shop"))
    assert mem[("shop", "cache-0", "redis")].values[-1] == 500 * MiB  # type: ignore[attr-defined]
    req = by_ref(src.requests("cpu", w, "batch"))
    assert req[("batch", "job-1", "worker")].values[0] == 2.0  # type: ignore[attr-defined]
    lim = by_ref(src.limits("memory", w, "shop"))
    assert lim[("shop", "web-1", "sidecar")].values[0] == 256 * MiB  # type: ignore[attr-defined]
    assert src.limits("cpu", w, "shop") == []  # no CPU limits were exported


def test_oom_kills_names_only_the_killed_container(history: History) -> None:
    src = PrometheusSource(history.url)
    assert list(src.oom_kills(window(history))) == [ContainerRef("shop", "cache-0", "redis")]
    early = Window(start=history.start, end=history.start + 3600, step=STEP)
    assert list(src.oom_kills(early)) == []


def test_one_query_per_namespace_never_per_pod(history: History) -> None:
    src = PrometheusSource(history.url)
    w = window(history)
    assert list(src.namespaces(w)) == ["batch", "shop"]
    src.queries.clear()
    got = src.memory_usage(w)
    assert len(got) == 4
    assert len(src.queries) == 3  # namespaces, then one per namespace
    assert not any("pod=" in q for q in src.queries)


def test_long_windows_are_split_and_merged(history: History) -> None:
    whole = PrometheusSource(history.url).memory_usage(window(history), "batch")
    small = PrometheusSource(history.url, max_points=50)
    split = small.memory_usage(window(history), "batch")
    assert len(small.queries) > 5
    assert [s.timestamps for s in split] == [s.timestamps for s in whole]
    assert len(split[0].timestamps) > 50


def test_unreachable_prometheus_is_one_line_naming_url_and_query() -> None:
    src = PrometheusSource("http://127.0.0.1:9", timeout=2)
    with pytest.raises(MetricsError) as err:
        src.memory_usage(Window(0, 600, 60), "shop")
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("http://127.0.0.1:9: query ")
    assert "container_memory_working_set_bytes" in text
