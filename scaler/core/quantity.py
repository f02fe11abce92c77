"""Kubernetes resource quantities ("500m", "1.5Gi", "1e3") as exact values.

Parsing follows apimachinery's `resource.ParseQuantity` (pkg/api/resource/quantity.go),
including its quirks, so a manifest the API server accepts is accepted here with the same
value, and one it rejects is rejected:

* grammar: ``[+-]digits[.digits]suffix`` where ``.5``, ``5.`` and even ``.`` are numbers;
* suffixes: binary ``Ki Mi Gi Ti Pi Ei``, decimal ``n u m "" k M G T P E`` and the
  exponent forms ``e<int>`` / ``E<int>`` (a lone ``E`` is exa, not an exponent);
* no whitespace anywhere (the JSON decoder trims it, ParseQuantity itself does not);
* values finer than 1n are rounded away from zero to the next nano ("0.9n" is 1n);
* binary-suffixed values are capped at 2^63-1 in magnitude ("9Ei" == 2^63-1);
* a missing mantissa reads as zero ("Mi" == 0, "-" == 0), except where upstream's slow
  path rejects it ("Pi", "Ei", "e-10").

We deliberately diverge in one place: exponents beyond +/-100 and mantissas with more
than 100 significant digits are rejected, so hostile input cannot make us build huge
integers (upstream would accept "1e200", and silently truncate "1e4294967296" to 1).
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import Final

from scaler.errors import UserError

__all__ = [
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "QuantityError",
    "format_quantity",
    "parse_quantity",
    "to_int",
    "to_milli",
]

MAX_EXPONENT: Final = 100
MAX_DIGITS: Final = 100

_DECIMAL_SI: Final[dict[str, int]] = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SI: Final[dict[str, int]] = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
# Characters upstream's scanner lets into a suffix before an optional signed integer.
_SUFFIX_LETTERS: Final = frozenset("eEinumkKMGTP")
_DIGITS: Final = frozenset("0123456789")
_NANO: Final = 10**9
_BINARY_CAP: Final = 2**63 - 1
_SUFFIX_HELP: Final = (
    "expected a number with an optional suffix n u m k M G T P E Ki Mi Gi Ti Pi Ei"
)
_DID_YOU_MEAN: Final[dict[str, str]] = {
    "K": "k or Ki",
    "KB": "k or Ki",
    "KiB": "Ki",
    "MB": "M or Mi",
    "MiB": "Mi",
    "GB": "G or Gi",
    "GiB": "Gi",
    "TB": "T or Ti",
    "TiB": "Ti",
    "g": "G or Gi",
    "mi": "Mi",
    "gi": "Gi",
}


class QuantityError(UserError):
    """A quantity that Kubernetes would not accept (or that we refuse as absurd).

    Core code leaves `field` empty so that callers can fill in the full path with
    `located()`; `resource` names the resource when the error came from a resource list.
    """

    quantity: str = ""  # the offending input, quoted and shortened
    reason: str = ""
    resource: str | None = None

    @classmethod
    def invalid(cls, value: object, reason: str, resource: str | None = None) -> QuantityError:
        """``invalid quantity '12Q' [for cpu]: <reason>``."""
        return cls._build(_show(value), reason, resource)

    def for_resource(self, resource: str) -> QuantityError:
        """The same error, naming the resource it was given for."""
        return self._build(self.quantity, self.reason or self.message, resource)

    @classmethod
    def _build(cls, shown: str, reason: str, resource: str | None) -> QuantityError:
        subject = " ".join(
            p for p in ("invalid quantity", shown, resource and f"for {resource}") if p
        )
        err = cls(f"{subject}: {reason}")
        err.quantity, err.reason, err.resource = shown, reason, resource
        return err


def _show(value: object) -> str:
    """The offending input, quoted, and cut short so a hostile value can't flood a message."""
    shown = repr(value)
    return shown if len(shown) <= 42 else shown[:40] + "..."


def parse_quantity(text: str | int | float) -> Fraction:
    """The exact value of a Kubernetes quantity.

    YAML hands us ints and floats for bare numbers (``cpu: 2``, ``cpu: 0.5``): ints are
    exact, floats are read through their shortest repr so 0.1 means one tenth, as the API
    server would see it in the JSON it is sent.
    """
    if isinstance(text, str):
        return _parse_str(text)
    # bool is an int subclass, but `cpu: true` is a mistake, not the number 1.
    if isinstance(text, bool):
        raise QuantityError.invalid(text, "expected a string or number")
    if isinstance(text, int):
        if text.bit_length() > 333:  # ~100 decimal digits
            # Not shown: printing a huge int is itself slow (and capped by Python).
            raise QuantityError._build("", f"an integer of more than {MAX_DIGITS} digits", None)
        return Fraction(text)
    if isinstance(text, float):
        if not math.isfinite(text):
            raise QuantityError.invalid(text, "not a finite number")
        return _parse_str(repr(text))
    raise QuantityError.invalid(text, "expected a string or number")


