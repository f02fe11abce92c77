"""The metrics port over Prometheus' HTTP API (prometheus-api-client).

Batching: one query per metric per namespace, never per pod, so a 10k-pod cluster costs
(namespaces x metrics) queries; callers that pass no namespace get the namespaces listed first
and queried one by one. Long windows are split so no query asks for more than `max_points`
points per series (Prometheus refuses more than 11,000) nor spans more than `max_span` seconds
(the cost report asks for a day: a month of a large namespace is 30 answers of a day, not one
giant one).

With `aggregate_resolution` set, each range query is wrapped in
`avg_over_time((q)[S:R])`, S the window's step and R the raw resolution: the store (Prometheus,
Thanos, Mimir, VictoriaMetrics) averages each container's series over every step and returns
one point per step, as OpenCost's queries do. The point evaluated at t + S stands for
[t, t + S); its timestamp is moved back to t.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_api_client import PrometheusConnect

from scaler.adapters.prometheus.access import PrometheusAccess
from scaler.ports.metrics import ContainerRef, MetricsError, Samples, Window

# cAdvisor's per-pod sandbox ("POD") and pod-level ("") series are not containers.
CONTAINERS = 'container!="",container!="POD"'
# Keep the node so cost allocation can price where a container ran.
BY = "namespace, pod, container, node"


class PrometheusSource:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 60.0,
        max_points: int = 10_000,
        rate_window: str = "5m",
        headers: dict[str, str] | None = None,
        access: PrometheusAccess | None = None,
        max_span: float = float("inf"),
        aggregate_resolution: float | None = None,
    ) -> None:
        if max_points < 2:
            raise ValueError("max_points must be at least 2")
        if max_span <= 0 or (aggregate_resolution is not None and aggregate_resolution <= 0):
            raise ValueError("max_span and aggregate_resolution must be positive")
        self._max_span = max_span
        self._aggregate = aggregate_resolution
        self.url = url.rstrip("/")
        self._timeout = timeout
        self._max_points = max_points
        self._rate_window = rate_window
        # One cluster's series out of a shared store: a matcher in every selector.
        self._matcher = access.matcher if access else ""
        self._containers = CONTAINERS + self._matcher
        if access is not None:
            self._client = access.connect(self.url, timeout)
        else:
            self._client = PrometheusConnect(
                url=self.url, headers=headers, disable_ssl=False, timeout=timeout
            )
        # Every PromQL sent, in order: lets tests check the batching.
        self.queries: list[str] = []

    # -- the port -------------------------------------------------------------------------

    def cpu_usage(self, window: Window, namespace: str | None = None) -> Sequence[Samples]:
        return self._per_namespace(
            window,
            namespace,
            lambda sel: (
                f"sum by ({BY}) (rate(container_cpu_usage_seconds_total{{{sel}}}"
                f"[{self._rate_window}]))"
            ),
        )

    def memory_usage(self, window: Window, namespace: str | None = None) -> Sequence[Samples]:
        return self._per_namespace(
            window,
            namespace,
            lambda sel: f"max by ({BY}) (container_memory_working_set_bytes{{{sel}}})",
        )

    def requests(
        self, resource: str, window: Window, namespace: str | None = None
    ) -> Sequence[Samples]:
        return self._state_metric(
            "kube_pod_container_resource_requests", resource, window, namespace
        )

    def limits(
        self, resource: str, window: Window, namespace: str | None = None
    ) -> Sequence[Samples]:
        return self._state_metric("kube_pod_container_resource_limits", resource, window, namespace)

    def oom_kills(self, window: Window, namespace: str | None = None) -> Sequence[ContainerRef]:
        spans = _range_seconds(window)
        found: dict[ContainerRef, None] = {}
        for ns in self._namespaces_for(window, namespace):
            query = (
                "max by (namespace, pod, container) (max_over_time("
                f'kube_pod_container_status_last_terminated_reason{{reason="OOMKilled",'
                f'namespace="{_escape(ns)}"{self._matcher}}}[{spans}s]))'
                " == 1"
            )
            for row in self._instant(query, window.end):
                labels = row.get("metric", {})
                ref = _ref(labels)
                if ref is not None:
                    found[ref] = None
        return tuple(found)

    def oom_kill_times(
        self, window: Window, namespace: str | None = None
    ) -> Sequence[tuple[ContainerRef, float]]:
        """When the last-terminated reason turned OOMKilled (scaler.ports.oom)."""
        found: list[tuple[ContainerRef, float]] = []
        for series in self._per_namespace(
            window,
            namespace,
            lambda sel: (
                "max by (namespace, pod, container) ("
                f'kube_pod_container_status_last_terminated_reason{{{sel},reason="OOMKilled"}})'
            ),
        ):
            before = 0.0
            for t, v in zip(series.timestamps, series.values, strict=True):
                if v >= 1 and before < 1:
                    found.append((series.ref, t))
                before = v
        return sorted(found, key=lambda x: x[1])

    def namespaces(self, window: Window) -> Sequence[str]:
        query = (
            "count by (namespace) (last_over_time(container_memory_working_set_bytes"
            f"{{{self._containers}}}[{_range_seconds(window)}s]))"
        )
        names = {
            str(row.get("metric", {}).get("namespace", ""))
            for row in self._instant(query, window.end)
        }
        return tuple(sorted(n for n in names if n))

    # -- helpers --------------------------------------------------------------------------

    def _state_metric(
        self, metric: str, resource: str, window: Window, namespace: str | None
    ) -> Sequence[Samples]:
        if resource not in ("cpu", "memory"):
            raise MetricsError(f"{self.url}: unknown resource {resource!r} (cpu or memory)")
        return self._per_namespace(
            window,
            namespace,
            lambda sel: f'max by ({BY}) ({metric}{{{sel},resource="{resource}"}})',
        )

    def _namespaces_for(self, window: Window, namespace: str | None) -> Sequence[str]:
        return (namespace,) if namespace is not None else self.namespaces(window)

    def _per_namespace(
        self, window: Window, namespace: str | None, build: Callable[[str], str]
    ) -> Sequence[Samples]:
        out: list[Samples] = []
        for ns in self._namespaces_for(window, namespace):
            selector = f'namespace="{_escape(ns)}",{self._containers}'
            out.extend(self._range(build(selector), window))
        return out

    def _range(self, query: str, window: Window) -> list[Samples]:
        if window.step <= 0 or window.end < window.start:
            raise MetricsError(f"{self.url}: bad window {window} for query {query}")
        merged: dict[tuple[ContainerRef, tuple[tuple[str, str], ...]], dict[float, float]] = {}
        shift = 0.0
        if self._aggregate is not None:
            query = (
                f"avg_over_time(({query})[{window.step:g}s:{min(self._aggregate, window.step):g}s])"
            )
            shift = window.step
        for start, end in time_chunks(window, self._max_points, self._max_span):
            rows = self._call(
                query, self._range_call(query, start + shift, end + shift, window.step)
            )
            for row in rows:
                metric = row.get("metric", {})
                ref = _ref(metric)
                if ref is None:
                    continue
                extra = tuple(sorted((k, str(v)) for k, v in metric.items() if k == "node"))
                points = merged.setdefault((ref, extra), {})
                for ts, value in row.get("values", []):
                    points[float(ts) - shift] = float(value)
        out: list[Samples] = []
        for (ref, extra), points in sorted(merged.items(), key=lambda kv: _sort_key(kv[0][0])):
            ts_sorted = sorted(points)
            out.append(
                Samples(
                    ref=ref,
                    timestamps=tuple(ts_sorted),
                    values=tuple(points[t] for t in ts_sorted),
                    labels=dict(extra),
                )
            )
        return out

    def _range_call(self, query: str, start: float, end: float, step: float) -> Callable[[], Any]:
        def call() -> Any:
            return self._client.custom_query_range(
                query, start_time=_utc(start), end_time=_utc(end), step=f"{step:g}s"
            )

        return call

    def _instant(self, query: str, at: float) -> list[dict[str, Any]]:
        return self._call(
            query, lambda: self._client.custom_query(query, params={"time": f"{at:.3f}"})
        )

    def _call(self, query: str, fn: Callable[[], Any]) -> list[dict[str, Any]]:
        return run_query(self.url, self.queries, query, fn)


def run_query(url: str, log: list[str], query: str,
              fn: Callable[[], Any]) -> list[dict[str, Any]]:
    """Run one query through the client (noting it in `log`); errors as one MetricsError line
    naming the server and the query."""
    log.append(query)
    try:
        result = fn()
    except Exception as exc:  # the client raises requests' and its own errors
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise MetricsError(f"{url}: query {query}: {reason}") from exc
    if not isinstance(result, list):
        raise MetricsError(f"{url}: query {query}: unexpected answer {type(result)}")
    return result


def time_chunks(
    window: Window, max_points: int, max_span: float = float("inf")
) -> list[tuple[float, float]]:
    """Split [start, end] on the step grid so each piece has at most max_points points and
    covers at most max_span seconds (one point at least)."""
    points = max_points
    if max_span != float("inf"):
        points = max(1, min(max_points, int(max_span // window.step)))
    span = (points - 1) * window.step
    out: list[tuple[float, float]] = []
    start = window.start
    while start <= window.end:
        end = min(window.end, start + span)
        out.append((start, end))
        start = end + window.step
    return out


def _range_seconds(window: Window) -> int:
    return max(1, int(round(window.end - window.start)))


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _ref(labels: dict[str, Any]) -> ContainerRef | None:
    ns, pod, container = labels.get("namespace"), labels.get("pod"), labels.get("container")
    if not ns or not pod or not container:
        return None
    return ContainerRef(namespace=str(ns), pod=str(pod), container=str(container))


def _sort_key(ref: ContainerRef) -> tuple[str, str, str]:
    return (ref.namespace, ref.pod, ref.container)
