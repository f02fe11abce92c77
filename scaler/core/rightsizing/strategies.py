"""Strategy plug-ins: each proposes a request (and maybe limits) from a container's history.

A strategy is a class with a `name`, a pydantic `Settings` model (its fields become CLI
flags `--field-name` and keys of a RightSizingPolicy's `spec.settings`) and `propose`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scaler.core.rightsizing.histogram import ExponentialBuckets, decay_weights
from scaler.core.rightsizing.model import (
    DAY,
    HOUR,
    Array,
    ContainerHistory,
    CurrentResources,
    MiB,
    Proposal,
)


class StrategySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    history_hours: float = Field(
        default=336, gt=0, description="Hours of usage history to look at."
    )


S = TypeVar("S", bound=StrategySettings)


class Strategy(ABC, Generic[S]):
    name: ClassVar[str]
    summary: ClassVar[str]
    settings_model: ClassVar[type[StrategySettings]]
    # RightSizingPolicy fields (cpu.percentile, ...) and the setting each one sets.
    policy_fields: ClassVar[dict[str, str]] = {}

    def __init__(self, settings: S) -> None:
        self.settings = settings

    @property
    def history_seconds(self) -> float:
        return self.settings.history_hours * HOUR

    @abstractmethod
    def propose(
        self, history: ContainerHistory, current: CurrentResources, containers_in_pod: int
    ) -> Proposal: ...


def _mib(v: float) -> str:
    return f"{math.ceil(v / MiB - 1e-9)}Mi"


def _cores(v: float) -> str:
    return f"{v * 1000:.0f}m"


def oom_bump(memory: float, ratio: float, min_bump: float) -> float:
    """What a container that died at `memory` needs: the VPA's max(m * ratio, m + min)."""
    return max(memory * ratio, memory + min_bump)


# --- percentile: KRR's `simple` strategy ----------------------------------------------------


class PercentileSettings(StrategySettings):
    history_hours: float = Field(
        default=336, gt=0, description="Hours of usage history (KRR: 336)."
    )
    cpu_percentile: float = Field(
        default=95, gt=0, le=100, description="CPU request at this percentile of usage (KRR: 95)."
    )
    cpu_buffer_percent: float = Field(
        default=0, ge=0, description="Added on top of the CPU percentile."
    )
    memory_percentile: float = Field(
        default=100,
        gt=0,
        le=100,
        description="Memory at this percentile of usage (100: the peak, KRR).",
    )
    memory_buffer_percent: float = Field(
        default=15, ge=0, description="Added on top of the memory peak (KRR: 15)."
    )
    use_oomkill_data: bool = Field(
        default=False, description="Raise memory above the limit an OOM-killed container died at."
    )
    oom_memory_buffer_percent: float = Field(
        default=25,
        ge=0,
        description="With OOM data: memory at least this much above the OOM limit.",
    )


class PercentileStrategy(Strategy[PercentileSettings]):
    """KRR-style: CPU request at a percentile of usage, memory request = limit = peak + buffer.

    Facts from KRR's `simple` strategy: CPU percentile 95 over 336h, memory at the peak plus
    15% as both request and limit, OOM data off by default (+25% over the OOM limit when on).
    KRR leaves the CPU limit unset; scaler keeps the current CPU limit unless told otherwise.
    """

    name = "percentile"
    summary = "KRR-style: CPU at a usage percentile, memory request = limit = peak + buffer"
    settings_model = PercentileSettings
    policy_fields = {
        "cpu.percentile": "cpu_percentile",
        "cpu.headroomPercent": "cpu_buffer_percent",
        "memory.percentile": "memory_percentile",
        "memory.headroomPercent": "memory_buffer_percent",
    }

    def propose(
        self, history: ContainerHistory, current: CurrentResources, containers_in_pod: int
    ) -> Proposal:
        s = self.settings
        cpu_p = float(np.percentile(history.cpu, s.cpu_percentile))
        cpu = cpu_p * (1 + s.cpu_buffer_percent / 100)
        mem_base = float(np.percentile(history.memory, s.memory_percentile))
        memory = mem_base * (1 + s.memory_buffer_percent / 100)
        what = "peak" if s.memory_percentile >= 100 else f"p{s.memory_percentile:g}"
        notes = [
            f"CPU p{s.cpu_percentile:g} {_cores(cpu_p)}"
            + (f" +{s.cpu_buffer_percent:g}%" if s.cpu_buffer_percent else ""),
            f"memory {what} {_mib(mem_base)} +{s.memory_buffer_percent:g}%",
        ]
        if s.use_oomkill_data and history.oom_events:
            died = max(e.memory for e in history.oom_events)
            bumped = died * (1 + s.oom_memory_buffer_percent / 100)
            if bumped > memory:
                memory = bumped
                notes.append(f"OOM-killed at {_mib(died)}: +{s.oom_memory_buffer_percent:g}%")
        return Proposal(
            cpu_request=cpu, memory_request=memory, memory_limit=memory, notes=tuple(notes)
        )


