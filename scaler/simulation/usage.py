"""Usage series for replays and offline runs: seeded daily cycles, bursts, growth, and a real
request trace turned into container usage.

Every generator is deterministic for a seed. Units: cores and bytes, one sample per `step`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scaler.core.rightsizing.evaluate import UsageSeries
from scaler.core.rightsizing.model import DAY, HOUR, Array, CurrentResources, MiB
from scaler.errors import UserError
from scaler.numbers import parse_float
from scaler.times import parse_rfc3339

PATTERNS = ("daily", "weekly", "bursty", "growing", "batch", "leak")


@dataclass(frozen=True, slots=True)
class TraceProfile:
    """A real request trace as two demand curves on a `bucket`-second grid, each scaled to a
    mean of 1: work (generated tokens per second: compute) and in-flight context tokens (the
    KV cache a server holds: memory)."""

    name: str
    bucket: float
    work: Array
    inflight: Array


def read_trace(path: Path, bucket: float = 10.0, seconds_per_token: float = 0.02) -> TraceProfile:
    """An Azure LLM inference trace (TIMESTAMP, ContextTokens, GeneratedTokens) as a profile.

    A request holds its context for as long as it generates (`seconds_per_token` each).
    """
    starts: list[float] = []
    ctx: list[float] = []
    gen: list[float] = []
    try:
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                stamp = row["TIMESTAMP"][:26]
                at = parse_rfc3339(stamp)
                starts.append(at.timestamp())
                ctx.append(parse_float(row["ContextTokens"], "ContextTokens", minimum=0,
                                       maximum=1e12))
                gen.append(parse_float(row["GeneratedTokens"], "GeneratedTokens", minimum=0,
                                       maximum=1e12))
    except UserError as err:
        raise err.located(file=str(path)) from None
    except (OSError, KeyError, ValueError, TypeError, AttributeError, OverflowError,
            csv.Error) as err:
        text = " ".join(str(err).split())[:200]
        raise UserError(f"cannot read the trace: {text}", file=str(path)) from None
    if not starts:
        raise UserError("the trace has no rows", file=str(path))
    t = np.asarray(starts) - min(starts)
    c, g = np.asarray(ctx), np.asarray(gen)
    n = int(t.max() // bucket) + 1
    work = np.bincount((t // bucket).astype(np.int64), weights=g, minlength=n) / bucket
    # In-flight context per bucket: add at start, remove at end, cumulative sum.
    ends = t + g * seconds_per_token
    delta = np.zeros(n + 1)
    np.add.at(delta, np.minimum((t // bucket).astype(np.int64), n), c)
    np.add.at(delta, np.minimum((ends // bucket).astype(np.int64) + 1, n), -c)
    inflight = np.cumsum(delta)[:n]
    return TraceProfile(
        name=path.stem,
        bucket=bucket,
        work=work / max(work.mean(), 1e-9),
        inflight=inflight / max(inflight.mean(), 1e-9),
    )


def _daily(t: Array, phase: float) -> Array:
    """0..1 daily cycle peaking in the afternoon."""
    return 0.5 + 0.5 * np.sin(2 * np.pi * (t / DAY - phase))


def generate(
    pattern: str,
    seed: int,
    *,
    days: float = 28,
    step: float = 300,
    trace: TraceProfile | None = None,
    name: str | None = None,
) -> UsageSeries:
    """One container's usage of a kind, with the over-provisioned requests it started with."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, days * DAY, step, dtype=np.float64)
    n = t.size
    phase = rng.uniform(0, 1)
    base_cpu = rng.uniform(0.05, 1.5)
    base_mem = rng.uniform(128, 2048) * MiB
    day = _daily(t, phase)
    noise = rng.gamma(4, 0.25, n)  # mean 1
    cpu = base_cpu * (0.35 + 0.65 * day) * noise
    mem = base_mem * (0.8 + 0.15 * day + 0.03 * rng.standard_normal(n))
    if pattern == "weekly":
        weekend = ((t // DAY) % 7) >= 5
        cpu = np.where(weekend, cpu * 0.4, cpu)
        mem = np.where(weekend, mem * 0.9, mem)
    elif pattern == "bursty":
        # A few bursts a day, minutes to an hour long, 2-5x the CPU and up to +40% memory.
        for _ in range(int(days * rng.uniform(1, 4))):
            at = int(rng.integers(0, n))
            length = int(max(1, rng.uniform(300, 3600) // step))
            cpu[at : at + length] *= rng.uniform(2, 5)
            mem[at : at + length] *= 1 + rng.uniform(0.05, 0.4)
    elif pattern == "growing":
        # Traffic grows 1-4% a day: both resources follow.
        growth = (1 + rng.uniform(0.01, 0.04)) ** (t / DAY)
        cpu, mem = cpu * growth, mem * (1 + (growth - 1) * 0.7)
    elif pattern == "leak":
        # A slow memory leak, reset by a restart every few days.
        period = rng.uniform(3, 9) * DAY
        mem = mem * (1 + rng.uniform(0.1, 0.5) * ((t % period) / period))
    elif pattern == "batch":
        # Mostly idle, with a nightly job.
        night = ((t % DAY) / HOUR + phase * 24) % 24 < rng.uniform(1, 3)
        cpu = np.where(night, base_cpu * 4 * noise, cpu * 0.1)
        mem = np.where(night, base_mem * 1.6, mem * 0.6)
    elif pattern.startswith("trace"):
        if trace is None:
            raise ValueError("a trace pattern needs a TraceProfile")
        cpu, mem = _from_trace(trace, t, step, rng, base_cpu, base_mem, day)
    elif pattern != "daily":
        raise ValueError(f"unknown pattern {pattern!r} (one of {', '.join(PATTERNS)}, trace)")
    cpu = np.maximum(cpu, 0.001)
    mem = np.maximum(mem, 16 * MiB)
    # Requests teams set by hand: well above the typical use, sometimes below the peak.
    warm = t < 14 * DAY
    cpu_req = round(float(np.percentile(cpu[warm], 95)) * rng.uniform(1.2, 3.0), 3)
    mem_req = float(math.ceil(float(mem[warm].max()) * rng.uniform(1.1, 2.5) / MiB)) * MiB
    mem_limit = mem_req if rng.uniform() < 0.5 else mem_req * 1.5
    return UsageSeries(
        name=name or f"{pattern}-{seed}",
        t=t,
        cpu=cpu,
        memory=mem,
        step=step,
        current=CurrentResources(
            cpu_request=cpu_req, cpu_limit=None, memory_request=mem_req, memory_limit=mem_limit
        ),
    )


def _from_trace(
    trace: TraceProfile,
    t: Array,
    step: float,
    rng: np.random.Generator,
    base_cpu: float,
    base_mem: float,
    day: Array,
) -> tuple[Array, Array]:
    """The trace's real burstiness inside each step, its hour replayed from a random offset
    for each hour of the series, scaled by a daily cycle."""
    # A trace shorter than one step still gives one step.
    per_step = max(1, min(int(round(step / trace.bucket)), trace.work.size))
    usable = (trace.work.size // per_step) * per_step
    work = trace.work[:usable].reshape(-1, per_step)
    inflight = trace.inflight[:usable].reshape(-1, per_step)
    # Compute averages over a step; memory is the step's peak (what the working set shows).
    w_step, m_step = work.mean(axis=1), inflight.max(axis=1)
    steps_per_hour = max(1, int(HOUR // step))
    idx = np.empty(t.size, dtype=np.int64)
    for h0 in range(0, t.size, steps_per_hour):
        off = int(rng.integers(0, w_step.size))
        k = np.arange(min(steps_per_hour, t.size - h0))
        idx[h0 : h0 + k.size] = (off + k) % w_step.size
    cpu = base_cpu * (0.3 + 0.7 * day) * w_step[idx]
    mem = base_mem * (0.6 + 0.1 * day) + base_mem * 0.3 * m_step[idx] / max(m_step.max(), 1e-9)
    return cpu, mem


def population(
    seed: int,
    count: int,
    *,
    days: float = 28,
    step: float = 300,
    traces: Sequence[TraceProfile] = (),
) -> list[UsageSeries]:
    """A seeded mix of every pattern (and the traces, when given)."""
    kinds = list(PATTERNS) + [f"trace:{tr.name}" for tr in traces]
    out: list[UsageSeries] = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        trace = next((tr for tr in traces if f"trace:{tr.name}" == kind), None)
        out.append(
            generate(kind, seed * 10_000 + i, days=days, step=step, trace=trace, name=f"{kind}-{i}")
        )
    return out
