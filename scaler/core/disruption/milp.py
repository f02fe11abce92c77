"""The consolidation MILP as HiGHS takes it: a constraint matrix built block by block
(`Rows`), and the finished model with its whole-pod rows marked (`Model`), solved with
some columns fixed or relaxed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scaler.core.scheduling.bound import BoolArray, FloatArray, IntArray
from scaler.solvers.highs import solve_milp


class Rows:
    """The constraint matrix as triplets, built block by block; `base` is the next row."""

    def __init__(self) -> None:
        self.rows: list[IntArray] = []
        self.cols: list[IntArray] = []
        self.vals: list[FloatArray] = []
        self.lo: list[FloatArray] = []
        self.hi: list[FloatArray] = []
        self.base = 0

    def add(self, r: IntArray, c: IntArray, v: FloatArray) -> None:
        keep = v != 0
        self.rows.append(r[keep])
        self.cols.append(c[keep])
        self.vals.append(v[keep])

    def close(self, lo: FloatArray, hi: FloatArray) -> None:
        """End a block of len(lo) rows."""
        self.lo.append(lo)
        self.hi.append(hi)
        self.base += len(lo)


@dataclass(frozen=True)
class Model:
    """The MILP as HiGHS takes it; `cuts` are the whole-pod rows."""

    cost: FloatArray
    rows: IntArray
    cols: IntArray
    vals: FloatArray
    lo: FloatArray
    hi: FloatArray
    cuts: slice

    def solve(self, lower: FloatArray, upper: FloatArray, integer: BoolArray, limit: float,
              start: FloatArray | None = None, relaxed: bool = False,
              max_nodes: int | None = None) -> tuple[float, float, str, FloatArray]:
        hi = self.hi
        if relaxed:
            hi = hi.copy()
            hi[self.cuts] = np.inf
        return solve_milp(self.cost, self.rows, self.cols, self.vals, self.lo, hi, upper,
                          integer, limit, lower, start, max_nodes)