# --- vpa: the VPA recommender's estimators ---------------------------------------------------


class VpaSettings(StrategySettings):
    history_hours: float = Field(
        default=192, gt=0, description="Hours of history (VPA: 8 memory intervals of 24h)."
    )
    cpu_half_life_hours: float = Field(default=24, gt=0, description="CPU sample weight half-life.")
    memory_half_life_hours: float = Field(
        default=24, gt=0, description="Memory peak weight half-life."
    )
    memory_aggregation_hours: float = Field(
        default=24, gt=0, description="One memory peak per pod per this many hours."
    )
    target_cpu_percentile: float = Field(
        default=90, gt=0, le=100, description="CPU target percentile."
    )
    lower_cpu_percentile: float = Field(default=50, gt=0, le=100, description="CPU lower bound.")
    upper_cpu_percentile: float = Field(default=95, gt=0, le=100, description="CPU upper bound.")
    target_memory_percentile: float = Field(
        default=90, gt=0, le=100, description="Memory target percentile (of the peaks)."
    )
    lower_memory_percentile: float = Field(
        default=50, gt=0, le=100, description="Memory lower bound."
    )
    upper_memory_percentile: float = Field(
        default=95, gt=0, le=100, description="Memory upper bound."
    )
    safety_margin_percent: float = Field(default=15, ge=0, description="Added to every estimate.")
    pod_min_cpu_millicores: float = Field(
        default=25, ge=0, description="Pod minimum CPU, split evenly over its containers."
    )
    pod_min_memory_mib: float = Field(
        default=250, ge=0, description="Pod minimum memory (MiB), split evenly over its containers."
    )
    oom_bump_ratio: float = Field(
        default=1.2, ge=1, description="After an OOM kill: memory x this."
    )
    oom_min_bump_mib: float = Field(
        default=100, ge=0, description="After an OOM kill: at least +this."
    )
    cpu_first_bucket_cores: float = Field(default=0.01, gt=0, description="First CPU bucket size.")
    memory_first_bucket_bytes: float = Field(
        default=1e7, gt=0, description="First memory bucket size."
    )
    bucket_growth_percent: float = Field(
        default=5, gt=0, description="Each bucket this much wider."
    )
    confidence_interval_hours: float = Field(
        default=24, gt=0, description="History length per unit of confidence."
    )


