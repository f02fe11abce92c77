"""Integer micro-dollars and exact splits.

Floats cannot promise "adds up to the cent"; integers split with the largest-remainder
(Hamilton) method can: the parts always sum to the whole, and each part is within one
micro-dollar of its exact share.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

MICROS_PER_DOLLAR = 1_000_000
SECONDS_PER_HOUR = 3600
HOURS_PER_MONTH = 730  # the cloud providers' billing month, as the policy docs say

Weight = int | Fraction


def to_micros(dollars: float | Fraction) -> int:
    """Dollars to micro-dollars, rounded half up (prices carry six decimals)."""
    return int(_round_half_up(Fraction(dollars) * MICROS_PER_DOLLAR))


def to_dollars(micros: int) -> float:
    return micros / MICROS_PER_DOLLAR


def _round_half_up(x: Fraction) -> int:
    return int((x * 2 + 1) // 2)


def accrued(per_hour: int | Fraction, seconds: int) -> int:
    """Micro-dollars accrued over `seconds` at `per_hour` micro-dollars an hour, rounded.

    Callers take differences of this over a growing span (accrued(t1) - accrued(t0)), so the
    parts of any span add up to the rounded whole, whatever the step.
    """
    return _round_half_up(Fraction(per_hour) * seconds / SECONDS_PER_HOUR)


def split(total: int, weights: Sequence[Weight]) -> list[int]:
    """Split `total` in proportion to `weights`, exactly: the parts sum to `total`.

    Each part gets the floor of its share; the leftover units go to the largest remainders
    (ties to the earlier index, so the result is deterministic). All weights zero (or no
    weights): every part is zero, and the caller must place `total` elsewhere.
    """
    if not weights:
        return []
    if all(isinstance(w, int) for w in weights):
        return _split_int(total, [int(w) for w in weights])
    fracs = [Fraction(w) for w in weights]
    denominator = 1
    for f in fracs:
        denominator = denominator * f.denominator // _gcd(denominator, f.denominator)
    return _split_int(total, [int(f * denominator) for f in fracs])


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _split_int(total: int, weights: list[int]) -> list[int]:
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    whole = sum(weights)
    if whole == 0:
        return [0] * len(weights)
    sign = -1 if total < 0 else 1
    amount = abs(total)
    parts = []
    remainders = []
    for i, w in enumerate(weights):
        q, r = divmod(amount * w, whole)
        parts.append(q)
        remainders.append((-r, i))
    left = amount - sum(parts)
    if left:
        for _, i in sorted(remainders)[:left]:
            parts[i] += 1
    return [sign * p for p in parts]
