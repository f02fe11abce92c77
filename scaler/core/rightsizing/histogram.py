"""Decaying histograms with exponentially growing buckets, as the VPA recommender keeps them.

Facts carried over from the VPA recommender (kubernetes/autoscaler, pkg/recommender): bucket
i starts at first * (ratio**i - 1) / (ratio - 1), so each bucket is `ratio` times wider than
the one before; a sample's weight halves every half-life of age; a percentile is the end of
the bucket where the cumulative weight reaches it (the start, for the last bucket).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from scaler.core.rightsizing.model import Array


class ExponentialBuckets:
    def __init__(self, max_value: float, first_bucket: float, ratio: float) -> None:
        if first_bucket <= 0 or ratio <= 1 or max_value <= first_bucket:
            raise ValueError("bad histogram options")
        self.first = first_bucket
        self.ratio = ratio
        n = math.ceil(math.log(max_value * (ratio - 1) / first_bucket + 1, ratio)) + 1
        self.starts: Array = (
            first_bucket * (ratio ** np.arange(n, dtype=np.float64) - 1) / (ratio - 1)
        )

    @property
    def size(self) -> int:
        return int(self.starts.size)

    def index(self, values: Array) -> npt.NDArray[np.int64]:
        v = np.maximum(values, 0.0)
        i = np.floor(np.log(v * (self.ratio - 1) / self.first + 1) / math.log(self.ratio))
        return np.clip(i, 0, self.size - 1).astype(np.int64)

    def histogram(self, values: Array, weights: Array) -> Array:
        """Total weight per bucket."""
        return np.bincount(self.index(values), weights=weights, minlength=self.size).astype(
            np.float64
        )

    def percentile(self, hist: Array, p: float) -> float:
        """The value below which a fraction p (0..1) of the weight lies, at bucket ends."""
        total = float(hist.sum())
        if total <= 0:
            return 0.0
        cum = np.cumsum(hist)
        i = int(np.searchsorted(cum, p * total, side="left"))
        i = min(i, self.size - 1)
        return float(self.starts[i + 1]) if i + 1 < self.size else float(self.starts[i])


def decay_weights(t: Array, reference: float, half_life: float) -> Array:
    """2 ** ((t - reference) / half_life): 1 at the reference time, 1/2 one half-life before."""
    if half_life <= 0:
        return np.ones_like(t)
    return np.exp2((t - reference) / half_life)


def weighted_percentile(values: Array, weights: Array, p: float) -> float:
    """Exact weighted percentile (0..100): the smallest value with at least p% weight below."""
    if values.size == 0:
        return math.nan
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    total = cum[-1]
    if total <= 0:
        return float(np.percentile(values, p))
    i = int(np.searchsorted(cum, p / 100.0 * total, side="left"))
    return float(v[min(i, v.size - 1)])
