"""OpenCost's window and duration syntax, resolved against a clock.

Windows: `today`, `yesterday`, `week` (since Sunday), `lastweek` (the seven days before it),
`month`, `lastmonth`, a duration back from now (`30m`, `12h`, `7d`), or an explicit
`start,end` pair of RFC 3339 times (or unix seconds). All in UTC, as OpenCost does.
"""

from __future__ import annotations

import datetime as dt
import re

from scaler.errors import UserError
from scaler.times import parse_rfc3339

_DURATION = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_duration(text: str, flag: str) -> int:
    m = _DURATION.match(text.strip())
    if not m or int(m.group(1)) == 0:
        raise UserError(
            f"invalid duration {text!r} (expected e.g. 5m, 1h, 1d)", field=flag
        )
    return int(m.group(1)) * _UNIT[m.group(2)]


def _midnight(t: dt.datetime) -> dt.datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def _instant(text: str) -> dt.datetime:
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return dt.datetime.fromtimestamp(float(text), tz=dt.UTC)
    return parse_rfc3339(text, require_zone=True)


def parse_window(text: str, now: dt.datetime) -> tuple[int, int]:
    """(start, end) in unix seconds; raises UserError naming --window."""
    word = text.strip().lower()
    today = _midnight(now)
    sunday = today - dt.timedelta(days=(today.weekday() + 1) % 7)
    first = today.replace(day=1)
    start: dt.datetime
    end: dt.datetime
    if word == "today":
        start, end = today, now
    elif word == "yesterday":
        start, end = today - dt.timedelta(days=1), today
    elif word == "week":
        start, end = sunday, now
    elif word == "lastweek":
        start, end = sunday - dt.timedelta(days=7), sunday
    elif word == "month":
        start, end = first, now
    elif word == "lastmonth":
        end = first
        start = (first - dt.timedelta(days=1)).replace(day=1)
    elif _DURATION.match(word):
        start, end = now - dt.timedelta(seconds=parse_duration(word, "--window")), now
    elif "," in word:
        a, _, b = text.partition(",")
        try:
            start, end = _instant(a), _instant(b)
        except ValueError:
            raise UserError(
                f"invalid window {text!r}: expected two RFC 3339 times with a zone, "
                "e.g. 2026-11-01T00:00:00Z,2026-11-08T00:00:00Z",
                field="--window",
            ) from None
    else:
        raise UserError(
            f"invalid window {text!r} (expected today, yesterday, week, lastweek, month, "
            "lastmonth, a duration such as 7d, or start,end in RFC 3339)",
            field="--window",
        )
    s, e = int(start.timestamp()), int(end.timestamp())
    if e <= s:
        raise UserError(f"window {text!r} is empty (it ends before it starts)", field="--window")
    return s, e
