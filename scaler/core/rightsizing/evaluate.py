"""Walk-forward replay: recommend from the past, score on the future.

At each review (every `review_hours` after a warm-up), the strategy sees only the usage
before the review and the OOM kills its own earlier recommendations caused; its answer is
applied (subject to the minimum change) until the next review, and every interval until
then is scored: usage above the CPU request (throttling risk), working set above the memory
limit (OOM risk), above the memory request (eviction risk under node pressure), and the
requested resources' cost against the original requests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from scaler.core.rightsizing.cost import UnitPrices
from scaler.core.rightsizing.model import (
    DAY,
    HOUR,
    Array,
    ContainerHistory,
    CurrentResources,
    OomEvent,
)
from scaler.core.rightsizing.recommend import CommonSettings, recommend
from scaler.core.rightsizing.strategies import Strategy, StrategySettings


@dataclass(frozen=True, eq=False)
class UsageSeries:
    """One container's usage on a regular grid, and the requests it started with."""

    name: str
    t: Array
    cpu: Array
    memory: Array
    step: float
    current: CurrentResources


@dataclass(frozen=True, slots=True)
class ReplayScore:
    intervals: int = 0
    cpu_over_request: int = 0
    memory_over_limit: int = 0
    memory_over_request: int = 0
    oom_kills: int = 0  # fed back to the strategy (at most one a day)
    cost_current: float = 0.0  # USD of the original requests over the scored intervals
    cost_recommended: float = 0.0
    cpu_current: float = 0.0  # core-intervals
    cpu_recommended: float = 0.0
    memory_current: float = 0.0  # byte-intervals
    memory_recommended: float = 0.0
    reviews: int = 0
    reviews_without_data: int = 0

    def __add__(self, other: ReplayScore) -> ReplayScore:
        return ReplayScore(*(getattr(self, f) + getattr(other, f) for f in self.__slots__))

    def share(self, count: int) -> float:
        return count / self.intervals if self.intervals else 0.0

    @property
    def saving(self) -> float:
        return 1 - self.cost_recommended / self.cost_current if self.cost_current else 0.0

    @property
    def cpu_saving(self) -> float:
        return 1 - self.cpu_recommended / self.cpu_current if self.cpu_current else 0.0

    @property
    def memory_saving(self) -> float:
        return 1 - self.memory_recommended / self.memory_current if self.memory_current else 0.0


def replay(
    strategy: Strategy[StrategySettings],
    series: UsageSeries,
    prices: UnitPrices,
    settings: CommonSettings | None = None,
    *,
    warmup_hours: float = 14 * 24,
    review_hours: float = 7 * 24,
) -> ReplayScore:
    s = settings or CommonSettings()
    t0 = float(series.t[0])
    end = float(series.t[-1]) + series.step
    original = series.current
    applied = original
    ooms: list[OomEvent] = []
    score = ReplayScore()
    review = t0 + warmup_hours * HOUR
    while review < end:
        past = (series.t < review) & (series.t >= review - strategy.history_seconds)
        history = ContainerHistory(
            cpu_t=series.t[past],
            cpu=series.cpu[past],
            memory_t=series.t[past],
            memory=series.memory[past],
            step=series.step,
            end=review,
            oom_events=tuple(ooms),
            memory_pods=(int(past.sum()),),
        )
        rec = recommend(strategy, history, applied, s)
        nodata = rec.cpu_request is None
        if rec.change_cpu and rec.cpu_request is not None:
            applied = replace(applied, cpu_request=rec.cpu_request, cpu_limit=rec.cpu_limit)
        if rec.change_memory and rec.memory_request is not None:
            applied = replace(
                applied, memory_request=rec.memory_request, memory_limit=rec.memory_limit
            )
        nxt = review + review_hours * HOUR
        fut = (series.t >= review) & (series.t < nxt)
        cpu, mem, ts = series.cpu[fut], series.memory[fut], series.t[fut]
        n = int(fut.sum())
        cpu_req = applied.cpu_request or 0.0
        mem_req = applied.memory_request or 0.0
        over_limit = (
            mem > applied.memory_limit if applied.memory_limit is not None else np.zeros(n, bool)
        )
        # The kernel kills the container the first time it crosses the limit; one kill a
        # day is what the strategy learns from (kube-state-metrics keeps the last reason).
        days_seen: set[int] = set()
        for at in ts[over_limit]:
            day = int(at // DAY)
            if day not in days_seen:
                days_seen.add(day)
                ooms.append(OomEvent(at=float(at), memory=float(applied.memory_limit or 0)))
        score = score + ReplayScore(
            intervals=n,
            cpu_over_request=int((cpu > cpu_req).sum()),
            memory_over_limit=int(over_limit.sum()),
            memory_over_request=int((mem > mem_req).sum()),
            oom_kills=len(days_seen),
            cost_current=n
            * prices.per_hour(original.cpu_request or 0, original.memory_request or 0),
            cost_recommended=n * prices.per_hour(cpu_req, mem_req),
            cpu_current=n * (original.cpu_request or 0),
            cpu_recommended=n * cpu_req,
            memory_current=n * (original.memory_request or 0),
            memory_recommended=n * mem_req,
            reviews=1,
            reviews_without_data=int(nodata),
        )
        review = nxt
    return score