class VpaStrategy(Strategy[VpaSettings]):
    """VPA-recommender-style: decaying histograms, target/lower/upper percentiles, margin,
    pod minimums, OOM bump and confidence-widened bounds; limits kept proportional."""

    name = "vpa"
    summary = "VPA-style: decaying histograms, p90 target, OOM bump, proportional limits"
    settings_model = VpaSettings
    policy_fields = {
        "cpu.percentile": "target_cpu_percentile",
        "memory.percentile": "target_memory_percentile",
        "cpu.headroomPercent": "safety_margin_percent",
        "memory.headroomPercent": "safety_margin_percent",
    }

    def propose(
        self, history: ContainerHistory, current: CurrentResources, containers_in_pod: int
    ) -> Proposal:
        s = self.settings
        ratio = 1 + s.bucket_growth_percent / 100
        margin = 1 + s.safety_margin_percent / 100
        fraction = 1.0 / max(1, containers_in_pod)
        min_cpu = s.pod_min_cpu_millicores / 1000 * fraction
        min_mem = s.pod_min_memory_mib * MiB * fraction

        cpu_buckets = ExponentialBuckets(1000.0, s.cpu_first_bucket_cores, ratio)
        # The VPA weighs CPU samples by the request (at least 0.1): constant here, so only
        # the decay matters for the percentiles.
        w = max(current.cpu_request or 0.0, 0.1)
        cpu_w = w * decay_weights(history.cpu_t, history.end, s.cpu_half_life_hours * HOUR)
        cpu_hist = cpu_buckets.histogram(history.cpu, cpu_w)

        peaks_t, peaks = memory_peaks(history, s.memory_aggregation_hours * HOUR)
        oom_notes: list[str] = []
        if history.oom_events:
            bumped_t, bumped = [], []
            for e in history.oom_events:
                used = max(e.memory, _peak_near(peaks_t, peaks, e.at, s.memory_aggregation_hours))
                bumped.append(oom_bump(used, s.oom_bump_ratio, s.oom_min_bump_mib * MiB))
                bumped_t.append(e.at)
            peaks_t = np.concatenate([peaks_t, np.asarray(bumped_t)])
            peaks = np.concatenate([peaks, np.asarray(bumped)])
            oom_notes.append(
                f"{len(history.oom_events)} OOM kill(s): memory sample raised to "
                f"{_mib(max(bumped))}"
            )
        mem_buckets = ExponentialBuckets(1e12, s.memory_first_bucket_bytes, ratio)
        mem_w = decay_weights(peaks_t, history.end, s.memory_half_life_hours * HOUR)
        mem_hist = mem_buckets.histogram(peaks, mem_w)

        def est(buckets: ExponentialBuckets, hist: Array, p: float) -> float:
            return buckets.percentile(hist, p / 100) * margin

        cpu_target = max(est(cpu_buckets, cpu_hist, s.target_cpu_percentile), min_cpu)
        cpu_lower = max(est(cpu_buckets, cpu_hist, s.lower_cpu_percentile), min_cpu)
        cpu_upper = max(est(cpu_buckets, cpu_hist, s.upper_cpu_percentile), min_cpu)
        mem_target = max(est(mem_buckets, mem_hist, s.target_memory_percentile), min_mem)
        mem_lower = max(est(mem_buckets, mem_hist, s.lower_memory_percentile), min_mem)
        mem_upper = max(est(mem_buckets, mem_hist, s.upper_memory_percentile), min_mem)

        # Confidence in days of history: the lifespan, or the samples' worth of time,
        # whichever is less. Upper bound x (1 + 1/c), lower bound x (1 + 0.001/c)^-2.
        samples_days = history.cpu.size * history.step / (s.confidence_interval_hours * HOUR)
        span_days = history.span_seconds / (s.confidence_interval_hours * HOUR)
        conf = min(span_days, samples_days)
        up = math.inf if conf <= 0 else 1 + 1 / conf
        low = 0.0 if conf <= 0 else (1 + 0.001 / conf) ** -2
        cpu_bounds = (float(max(cpu_lower * low, min_cpu)), float(max(cpu_upper * up, min_cpu)))
        mem_bounds = (float(max(mem_lower * low, min_mem)), float(max(mem_upper * up, min_mem)))

        cpu_limit = mem_limit = None
        if current.cpu_limit and current.cpu_request:
            cpu_limit = cpu_target * current.cpu_limit / current.cpu_request
        if current.memory_limit and current.memory_request:
            mem_limit = mem_target * current.memory_limit / current.memory_request
        notes = (
            f"CPU p{s.target_cpu_percentile:g} of decaying histogram +{s.safety_margin_percent:g}%"
            f" = {_cores(cpu_target)}",
            f"memory p{s.target_memory_percentile:g} of {peaks.size} daily peaks "
            f"+{s.safety_margin_percent:g}% = {_mib(mem_target)}",
            *oom_notes,
            f"confidence {conf:.1f} d",
        )
        return Proposal(
            cpu_request=cpu_target,
            memory_request=mem_target,
            cpu_limit=cpu_limit,
            memory_limit=mem_limit,
            cpu_bounds=cpu_bounds,
            memory_bounds=mem_bounds,
            notes=notes,
        )


