"""Linear programmes through HiGHS (highspy), quietly.

HiGHS writes a banner to file descriptor 1 when a solver is made, before any option can turn
it off; that would corrupt `--output json`. The descriptor is pointed at /dev/null meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _model(cost: FloatArray, rows: IntArray, cols: IntArray, vals: FloatArray,
           row_lower: FloatArray, row_upper: FloatArray, col_lower: FloatArray | None = None,
           col_upper: FloatArray | None = None) -> Any:
    """A HighsLp from triplets (sorted column-wise here); inf bounds become HiGHS's."""
    import highspy  # imported here: only a pass that needs it pays for it

    order = np.lexsort((rows, cols))
    rows, cols, vals = rows[order], cols[order], vals[order]
    n_cols = len(cost)
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = len(row_lower)
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n_cols) if col_lower is None else col_lower
    lp.col_upper_ = (np.full(n_cols, inf) if col_upper is None
                     else np.where(np.isinf(col_upper), inf, col_upper))
    lp.row_lower_ = np.where(np.isinf(row_lower), -inf, row_lower)
    lp.row_upper_ = np.where(np.isinf(row_upper), inf, row_upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(cols, np.arange(n_cols + 1)).astype(np.int32)
    lp.a_matrix_.index_ = rows.astype(np.int32)
    lp.a_matrix_.value_ = vals
    return lp


def _highs(time_limit: float) -> Any:
    """A quiet solver (its banner kept off stdout) with a time limit."""
    import highspy

    with _stdout_silenced():
        h = highspy.Highs()  # type: ignore[no-untyped-call]
        h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    return h


def solve_lp(cost: FloatArray, rows: IntArray, cols: IntArray, vals: FloatArray,
             row_lower: FloatArray, row_upper: FloatArray,
             time_limit: float) -> tuple[float, str, FloatArray]:
    """min cost.x over x >= 0 with row_lower <= A x <= row_upper (A given as triplets).

    Returns the optimum, "optimal" or HiGHS's status, and the solution x.
    """
    r = solve(cost, rows, cols, vals, row_lower, row_upper, time_limit)
    return r.value, r.status, r.x


@dataclass(frozen=True)
class Solution:
    value: float
    status: str  # "optimal", "feasible" (a MIP stopped by its time limit), or HiGHS's status
    x: FloatArray
    row_dual: FloatArray  # LPs only: the rows' shadow prices


def solve(cost: FloatArray, rows: IntArray, cols: IntArray, vals: FloatArray,
          row_lower: FloatArray, row_upper: FloatArray, time_limit: float,
          integer: bool = False, mip_gap: float = 1e-4) -> Solution:
    """As `solve_lp`, with row duals, or with every variable integral (`integer`).

    A MIP that runs out of time keeps its best integral solution ("feasible").
    """
    import highspy

    lp = _model(cost, rows, cols, vals, row_lower, row_upper)
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * len(cost)
    h = _highs(time_limit)
    if integer:
        h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    empty = np.zeros(0)
    if status == highspy.HighsModelStatus.kOptimal:
        label = "optimal"
    elif integer and info.primal_solution_status == highspy.kSolutionStatusFeasible:
        label = "feasible"
    else:
        return Solution(float("nan"), str(h.modelStatusToString(status)), empty, empty)
    sol = h.getSolution()
    x = np.asarray(sol.col_value, dtype=np.float64)
    dual = empty if integer else np.asarray(sol.row_dual, dtype=np.float64)
    return Solution(float(info.objective_function_value), label, x, dual)


class CoverLP:
    """min cost.x over x >= 0 with A x >= demand, solved again as columns are added.

    For column generation: HiGHS keeps the last basis, so each re-solve after adding a few
    columns is a handful of simplex steps instead of a solve from scratch.
    """

    def __init__(self, demand: FloatArray, time_limit: float) -> None:
        import highspy

        self._highspy = highspy
        self._h = _highs(time_limit)
        n = len(demand)
        empty_i = np.zeros(0, dtype=np.int32)
        self._h.addRows(n, demand.astype(np.float64), np.full(n, highspy.kHighsInf), 0,
                        empty_i, empty_i, np.zeros(0))

    def add(self, costs: FloatArray, columns: list[tuple[IntArray, FloatArray]]) -> None:
        """Columns given as (row indices, values), one per cost."""
        if not columns:
            return
        starts = np.cumsum([0] + [len(r) for r, _ in columns[:-1]]).astype(np.int32)
        index = np.concatenate([r for r, _ in columns]).astype(np.int32)
        value = np.concatenate([v for _, v in columns]).astype(np.float64)
        n = len(columns)
        self._h.addCols(n, costs.astype(np.float64), np.zeros(n),
                        np.full(n, self._highspy.kHighsInf), len(index), starts, index, value)

    def solve(self) -> Solution:
        self._h.run()
        status = self._h.getModelStatus()
        empty = np.zeros(0)
        if status != self._highspy.HighsModelStatus.kOptimal:
            return Solution(float("nan"), str(self._h.modelStatusToString(status)), empty,
                            empty)
        sol = self._h.getSolution()
        return Solution(float(self._h.getInfo().objective_function_value), "optimal",
                        np.asarray(sol.col_value, dtype=np.float64),
                        np.asarray(sol.row_dual, dtype=np.float64))


def solve_milp(cost: FloatArray, rows: IntArray, cols: IntArray, vals: FloatArray,
               row_lower: FloatArray, row_upper: FloatArray, col_upper: FloatArray,
               integer: npt.NDArray[np.bool_], time_limit: float,
               col_lower: FloatArray | None = None,
               start: FloatArray | None = None,
               max_nodes: int | None = None,
               presolve: bool = True) -> tuple[float, float, str, FloatArray]:
    """min cost.x over col_lower (default 0) <= x <= col_upper, x[integer] integral,
    row_lower <= A x <= row_upper. A feasible `start` gives HiGHS a first plan to improve.
    `max_nodes` stops the search after that many branch-and-bound nodes: a limit on work,
    so the result does not depend on how fast the machine is (status "node limit").

    Returns the best plan's objective, the best lower bound HiGHS proved, its status
    ("optimal", "time limit", or why there is no plan) and the plan (empty when none).
    """
    import highspy

    lp = _model(cost, rows, cols, vals, row_lower, row_upper, col_lower, col_upper)
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
        for i in integer
    ]
    h = _highs(max(time_limit, 0.05))
    h.setOptionValue("mip_rel_gap", 1e-3)
    # Feasibility jump costs milliseconds on every small model and finds little here.
    h.setOptionValue("mip_heuristic_run_feasibility_jump", False)
    if not presolve:
        # Stopped by a limit after presolve, HiGHS can report a better plan than the values
        # it hands back (those of the start); without presolve they agree.
        h.setOptionValue("presolve", "off")
    if max_nodes is not None:
        h.setOptionValue("mip_max_nodes", int(max_nodes))
    h.passModel(lp)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(start)
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    feasible = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if not feasible:
        return float("nan"), float("nan"), str(h.modelStatusToString(status)), np.zeros(0)
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    label = "optimal" if status == highspy.HighsModelStatus.kOptimal else (
        "time limit" if status == highspy.HighsModelStatus.kTimeLimit
        else "node limit" if status == highspy.HighsModelStatus.kSolutionLimit
        else str(h.modelStatusToString(status)))
    return float(info.objective_function_value), float(info.mip_dual_bound), label, x
