"""The walk-forward replay the benchmark runs, and the usage series it runs on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scaler.core.rightsizing import CommonSettings, CurrentResources, make_strategy
from scaler.core.rightsizing.cost import UnitPrices, unit_prices
from scaler.core.rightsizing.evaluate import UsageSeries, replay
from scaler.core.rightsizing.model import DAY, MiB
from scaler.simulation.usage import PATTERNS, generate, population, read_trace

PRICES = UnitPrices(0.04, 0.005, "test")
STEP = 300.0


def step_up_series() -> UsageSeries:
    """Flat for three weeks, then memory jumps 50%: only the future shows it."""
    t = np.arange(0, 28 * DAY, STEP)
    mem = np.where(t < 21 * DAY, 400 * MiB, 600 * MiB)
    return UsageSeries(
        "jump",
        t,
        np.full(t.size, 0.2),
        mem.astype(float),
        STEP,
        CurrentResources(1.0, None, 2048 * MiB, 2048 * MiB),
    )


def test_recommendations_see_only_the_past_and_learn_from_their_ooms() -> None:
    score = replay(make_strategy("percentile"), step_up_series(), PRICES, CommonSettings())
    assert score.reviews == 2  # day 14 and day 21
    # Recommended at day 21 from flat history: 460Mi, so the last week is over the limit.
    assert score.share(score.memory_over_limit) == pytest.approx(0.5, abs=0.01)
    assert score.oom_kills == 7  # one a day, fed back (KRR ignores them by default)
    assert score.cpu_saving == pytest.approx(1 - 0.2 / 1.0, abs=0.01)
    vpa = replay(make_strategy("vpa"), step_up_series(), PRICES, CommonSettings())
    assert vpa.oom_kills == 7  # the kills come after its last review, too late to help


def test_savings_are_priced_against_the_original_requests() -> None:
    s = replay(make_strategy("scaler"), step_up_series(), PRICES, CommonSettings())
    assert 0 < s.saving < 1
    assert s.cost_current == pytest.approx(s.intervals * PRICES.per_hour(1.0, 2048 * MiB))


def test_generated_series_are_seeded_and_cover_every_pattern() -> None:
    a, b = generate("bursty", 3), generate("bursty", 3)
    assert np.array_equal(a.cpu, b.cpu) and a.current == b.current
    assert not np.array_equal(generate("bursty", 4).cpu, a.cpu)
    mix = population(1, len(PATTERNS))
    assert [s.name.split("-")[0] for s in mix] == list(PATTERNS)
    grow = generate("growing", 5)
    day = int(DAY / STEP)
    assert grow.memory[-day:].mean() > grow.memory[:day].mean() * 1.1


def test_trace_turns_into_compute_and_in_flight_memory(tmp_path: Path) -> None:
    csv = tmp_path / "trace.csv"
    csv.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:00:00.0000000,1000,100\n"  # holds 1000 tokens for 2 s
        "2023-11-16 18:00:01.0000000,3000,500\n"  # 3000 tokens for 10 s
        "2023-11-16 18:00:25.0000000,500,10\n"
    )
    tr = read_trace(csv, bucket=10.0)
    assert tr.work.size == 3 and tr.work.mean() == pytest.approx(1.0)
    # 0-10 s: 4000 in flight; 10-20 s: the long request still holds 3000; 20-30 s: 500.
    assert list(np.round(tr.inflight * (4000 + 3000 + 500) / 3)) == [4000, 3000, 500]
    series = generate("trace", 2, days=2, trace=tr)
    assert series.cpu.size == int(2 * DAY / STEP) and (series.memory > 0).all()


def test_catalog_unit_prices_split_cpu_and_memory() -> None:
    from pricing import load_catalog

    p = unit_prices(load_catalog("us-east-1").instance_types)
    # m5.large (2 vCPU, 8 GiB) is $0.096/h on demand in us-east-1.
    assert p.per_hour(2, 8 * 2**30) == pytest.approx(0.096, rel=0.15)
    assert p.cpu_core_hour > 4 * p.memory_gib_hour
