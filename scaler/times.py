"""Times where they enter and leave: RFC 3339 text (as Kubernetes, Prometheus and AWS write
it) or unix seconds in, aware UTC datetimes or unix seconds out, and the one way scaler
writes a time back (`2024-05-01T10:00:00Z`, UTC, whole seconds).

Parsers raise ValueError; each caller turns that into its own located error (a flag, a file
and line, an object's field), or a fallback where the input is only advisory.
"""

from __future__ import annotations

from datetime import UTC, datetime


class NoZoneError(ValueError):
    """A time given without a zone where one is required."""


def parse_rfc3339(text: str, *, require_zone: bool = False) -> datetime:
    """`2024-05-01T10:00:00Z`, with an offset or fractional seconds, as an aware UTC datetime.

    A time without a zone is read as UTC (Kubernetes always writes one), or refused with
    `require_zone`, where a user types the time and a missing zone is likely a mistake."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        if require_zone:
            raise NoZoneError(f"time {text!r} has no zone")
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_seconds_or_rfc3339(text: str) -> float:
    """Unix seconds (`1714557600`, `1.7e9`) or an RFC 3339 time, as unix seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    return parse_rfc3339(text).timestamp()


def rfc3339(t: float | datetime) -> str:
    """Unix seconds or a datetime as `2024-05-01T10:00:00Z` (UTC, whole seconds)."""
    when = t if isinstance(t, datetime) else datetime.fromtimestamp(t, UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339() -> str:
    """The current time as `rfc3339` writes it."""
    return rfc3339(datetime.now(UTC))