# Snapshots repeat the same few strings ("100m", "128Mi") thousands of times.
@lru_cache(maxsize=4096)
def _parse_str(text: str) -> Fraction:
    if not text:
        raise QuantityError.invalid(text, "empty string")
    if text != text.strip():
        raise QuantityError.invalid(text, "leading or trailing whitespace")

    n = len(text)
    i = 0
    negative = False
    if text[0] in "+-":
        negative = text[0] == "-"
        i = 1
    start = i
    while i < n and text[i] in _DIGITS:
        i += 1
    whole = text[start:i]
    frac = ""
    if i < n and text[i] == ".":
        i += 1
        start = i
        while i < n and text[i] in _DIGITS:
            i += 1
        frac = text[start:i]
    suffix = text[i:]

    has_digits = bool(whole or frac)
    base, exponent = _interpret_suffix(text, suffix, has_digits)
    if not has_digits and not _zero_mantissa_allowed(base, exponent):
        raise QuantityError.invalid(text, "no digits before the suffix")

    significant_whole = whole.lstrip("0")
    significant_frac = frac.rstrip("0")
    if len(significant_whole) + len(significant_frac) > MAX_DIGITS:
        raise QuantityError.invalid(text, f"more than {MAX_DIGITS} digits")

    value = Fraction(int(significant_whole + significant_frac or "0"), 10 ** len(significant_frac))
    if base == 2:
        value *= 1 << exponent
    elif exponent >= 0:
        value *= 10**exponent
    else:
        value /= 10**-exponent

    # Upstream keeps nano precision and rounds anything finer away from zero.
    scaled = value * _NANO
    if scaled.denominator != 1:
        value = Fraction(math.ceil(scaled), _NANO)
    if base == 2 and value > _BINARY_CAP:
        value = Fraction(_BINARY_CAP)
    return -value if negative else value


def _interpret_suffix(text: str, suffix: str, has_digits: bool) -> tuple[int, int]:
    """(base, exponent) for a suffix, or QuantityError."""
    decimal = _DECIMAL_SI.get(suffix)
    if decimal is not None:
        return 10, decimal
    binary = _BINARY_SI.get(suffix)
    if binary is not None:
        return 2, binary
    if len(suffix) > 1 and suffix[0] in "eE" and _is_signed_int(suffix[1:]):
        # Size-check before int() so a thousand-digit exponent costs nothing.
        magnitude = suffix[1:].lstrip("+-").lstrip("0")
        exponent = int(suffix[1:]) if len(magnitude) <= 4 else MAX_EXPONENT + 1
        if abs(exponent) > MAX_EXPONENT:
            raise QuantityError.invalid(text, f"exponent is beyond +/-{MAX_EXPONENT}")
        return 10, exponent
    if not has_digits:
        raise QuantityError.invalid(text, _SUFFIX_HELP)
    message = f"unknown suffix {_show(suffix)}"
    hint = _DID_YOU_MEAN.get(suffix)
    if hint is not None:
        message += f" (did you mean {hint}?)"
    elif suffix[0] in "eE":
        message += " (an exponent needs an integer, as in 1e3 or 5e-1)"
    raise QuantityError.invalid(text, message)


def _is_signed_int(s: str) -> bool:
    digits = s[1:] if s[:1] in "+-" else s
    return bool(digits) and all(c in _DIGITS for c in digits)


def _zero_mantissa_allowed(base: int, exponent: int) -> bool:
    """Whether upstream accepts an empty mantissa ("Mi", "-", ".k") as zero.

    Upstream only reaches its exact-decimal slow path, which needs a digit, when the
    value might not fit an int64: for a lone "0" that is a decimal exponent below -9 or a
    binary suffix of Pi or Ei (its precision estimate goes negative there).
    """
    if base == 10:
        return exponent >= -9
    return exponent <= 40


def to_milli(q: Fraction) -> int:
    """ceil(q * 1000), as Quantity.MilliValue() for non-negative q (e.g. CPU millicores)."""
    return math.ceil(q * 1000)


def to_int(q: Fraction) -> int:
    """ceil(q), as Quantity.Value() for non-negative q (bytes, counts)."""
    return math.ceil(q)


# Which resources are counted in bytes, so print well in Ki/Mi/Gi. Kept as literals to
# avoid importing resources.py (which imports us).
_BYTE_RESOURCES: Final = frozenset({"memory", "ephemeral-storage", "storage"})
_BINARY_UNITS: Final = (("Ei", 60), ("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10))


def format_quantity(resource_name: str, value: int) -> str:
    """A short, exact, parseable rendering of an amount in our internal units.

    cpu is in millicores ("1500m", "2"); byte resources use the largest binary unit that
    divides them exactly ("1Gi", "1536Mi") and plain bytes otherwise; anything else is a
    plain count.
    """
    if resource_name == "cpu":
        return str(value // 1000) if value % 1000 == 0 else f"{value}m"
    if value and (resource_name in _BYTE_RESOURCES or resource_name.startswith("hugepages-")):
        for unit, shift in _BINARY_UNITS:
            if value % (1 << shift) == 0:
                return f"{value >> shift}{unit}"
    return str(value)


def format_cores(cores: float | None) -> str | None:
    """A cpu amount in cores, rounded to the millicore, as a Kubernetes quantity."""
    return None if cores is None else format_quantity("cpu", int(round(cores * 1000)))


def format_bytes(amount: float | None) -> str | None:
    """A byte amount, rounded to the byte, as a Kubernetes quantity."""
    return None if amount is None else format_quantity("memory", int(round(amount)))