def memory_peaks(history: ContainerHistory, interval: float) -> tuple[Array, Array]:
    """One peak per pod per aggregation interval, stamped at the interval's end (VPA)."""
    counts = history.memory_pods or (history.memory.size,)
    out_t: list[Array] = []
    out_v: list[Array] = []
    start = 0
    for n in counts:
        t = history.memory_t[start : start + n]
        v = history.memory[start : start + n]
        start += n
        if t.size == 0:
            continue
        t0 = float(t.min())
        k = np.floor((t - t0) / interval).astype(np.int64)
        peaks = np.full(int(k.max()) + 1, -np.inf)
        np.maximum.at(peaks, k, v)
        seen = np.isfinite(peaks)
        idx = np.nonzero(seen)[0]
        out_t.append(np.minimum(t0 + (idx + 1) * interval, history.end))
        out_v.append(peaks[seen])
    if not out_t:
        return np.empty(0), np.empty(0)
    return np.concatenate(out_t), np.concatenate(out_v)


def _peak_near(peaks_t: Array, peaks: Array, at: float, interval_hours: float) -> float:
    """The highest peak of the interval an OOM kill fell in (0 if none)."""
    near = (peaks_t >= at) & (peaks_t <= at + interval_hours * HOUR)
    return float(peaks[near].max()) if near.any() else 0.0


# --- scaler: the default -------------------------------------------------------------------


class ScalerSettings(StrategySettings):
    history_hours: float = Field(default=336, gt=0, description="Hours of usage history.")
    cpu_percentile: float = Field(
        default=95, gt=0, le=100, description="CPU request at this percentile of usage."
    )
    cpu_buffer_percent: float = Field(
        default=0, ge=0, description="Added on top of the CPU percentile."
    )
    memory_percentile: float = Field(
        default=99,
        gt=0,
        le=100,
        description="Memory at this percentile of usage (then the buffer).",
    )
    memory_buffer_percent: float = Field(
        default=15,
        ge=0,
        description="Added on top of the memory percentile (scaler: never below the peak).",
    )
    memory_limit_margin_percent: float = Field(
        default=15, ge=0, description="Memory limit: the peak (or its trend) plus this margin."
    )
    growth_horizon_hours: float = Field(
        default=168,
        ge=0,
        description="Project the trend of daily memory peaks this far for the limit.",
    )
    oom_bump_ratio: float = Field(
        default=1.2, ge=1, description="After an OOM kill: memory x this."
    )
    oom_min_bump_mib: float = Field(
        default=100, ge=0, description="After an OOM kill: at least +this."
    )
    max_confidence_widening_percent: float = Field(
        default=50, ge=0, description="Short history widens the limit by up to this (1/days)."
    )


