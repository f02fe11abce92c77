"""One right-sizing pass: workloads + usage + policies -> a recommendation per container."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from scaler.core.rightsizing import ContainerHistory, Recommendation, recommend
from scaler.core.rightsizing.cost import UnitPrices, monthly_saving
from scaler.core.rightsizing.model import HOUR
from scaler.core.rightsizing.severity import Severity, cluster_score, container_severity
from scaler.ports.metrics import MetricsSource, Window
from scaler.rightsizing.config import Configurator
from scaler.rightsizing.usage import gather
from scaler.rightsizing.workloads import ContainerSpec, Workload


@dataclass(frozen=True)
class Row:
    workload: Workload
    container: ContainerSpec
    recommendation: Recommendation
    saving: float  # USD a month, all replicas (negative: costs more)
    policy: str | None
    mode: str

    @property
    def severity(self) -> Severity:
        return container_severity(self.container.current, self.recommendation)


@dataclass(frozen=True)
class Report:
    rows: tuple[Row, ...]
    window: Window
    prices: UnitPrices
    source: str
    pods: dict[str, tuple[str, ...]] = field(default_factory=dict)  # seen in the metrics
    # The strategy and settings of workloads no RightSizingPolicy selects (KRR's one strategy).
    strategy: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    cluster: str | None = None  # the kubeconfig context read, None from manifests/in-cluster

    @property
    def score(self) -> int:
        """KRR's cluster score, 0-100."""
        return cluster_score(r.severity for r in self.rows)

    @property
    def saving(self) -> float:
        return sum(r.saving for r in self.rows)

    @property
    def changed(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.recommendation.changes)


def history_window(configurator: Configurator, end: float, step: float) -> Window:
    """Long enough for the longest history any chosen strategy reads."""
    longest = max(s.history_seconds for s in configurator.strategies())
    return Window(start=end - longest, end=end, step=step)


def build_report(
    workloads: Sequence[Workload],
    source: MetricsSource,
    configurator: Configurator,
    window: Window,
    prices: UnitPrices,
    source_name: str,
    cluster: str | None = None,
) -> Report:
    chosen = [
        (w, configurator.choice(w)) for w in workloads if configurator.choice(w).mode != "Off"
    ]
    empty = ContainerHistory.of(step=window.step, end=window.end)
    rows: list[Row] = []
    pods: dict[str, tuple[str, ...]] = {}
    # One namespace at a time: its usage is all that is held in memory at once.
    for ns in sorted({w.namespace for w, _ in chosen}):
        in_ns = [(w, c) for w, c in chosen if w.namespace == ns]
        gathered = gather(source, [w for w, _ in in_ns], window)
        pods.update(gathered.pods)
        for w, choice in in_ns:
            for c in w.containers:
                history = gathered.histories.get((w.key, c.name), empty)
                rec = recommend(
                    choice.strategy,
                    history,
                    c.current,
                    choice.common,
                    containers_in_pod=len(w.containers),
                    hpas=w.hpas,
                )
                if history.points == 0:
                    rec = _no_usage(rec, window)
                saving = monthly_saving(c.current, rec, w.replicas, prices)
                rows.append(Row(w, c, rec, saving, choice.policy, choice.mode))
    default = configurator.default()
    settings = {
        **default.strategy.settings.model_dump(mode="json"),
        **default.common.model_dump(mode="json"),
    }
    return Report(
        tuple(rows), window, prices, source_name, pods, default.strategy.name, settings, cluster
    )


def _no_usage(rec: Recommendation, window: Window) -> Recommendation:
    hours = (window.end - window.start) / HOUR
    return replace(rec, reason=f"no usage data for this container in the last {hours:g}h")
