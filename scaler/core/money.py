"""Money as people write it: `-$0.03`, never `$-0.03`."""

from __future__ import annotations


def money(value: float, decimals: int = 2, *, grouped: bool = True) -> str:
    """US dollars with the sign before the symbol; -0.00 reads $0.00."""
    text = f"{abs(value):,.{decimals}f}" if grouped else f"{abs(value):.{decimals}f}"
    negative = value < 0 and any(ch not in "0.," for ch in text)
    return f"-${text}" if negative else f"${text}"


def money_auto(value: float) -> str:
    """Four decimals below $10 (hourly prices), two above."""
    return money(value, 4 if abs(value) < 10 else 2)
