"""Metrics held in memory: the metrics port without a Prometheus.

Series are stored as given and answered the way Prometheus answers a range query: one point
per step of the window, each the latest sample at or before that instant within a lookback
(Prometheus' default is 5 minutes), so callers see the same grid from either source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from scaler.ports.metrics import ContainerRef, MetricsError, Samples, Window, as_array

LOOKBACK_SECONDS = 300.0


class SeriesMetricsSource:
    def __init__(
        self,
        *,
        cpu: Iterable[Samples] = (),
        memory: Iterable[Samples] = (),
        requests: Mapping[str, Iterable[Samples]] | None = None,
        limits: Mapping[str, Iterable[Samples]] | None = None,
        oom_kills: Iterable[tuple[ContainerRef, float]] = (),
        lookback: float = LOOKBACK_SECONDS,
    ) -> None:
        self._cpu = tuple(cpu)
        self._memory = tuple(memory)
        self._requests = {k: tuple(v) for k, v in (requests or {}).items()}
        self._limits = {k: tuple(v) for k, v in (limits or {}).items()}
        self._ooms = tuple(oom_kills)
        self._lookback = lookback
        # Queries made, by kind and namespace: lets tests check the batching.
        self.queries: list[tuple[str, str | None]] = []

    def cpu_usage(self, window: Window, namespace: str | None = None) -> Sequence[Samples]:
        self.queries.append(("cpu_usage", namespace))
        return self._answer(self._cpu, window, namespace)

    def memory_usage(self, window: Window, namespace: str | None = None) -> Sequence[Samples]:
        self.queries.append(("memory_usage", namespace))
        return self._answer(self._memory, window, namespace)

    def requests(
        self, resource: str, window: Window, namespace: str | None = None
    ) -> Sequence[Samples]:
        self.queries.append((f"requests:{resource}", namespace))
        return self._answer(self._requests.get(_resource(resource), ()), window, namespace)

    def limits(
        self, resource: str, window: Window, namespace: str | None = None
    ) -> Sequence[Samples]:
        self.queries.append((f"limits:{resource}", namespace))
        return self._answer(self._limits.get(_resource(resource), ()), window, namespace)

    def oom_kills(self, window: Window, namespace: str | None = None) -> Sequence[ContainerRef]:
        self.queries.append(("oom_kills", namespace))
        seen: dict[ContainerRef, None] = {}
        for ref, at in self._ooms:
            if (namespace is None or ref.namespace == namespace) and (
                window.start <= at <= window.end
            ):
                seen[ref] = None
        return tuple(seen)

    def oom_kill_times(
        self, window: Window, namespace: str | None = None
    ) -> Sequence[tuple[ContainerRef, float]]:
        """scaler.ports.oom: the kills held, in the window, oldest first."""
        return sorted(
            (
                (ref, at)
                for ref, at in self._ooms
                if (namespace is None or ref.namespace == namespace)
                and window.start <= at <= window.end
            ),
            key=lambda x: x[1],
        )

    def namespaces(self, window: Window) -> Sequence[str]:
        self.queries.append(("namespaces", None))
        found: set[str] = set()
        for s in (*self._cpu, *self._memory):
            if (
                len(s.timestamps)
                and s.timestamps[0] <= window.end
                and (s.timestamps[-1] >= window.start - self._lookback)
            ):
                found.add(s.ref.namespace)
        return tuple(sorted(found))

    def time_range(self) -> tuple[float, float] | None:
        """First and last sample time held (not part of the port: for offline runs)."""
        stamps = [
            float(t)
            for s in (*self._cpu, *self._memory)
            if len(s.timestamps)
            for t in (s.timestamps[0], s.timestamps[-1])
        ]
        return (min(stamps), max(stamps)) if stamps else None

    def typical_step(self) -> float | None:
        """The most common spacing of samples (not part of the port)."""
        gaps = [
            float(b - a)
            for s in self._cpu[:50]
            for a, b in zip(s.timestamps, s.timestamps[1:], strict=False)
        ]
        return float(np.median(gaps)) if gaps else None

    def _answer(
        self, series: Sequence[Samples], window: Window, namespace: str | None
    ) -> Sequence[Samples]:
        if window.step <= 0 or window.end < window.start:
            raise MetricsError(f"simulated metrics: bad window {window}")
        grid = np.arange(window.start, window.end + window.step / 2, window.step)
        out: list[Samples] = []
        for s in series:
            if namespace is not None and s.ref.namespace != namespace:
                continue
            resampled = _resample(s, grid, self._lookback)
            if resampled is not None:
                out.append(resampled)
        return out


def _resource(name: str) -> str:
    if name not in ("cpu", "memory"):
        raise MetricsError(f"simulated metrics: unknown resource {name!r} (cpu or memory)")
    return name


def _resample(s: Samples, grid: np.ndarray, lookback: float) -> Samples | None:
    if not len(s.timestamps):
        return None
    ts = as_array(s.timestamps)
    vs = as_array(s.values)
    # Index of the latest sample at or before each grid instant.
    idx = np.searchsorted(ts, grid, side="right") - 1
    ok = idx >= 0
    ok[ok] &= grid[ok] - ts[idx[ok]] <= lookback
    if not ok.any():
        return None
    times, values = grid[ok], vs[idx[ok]]
    # An array in, arrays out (a month of a large cluster: a tuple of floats takes 4x the
    # memory); tuples otherwise.
    columnar = isinstance(s.values, np.ndarray)
    return Samples(
        ref=s.ref,
        timestamps=times if columnar else tuple(times.tolist()),
        values=values if columnar else tuple(values.tolist()),
        labels=dict(s.labels),
    )
