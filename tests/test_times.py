"""The one time parser and writer every reader and output uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from scaler.times import NoZoneError, parse_rfc3339, parse_seconds_or_rfc3339, rfc3339

MAY_FIRST = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", [
    "2024-05-01T10:00:00Z",
    "2024-05-01T12:00:00+02:00",
    "2024-05-01T10:00:00.000000Z",
    "2024-05-01T10:00:00",  # no zone: UTC, as Kubernetes means it
])
def test_rfc3339_times_read_as_utc(text: str) -> None:
    parsed = parse_rfc3339(text)
    assert parsed == MAY_FIRST and parsed.utcoffset() == timedelta(0)


def test_a_time_typed_without_zone_is_refused_where_one_is_required() -> None:
    with pytest.raises(NoZoneError):
        parse_rfc3339("2024-05-01T10:00:00", require_zone=True)
    assert parse_rfc3339("2024-05-01T10:00:00Z", require_zone=True) == MAY_FIRST


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01T00:00:00Z", ""])
def test_what_is_not_a_time_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_seconds_or_rfc3339(text)


def test_unix_seconds_or_rfc3339() -> None:
    assert parse_seconds_or_rfc3339("1714557600") == MAY_FIRST.timestamp()
    assert parse_seconds_or_rfc3339("1714557600.5") == MAY_FIRST.timestamp() + 0.5
    assert parse_seconds_or_rfc3339("2024-05-01T10:00:00Z") == MAY_FIRST.timestamp()


def test_written_in_utc_whole_seconds() -> None:
    assert rfc3339(MAY_FIRST.timestamp() + 0.9) == "2024-05-01T10:00:00Z"
    plus_two = MAY_FIRST.astimezone(timezone(timedelta(hours=2)))
    assert rfc3339(plus_two) == "2024-05-01T10:00:00Z"
