"""Exact money: largest-remainder splits and accrual over spans."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from scaler.core.allocation.money import accrued, split, to_micros


def test_split_gives_leftover_units_to_largest_remainders() -> None:
    # 100 over 1:1:1 is 33.33 each: one unit left, to the first of the tied remainders.
    assert split(100, [1, 1, 1]) == [34, 33, 33]
    assert split(10, [1, 2, 7]) == [1, 2, 7]
    assert split(7, [Fraction(1, 3), Fraction(2, 3)]) == [2, 5]


def test_split_of_nothing_and_over_zero_weights() -> None:
    assert split(5, []) == []
    assert split(5, [0, 0]) == [0, 0]


@given(st.integers(-10**12, 10**12), st.lists(st.integers(0, 10**15), min_size=1, max_size=30))
def test_split_parts_always_sum_to_the_whole(total: int, weights: list[int]) -> None:
    parts = split(total, weights)
    if sum(weights):
        assert sum(parts) == total
        whole = sum(weights)
        for p, w in zip(parts, weights, strict=True):
            assert abs(p - Fraction(total * w, whole)) < 1


def test_accrual_over_parts_adds_up_to_the_whole() -> None:
    per_hour = to_micros(0.192)  # m5.xlarge on-demand
    parts = [accrued(per_hour, t + 7) - accrued(per_hour, t) for t in range(0, 3600, 7)]
    assert sum(parts) == accrued(per_hour, 3605) == 192_267
