"""Right-sizing maths: the strategies' facts (KRR, VPA) and what scaler adds on top."""

from __future__ import annotations

import numpy as np
import pytest

from scaler.core.rightsizing import (
    CommonSettings,
    ContainerHistory,
    CurrentResources,
    HpaTarget,
    OomEvent,
    make_strategy,
    recommend,
)
from scaler.core.rightsizing.histogram import ExponentialBuckets, decay_weights
from scaler.core.rightsizing.model import DAY, MiB

STEP = 300.0
LOOSE = CommonSettings(cpu_min=0, memory_min=0, cpu_step_millicores=1, min_change_percent=0)


def history(
    cpu: np.ndarray,
    mem: np.ndarray,
    *,
    days: float | None = None,
    ooms: tuple[OomEvent, ...] = (),
) -> ContainerHistory:
    n = cpu.size
    end = n * STEP
    t = np.arange(n) * STEP
    return ContainerHistory.of(
        cpu=(t, cpu), memory=(t, mem), step=STEP, end=end, oom_events=ooms, memory_pods=(n,)
    )


def days_of(d: float) -> int:
    return int(d * DAY / STEP)


CUR = CurrentResources(
    cpu_request=2.0, cpu_limit=None, memory_request=2048 * MiB, memory_limit=2048 * MiB
)


