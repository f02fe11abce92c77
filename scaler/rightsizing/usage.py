"""Usage history per workload container, read through the metrics port one namespace at a
time (so a cluster of any size costs a handful of queries per namespace)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scaler.core.rightsizing import ContainerHistory, OomEvent
from scaler.ports.metrics import ContainerRef, MetricsSource, Samples, Window
from scaler.ports.oom import OomKillTimes
from scaler.rightsizing.workloads import Workload, WorkloadIndex

Key = tuple[str, str]  # (workload key, container name)


@dataclass
class _Acc:
    cpu_t: list[np.ndarray] = field(default_factory=list)
    cpu: list[np.ndarray] = field(default_factory=list)
    mem_t: list[np.ndarray] = field(default_factory=list)
    mem: list[np.ndarray] = field(default_factory=list)
    pods: list[int] = field(default_factory=list)
    ooms: list[OomEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Gathered:
    histories: dict[Key, ContainerHistory]
    pods: dict[str, tuple[str, ...]]  # workload key -> pods seen in the metrics


def gather(source: MetricsSource, workloads: Sequence[Workload], window: Window) -> Gathered:
    """Each workload container's usage in the window, its pods' samples together."""
    acc: dict[Key, _Acc] = {}
    pods: dict[str, set[str]] = {}
    for ns in sorted({w.namespace for w in workloads}):
        key_of = _Owners([w for w in workloads if w.namespace == ns], ns).key

        cpu = source.cpu_usage(window, ns)
        mem = source.memory_usage(window, ns)
        for s in cpu:
            k = key_of(s.ref)
            if k is not None:
                a = acc.setdefault(k, _Acc())
                t, v = _valid(s)
                a.cpu_t.append(t)
                a.cpu.append(v)
        peak_at: dict[ContainerRef, tuple[float, float]] = {}
        for s in mem:
            k = key_of(s.ref)
            if k is None:
                continue
            t, v = _valid(s)
            if not v.size:
                continue
            a = acc.setdefault(k, _Acc())
            a.mem_t.append(t)
            a.mem.append(v)
            a.pods.append(int(v.size))
            pods.setdefault(k[0], set()).add(s.ref.pod)
            i = int(np.argmax(v))
            peak_at[s.ref] = (float(t[i]), float(v[i]))
        kills = _kills(source, window, ns, peak_at)
        if kills:
            limits = _last(source.limits("memory", window, ns))
            for ref, at in kills:
                k = key_of(ref)
                if k is None:
                    continue
                # It died at its limit; at least at the highest working set seen.
                peak = peak_at.get(ref, (window.end, 0.0))[1]
                died = max(limits.get(ref, peak), peak)
                acc.setdefault(k, _Acc()).ooms.append(OomEvent(at=at, memory=died))
    out: dict[Key, ContainerHistory] = {}
    for k, a in acc.items():
        out[k] = ContainerHistory(
            cpu_t=_cat(a.cpu_t),
            cpu=_cat(a.cpu),
            memory_t=_cat(a.mem_t),
            memory=_cat(a.mem),
            step=window.step,
            end=window.end,
            oom_events=tuple(a.ooms),
            memory_pods=tuple(a.pods),
        )
    return Gathered(out, {k: tuple(sorted(v)) for k, v in pods.items()})


class _Owners:
    """Pod name to workload, remembered (a namespace's pods repeat across queries)."""

    def __init__(self, workloads: Sequence[Workload], namespace: str) -> None:
        self._index = WorkloadIndex(workloads, namespace)
        self._seen: dict[str, Workload | None] = {}

    def key(self, ref: ContainerRef) -> Key | None:
        if ref.pod not in self._seen:
            self._seen[ref.pod] = self._index.lookup(ref.pod)
        w = self._seen[ref.pod]
        return None if w is None else (w.key, ref.container)


def _kills(
    source: MetricsSource,
    window: Window,
    ns: str,
    peak_at: dict[ContainerRef, tuple[float, float]],
) -> list[tuple[ContainerRef, float]]:
    """OOM kills with their times: from sources that know them (scaler.ports.oom), else the
    port's list, timed at the end of the window (kube-state-metrics keeps only the last
    reason, so the kill is recent; a decaying strategy then weighs it fully)."""
    if isinstance(source, OomKillTimes):
        return list(source.oom_kill_times(window, ns))
    return [(ref, window.end) for ref in source.oom_kills(window, ns)]


def _valid(s: Samples) -> tuple[np.ndarray, np.ndarray]:
    """The samples that are usage: finite and not negative. Files refuse anything else
    when read; a live source (Prometheus answers NaN for a stale series) loses them here,
    so no recommendation is built on them."""
    t = np.asarray(s.timestamps, dtype=np.float64)
    v = np.asarray(s.values, dtype=np.float64)
    keep = np.isfinite(v) & (v >= 0) & np.isfinite(t)
    return (t, v) if keep.all() else (t[keep], v[keep])


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.float64) if parts else np.empty(0)


def _last(series: Sequence[Samples]) -> dict[ContainerRef, float]:
    return {s.ref: s.values[-1] for s in series if s.values}
