"""The in-memory metrics source answers like a Prometheus range query."""

from __future__ import annotations

from scaler.adapters.simulated import SeriesMetricsSource
from scaler.ports.metrics import ContainerRef, Samples, Window

A = ContainerRef("shop", "web-1", "app")
B = ContainerRef("batch", "job-1", "worker")


def series(ref: ContainerRef, ts: list[float], vs: list[float]) -> Samples:
    return Samples(ref=ref, timestamps=tuple(ts), values=tuple(vs))


def test_resamples_onto_the_window_grid_with_a_lookback() -> None:
    src = SeriesMetricsSource(
        memory=[series(A, [0, 30, 60, 1000], [1, 2, 3, 4])], lookback=300
    )
    [got] = src.memory_usage(Window(start=0, end=1200, step=120))
    # 0->1, 120->3 (latest at 60), 240->3, 360->3, 480 out of lookback, ..., 1080->4, 1200->4
    assert got.timestamps == (0.0, 120.0, 240.0, 360.0, 1080.0, 1200.0)
    assert got.values == (1.0, 3.0, 3.0, 3.0, 4.0, 4.0)


def test_filters_by_namespace_and_lists_namespaces() -> None:
    src = SeriesMetricsSource(
        cpu=[series(A, [0, 60], [0.1, 0.2]), series(B, [0, 60], [1, 1])],
        requests={"cpu": [series(A, [0, 60], [0.5, 0.5])]},
        oom_kills=[(B, 30.0)],
    )
    w = Window(0, 60, 60)
    assert [s.ref for s in src.cpu_usage(w, "batch")] == [B]
    assert src.namespaces(w) == ("batch", "shop")
    assert [s.values for s in src.requests("cpu", w)] == [(0.5, 0.5)]
    assert src.limits("memory", w) == []
    assert src.oom_kills(w) == (B,)
    assert src.oom_kills(Window(40, 100, 60)) == ()
    assert ("cpu_usage", "batch") in src.queries