def ramp(d: float = 14) -> ContainerHistory:
    n = days_of(d)
    cpu = np.linspace(0.0, 1.0, n)  # p95 = 0.95
    mem = np.full(n, 400 * MiB)
    mem[n // 2] = 500 * MiB  # one peak
    return history(cpu, mem)


def test_percentile_is_krr_simple_cpu_p95_memory_peak_plus_15_as_request_and_limit() -> None:
    r = recommend(make_strategy("percentile"), ramp(), CUR, LOOSE)
    assert r.cpu_request == pytest.approx(0.95, abs=0.0015)
    assert r.memory_request == pytest.approx(500 * 1.15 * MiB, abs=MiB)
    assert r.memory_limit == r.memory_request
    assert r.cpu_limit is None


def test_krr_default_history_is_336_hours() -> None:
    n = days_of(20)
    cpu = np.full(n, 0.1)
    cpu[: days_of(5)] = 5.0  # older than 14 days: not seen
    r = recommend(make_strategy("percentile"), history(cpu, np.full(n, 100 * MiB)), CUR, LOOSE)
    assert r.cpu_request == pytest.approx(0.1)
    assert r.history_hours == pytest.approx(336, abs=0.1)


def test_not_enough_data_gives_no_recommendation_and_says_why() -> None:
    short = history(np.full(50, 0.2), np.full(50, 100 * MiB))
    r = recommend(make_strategy("scaler"), short, CUR)
    assert r.cpu_request is None and not r.changes
    assert r.reason.startswith("not enough data: 50 points over 4.2h")
    assert r.risk == "unknown"


def test_vpa_buckets_grow_by_5_percent_from_10_millicores() -> None:
    b = ExponentialBuckets(1000.0, 0.01, 1.05)
    assert b.starts[1] == pytest.approx(0.01)
    assert b.starts[2] - b.starts[1] == pytest.approx(0.0105)
    # A percentile answers the end of the bucket it falls in.
    hist = b.histogram(np.array([0.5]), np.array([1.0]))
    i = int(b.index(np.array([0.5]))[0])
    assert b.percentile(hist, 0.9) == pytest.approx(b.starts[i + 1])
    assert b.starts[i] <= 0.5 < b.starts[i + 1]


def test_a_sample_one_half_life_old_weighs_half() -> None:
    w = decay_weights(np.array([0.0, DAY]), DAY, DAY)
    assert list(w) == [0.5, 1.0]


def test_vpa_target_is_p90_plus_15_percent_with_p50_and_p95_bounds() -> None:
    n = days_of(8)
    rng = np.random.default_rng(3)
    cpu = rng.uniform(0.1, 1.0, n)
    r = recommend(make_strategy("vpa"), history(cpu, np.full(n, 300 * MiB)), CUR, LOOSE)
    assert r.cpu_request is not None and r.cpu_bounds is not None
    # Recent samples weigh more, but a stationary uniform sample keeps p90 near 0.91.
    assert r.cpu_request == pytest.approx(0.91 * 1.15, rel=0.06)
    low, up = r.cpu_bounds
    assert low == pytest.approx(0.55 * 1.15, rel=0.08)
    assert up == pytest.approx(0.955 * 1.15 * (1 + 1 / 8), rel=0.08)


def test_vpa_upper_bound_widens_with_little_history() -> None:
    def upper(d: float) -> float:
        n = days_of(d)
        h = history(np.full(n, 0.5), np.full(n, 300 * MiB))
        r = recommend(make_strategy("vpa"), h, CUR, LOOSE)
        assert r.cpu_bounds is not None
        return r.cpu_bounds[1]

    assert upper(1) == pytest.approx(2 * upper(8) / (1 + 1 / 8), rel=0.01)


def test_vpa_pod_minimums_are_split_over_containers() -> None:
    n = days_of(2)
    tiny = history(np.full(n, 0.001), np.full(n, 5 * MiB))
    r = recommend(make_strategy("vpa"), tiny, CUR, LOOSE, containers_in_pod=2)
    assert r.cpu_request == pytest.approx(0.013)  # 25m / 2, rounded up to a millicore
    assert r.memory_request == pytest.approx(125 * MiB)


def test_vpa_memory_rises_above_what_an_oom_killed_container_died_at() -> None:
    n = days_of(8)
    mem = np.full(n, 480 * MiB)
    calm = recommend(make_strategy("vpa"), history(np.full(n, 0.2), mem), CUR, LOOSE)
    oom = OomEvent(at=n * STEP - 3600, memory=512 * MiB)
    hit = recommend(make_strategy("vpa"), history(np.full(n, 0.2), mem, ooms=(oom,)), CUR, LOOSE)
    assert calm.memory_request is not None and hit.memory_request is not None
    assert hit.memory_request > calm.memory_request
    # max(512Mi * 1.2, 512Mi + 100Mi) = 614.4Mi, plus the 15% margin, bucket-rounded up.
    assert hit.memory_request >= 614.4 * MiB * 1.15
    assert hit.risk == "high" and hit.oom_kills == 1


def test_vpa_keeps_limits_proportional() -> None:
    cur = CurrentResources(1.0, 2.0, 1024 * MiB, 1536 * MiB)
    n = days_of(8)
    r = recommend(make_strategy("vpa"), history(np.full(n, 0.2), np.full(n, 300 * MiB)), cur, LOOSE)
    assert r.cpu_limit == pytest.approx(2 * r.cpu_request, abs=0.002)  # type: ignore[operator]
    assert r.memory_limit == pytest.approx(1.5 * r.memory_request, abs=MiB)  # type: ignore[operator]


def test_scaler_memory_request_covers_the_peak_and_the_limit_adds_the_margin() -> None:
    r = recommend(make_strategy("scaler"), ramp(), CUR, LOOSE)
    assert r.memory_request is not None and r.memory_limit is not None
    assert r.memory_request >= 500 * MiB
    assert r.memory_request < 500 * 1.15 * MiB  # p99 + 15% would be 460Mi: the peak wins
    assert r.memory_limit >= 500 * 1.15 * MiB


def test_scaler_limit_follows_the_growth_of_daily_peaks() -> None:
    n = days_of(14)
    t = np.arange(n) * STEP
    flat = history(np.full(n, 0.2), np.full(n, 400 * MiB))
    growing = history(np.full(n, 0.2), (300 + 10 * t / DAY) * MiB)  # +10Mi a day
    r_flat = recommend(make_strategy("scaler"), flat, CUR, LOOSE)
    r_grow = recommend(make_strategy("scaler"), growing, CUR, LOOSE)
    assert r_grow.memory_limit is not None and r_flat.memory_limit is not None
    # The peak is ~440Mi; a week ahead ~510Mi: the limit is sized for that.
    assert r_grow.memory_limit >= 505 * 1.15 * MiB
    assert "daily peaks grow" in r_grow.reason


def test_scaler_after_an_oom_raises_request_and_limit_above_the_kill() -> None:
    n = days_of(14)
    oom = OomEvent(at=n * STEP - 7200, memory=512 * MiB)
    h = history(np.full(n, 0.2), np.full(n, 450 * MiB), ooms=(oom,))
    r = recommend(make_strategy("scaler"), h, CUR, LOOSE)
    assert r.memory_request is not None and r.memory_limit is not None
    assert r.memory_request >= 614.4 * MiB
    assert r.memory_limit >= 614.4 * MiB * 1.15
    assert "OOM-killed at 512Mi" in r.reason


def test_rounding_minimums_and_maximums() -> None:
    n = days_of(2)
    h = history(np.full(n, 0.1234), np.full(n, 300.2 * MiB))
    r = recommend(make_strategy("percentile"), h, CUR, CommonSettings())
    assert r.cpu_request == pytest.approx(0.125)  # up to a 5m step
    assert r.memory_request == pytest.approx(346 * MiB)  # 345.23Mi up to a whole Mi
    capped = recommend(
        make_strategy("percentile"), h, CUR, CommonSettings(cpu_max=0.05, memory_min=512 * MiB)
    )
    assert capped.cpu_request == pytest.approx(0.05)
    assert capped.memory_request == pytest.approx(512 * MiB)
    assert "capped at the maximum 50m" in capped.reason


def test_small_changes_are_left_alone() -> None:
    n = days_of(2)
    h = history(np.full(n, 0.5), np.full(n, 300 * MiB))
    cur = CurrentResources(0.52, None, 346 * MiB, 346 * MiB)
    r = recommend(make_strategy("percentile"), h, cur, CommonSettings())
    assert not r.changes
    assert "within 10%" in r.reason


def test_limits_modes() -> None:
    n = days_of(2)
    h = history(np.full(n, 0.5), np.full(n, 300 * MiB))
    cur = CurrentResources(1.0, 2.0, 1024 * MiB, 2048 * MiB)

    def run(mode: str) -> tuple[float | None, float | None]:
        r = recommend(make_strategy("percentile"), h, cur, CommonSettings(limits=mode))  # type: ignore[arg-type]
        return r.cpu_limit, r.memory_limit

    assert run("keep") == (2.0, 2048 * MiB)
    assert run("remove") == (None, None)
    cpu_l, mem_l = run("proportional")
    assert cpu_l == pytest.approx(1.0) and mem_l == pytest.approx(2 * 345 * MiB, abs=2 * MiB)
    assert run("recommend") == (2.0, 345 * MiB)  # KRR: memory limit = request; CPU kept


def test_hpa_on_cpu_keeps_the_cpu_request_by_default_and_says_so() -> None:
    n = days_of(2)
    h = history(np.full(n, 0.3), np.full(n, 300 * MiB))
    cur = CurrentResources(1.0, None, 1024 * MiB, None)
    hpa = HpaTarget("web", "cpu", 70)
    kept = recommend(make_strategy("scaler"), h, cur, hpas=[hpa])
    assert kept.cpu_request == 1.0
    assert kept.memory_request is not None and kept.memory_request < 1024 * MiB
    assert "HPA web scales on 70% cpu utilisation: cpu request kept at 1000m" in kept.warnings[0]
    moved = recommend(make_strategy("scaler"), h, cur, CommonSettings(hpa="recommend"), hpas=[hpa])
    assert moved.cpu_request == pytest.approx(0.3)
    assert "scales out at 210m per pod instead of 700m" in moved.warnings[0]
    assert "averageUtilization to 233%" in moved.warnings[0]
    assert moved.risk in ("medium", "high")
