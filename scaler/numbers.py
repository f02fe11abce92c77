"""Numbers where they enter: finite, in a documented range, never silently odd.

Every float or int that comes from a user (flags, CSV cells, prices, timestamps, durations)
passes through one of these, so NaN, infinity, a negative where none is meaningful and
values beyond any real cluster are refused with one line naming where they came from,
instead of turning into a wrong plan, a numpy warning or a traceback later.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from scaler.errors import UserError

__all__ = [
    "MAX_TIMESTAMP",
    "MIN_TIMESTAMP",
    "check_finite",
    "finite_float",
    "float_arg",
    "int_arg",
    "parse_float",
    "port_arg",
]

# Unix seconds from 1970 to 9999-12-31: what datetime can represent on every platform.
MIN_TIMESTAMP: Final = 0.0
MAX_TIMESTAMP: Final = 253_402_300_799.0


def check_finite(value: float, what: str, *, minimum: float | None = None,
                 maximum: float | None = None, file: str | None = None,
                 obj: str | None = None, field: str | None = None) -> float:
    """`value` if finite and within [minimum, maximum]; else one UserError line."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UserError(f"{what}: expected a number, got {type(value).__name__}",
                        file=file, obj=obj, field=field)
    if isinstance(value, int) and value.bit_length() > 1000:
        raise UserError(f"{what}: the number is too large", file=file, obj=obj, field=field)
    v = float(value)
    if not math.isfinite(v):
        raise UserError(f"{what}: expected a finite number, got {_show(v)}",
                        file=file, obj=obj, field=field)
    if minimum is not None and v < minimum:
        raise UserError(f"{what}: must be at least {minimum:g}, got {_show(v)}",
                        file=file, obj=obj, field=field)
    if maximum is not None and v > maximum:
        raise UserError(f"{what}: must be at most {maximum:g}, got {_show(v)}",
                        file=file, obj=obj, field=field)
    return v


def parse_float(text: str, what: str, *, minimum: float | None = None,
                maximum: float | None = None, file: str | None = None,
                obj: str | None = None, field: str | None = None) -> float:
    """A finite float from text (a CSV cell, a flag), in range."""
    try:
        value = float(text.strip())
    except (ValueError, AttributeError):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise UserError(f"{what}: not a number: {shown!r}", file=file, obj=obj,
                        field=field) from None
    return check_finite(value, what, minimum=minimum, maximum=maximum, file=file, obj=obj,
                        field=field)


def finite_float(text: str) -> float:
    """argparse `type=` for any float flag: NaN and infinity are refused."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text[:40]!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text[:40]!r}")
    return value


def float_arg(minimum: float | None = None, maximum: float | None = None) -> Callable[[str], float]:
    """argparse `type=`: a finite float within [minimum, maximum]."""

    def parse(text: str) -> float:
        value = finite_float(text)
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}, got {text[:40]}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:g}, got {text[:40]}")
        return value

    return parse


def int_arg(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """argparse `type=`: a whole number within [minimum, maximum]."""

    def parse(text: str) -> int:
        stripped = text.strip()
        if len(stripped) > 30:
            raise argparse.ArgumentTypeError(f"not a reasonable whole number: {text[:40]!r}")
        try:
            value = int(stripped)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}") from None
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {value}")
        return value

    return parse


port_arg: Final = int_arg(0, 65535)


def timestamp(value: float, what: str, *, file: str | None = None, obj: str | None = None,
              field: str | None = None) -> datetime:
    """A Unix time in seconds as an aware datetime, refusing what no platform represents."""
    check_finite(value, what, minimum=MIN_TIMESTAMP, maximum=MAX_TIMESTAMP, file=file,
                 obj=obj, field=field)
    return datetime.fromtimestamp(value, UTC)


def _show(v: float) -> str:
    return repr(v) if len(repr(v)) <= 30 else f"{v:.6g}"
