"""The MILP's limit on work: a search stopped after so many branch-and-bound nodes gives
the same plan however long it may run, so a plan does not depend on the machine's load."""

from __future__ import annotations

import numpy as np

from scaler.solvers.highs import solve_milp


def knapsacks(n: int = 40, seed: int = 5) -> tuple[np.ndarray, ...]:
    """A few multi-dimensional knapsacks: hard enough that HiGHS needs a search."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(20, 60, size=(3, n)).astype(np.float64)
    value = weights.sum(axis=0) + rng.integers(0, 30, size=n)
    rows = np.repeat(np.arange(3), n).astype(np.int64)
    cols = np.tile(np.arange(n), 3).astype(np.int64)
    return (-value.astype(np.float64), rows, cols, weights.ravel(), np.full(3, -np.inf),
            weights.sum(axis=1) / 3)


def test_a_node_limit_stops_the_search_the_same_way_whatever_the_time_limit() -> None:
    cost, rows, cols, vals, lo, hi = knapsacks()
    upper = np.ones(len(cost))
    integer = np.ones(len(cost), dtype=np.bool_)
    runs = [solve_milp(cost, rows, cols, vals, lo, hi, upper, integer, limit, max_nodes=3)
            for limit in (5.0, 60.0)]
    (v1, _, s1, x1), (v2, _, s2, x2) = runs
    assert s1 == s2 == "node limit"
    assert v1 == v2 and np.array_equal(x1, x2)
    # The stopped search is a plan (every row holds), not a failure.
    used = np.zeros(3)
    np.add.at(used, rows, vals * x1[cols])
    assert (used <= hi + 1e-9).all() and v1 < 0


def test_without_presolve_the_plan_returned_is_the_one_reported() -> None:
    cost, rows, cols, vals, lo, hi = knapsacks(seed=8)
    upper = np.ones(len(cost))
    integer = np.ones(len(cost), dtype=np.bool_)
    value, _, _, x = solve_milp(cost, rows, cols, vals, lo, hi, upper, integer, 10.0,
                                start=np.zeros(len(cost)), max_nodes=3, presolve=False)
    assert float(cost @ x) == value < 0