class ScalerStrategy(Strategy[ScalerSettings]):
    """scaler's default: requests that cover what was used, limits that cover what is coming.

    CPU request at p95 (as KRR). Memory request at p99 + 15% but never below the observed
    peak. The memory limit, which costs no node capacity, takes the safety: the peak + 15%,
    or the trend of daily peaks projected a week ahead + 15%, whichever is higher, widened
    when history is short, and after an OOM kill at least the VPA's bump over what the
    container died at (request too).
    """

    name = "scaler"
    summary = "default: CPU p95, memory request >= peak, limit = peak/trend + margin, OOM bump"
    settings_model = ScalerSettings
    policy_fields = {
        "cpu.percentile": "cpu_percentile",
        "cpu.headroomPercent": "cpu_buffer_percent",
        "memory.percentile": "memory_percentile",
        "memory.headroomPercent": "memory_buffer_percent",
    }

    def propose(
        self, history: ContainerHistory, current: CurrentResources, containers_in_pod: int
    ) -> Proposal:
        s = self.settings
        cpu_p = float(np.percentile(history.cpu, s.cpu_percentile))
        cpu = cpu_p * (1 + s.cpu_buffer_percent / 100)
        peak = float(history.memory.max())
        mem_p = float(np.percentile(history.memory, s.memory_percentile))
        memory = max(peak, mem_p * (1 + s.memory_buffer_percent / 100))
        margin = 1 + s.memory_limit_margin_percent / 100
        notes = [
            f"CPU p{s.cpu_percentile:g} {_cores(cpu_p)}"
            + (f" +{s.cpu_buffer_percent:g}%" if s.cpu_buffer_percent else ""),
            f"memory p{s.memory_percentile:g} {_mib(mem_p)} +{s.memory_buffer_percent:g}%, "
            f"at least the peak {_mib(peak)}",
        ]
        base = peak
        trend = projected_peak(history, s.growth_horizon_hours * HOUR)
        if trend is not None and trend > peak:
            base = trend
            notes.append(f"daily peaks grow: {_mib(trend)} expected in {s.growth_horizon_hours:g}h")
        days = history.span_seconds / DAY
        widen = 1 + min(s.max_confidence_widening_percent / 100, 1 / days if days > 0 else 1.0)
        limit = base * margin * widen
        if history.oom_events:
            died = max(e.memory for e in history.oom_events)
            bumped = oom_bump(max(died, peak), s.oom_bump_ratio, s.oom_min_bump_mib * MiB)
            memory = max(memory, bumped)
            limit = max(limit, bumped * margin)
            notes.append(
                f"OOM-killed at {_mib(died)}: request >= {_mib(bumped)}, limit +"
                f"{s.memory_limit_margin_percent:g}% over it"
            )
        limit = max(limit, memory)
        notes.append(f"limit {_mib(limit)}")
        return Proposal(
            cpu_request=cpu, memory_request=memory, memory_limit=limit, notes=tuple(notes)
        )


def projected_peak(history: ContainerHistory, horizon: float) -> float | None:
    """The least-squares trend of daily memory peaks, evaluated `horizon` after the end.

    None with fewer than three days of peaks or no upward trend.
    """
    if history.memory.size == 0 or horizon <= 0:
        return None
    day = np.floor((history.end - history.memory_t) / DAY).astype(np.int64)
    days = int(day.max()) + 1
    if days < 3:
        return None
    peaks = np.full(days, -np.inf)
    np.maximum.at(peaks, day, history.memory)
    seen = np.isfinite(peaks)
    if seen.sum() < 3:
        return None
    x = -np.nonzero(seen)[0].astype(np.float64)  # days before the end (0: the last day)
    y = peaks[seen]
    slope, intercept = np.polyfit(x, y, 1)
    if slope <= 0:
        return None
    return float(intercept + slope * horizon / DAY)


# --- registry ---------------------------------------------------------------------------------

STRATEGIES: dict[str, type[Strategy[StrategySettings]]] = {
    cls.name: cls  # type: ignore[misc]
    for cls in (ScalerStrategy, PercentileStrategy, VpaStrategy)
}
DEFAULT_STRATEGY = ScalerStrategy.name


def make_strategy(
    name: str, settings: dict[str, object] | None = None
) -> Strategy[StrategySettings]:
    """A strategy by name with settings (validated by its pydantic model)."""
    cls = STRATEGIES[name]
    return cls(cls.settings_model.model_validate(settings or {}))
