"""NodePool disruption budgets: how many of a pool's nodes may be disrupted at a time.

A budget is `nodes` (a count or a percentage of the pool's nodes, rounded up as Karpenter
does), optionally active only in windows (`schedule`, a cron expression in UTC, opening a
window of `duration` at each hit) and optionally only for some `reasons`. The pool's allowance
for a reason is the smallest of the active budgets that cover it, less the nodes already
being disrupted. No budget written means Karpenter's default, `nodes: 10%`. Time is passed in
(seconds since the epoch), so the same code serves a live loop and a simulated timeline.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scaler.core.model import IntOrPercent

# Budget reasons, as the NodePool spells them.
EMPTY = "Empty"
UNDERUTILIZED = "Underutilized"
DRIFTED = "Drifted"
# Not a budget reason in Karpenter v1 (expiration bypasses budgets there); scaler budgets it
# under the budgets that name no reason, so expiry stays calm too.
EXPIRED = "Expired"

UNLIMITED = 1 << 30

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    start=1)}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_DURATION = re.compile(r"(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")


class ScheduleError(ValueError):
    pass


def parse_duration(text: str) -> float:
    """`1h30m`, `15m`, `720h`, `30s` to seconds."""
    m = _DURATION.fullmatch(text)
    if not text or m is None or not any(m.groups()):
        raise ScheduleError(f"invalid duration {text!r} (expected e.g. 8h, 1h30m or 30s)")
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return float(h * 3600 + mi * 60 + s)


def _field(text: str, lo: int, hi: int, names: Mapping[str, int]) -> frozenset[int]:
    out: set[int] = set()
    for part in text.lower().split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"invalid step {step_text!r}")
            step = int(step_text)
        if part in ("*", "?"):
            a, b = lo, hi
        elif "-" in part:
            x, y = part.split("-", 1)
            a, b = _value(x, names), _value(y, names)
        else:
            a = _value(part, names)
            b = hi if step > 1 else a
        if not (lo <= a <= hi and lo <= b <= hi) or a > b:
            raise ScheduleError(f"{part!r} is out of range {lo}-{hi}")
        out.update(range(a, b + 1, step))
    return frozenset(out)


def _value(text: str, names: Mapping[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise ScheduleError(f"invalid value {text!r}")
    return int(text)


@dataclass(frozen=True)
class Cron:
    """A five-field cron schedule (minute hour day-of-month month day-of-week), in UTC."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @staticmethod
    def parse(text: str) -> Cron:
        spec = _MACROS.get(text.strip().lower(), text)
        parts = spec.split()
        if len(parts) != 5:
            raise ScheduleError(f"invalid cron schedule {text!r} (expected 5 fields)")
        weekdays = _field(parts[4], 0, 7, _DAYS)
        return Cron(
            minutes=_field(parts[0], 0, 59, {}),
            hours=_field(parts[1], 0, 23, {}),
            days=_field(parts[2], 1, 31, {}),
            months=_field(parts[3], 1, 12, _MONTHS),
            weekdays=frozenset(d % 7 for d in weekdays),
            any_day=parts[2] in ("*", "?"),
            any_weekday=parts[4] in ("*", "?"),
        )

    def _day_matches(self, t: datetime) -> bool:
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:  # cron: both restricted means either
            return dom and dow
        return dom or dow

    def hit_between(self, start: float, end: float) -> bool:
        """Is there a scheduled minute in (start, end]? Times in seconds since the epoch."""
        t = datetime.fromtimestamp(start, UTC).replace(second=0, microsecond=0)
        t += timedelta(minutes=1)
        stop = datetime.fromtimestamp(end, UTC)
        while t <= stop:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return True
        return False


@dataclass(frozen=True)
class Budget:
    nodes: IntOrPercent
    schedule: Cron | None = None
    duration: float | None = None  # seconds
    reasons: frozenset[str] | None = None  # None: every reason

    def active(self, now: float) -> bool:
        if self.schedule is None or self.duration is None:
            return True
        # Active while a hit lies within the last `duration` (Karpenter's reading).
        return self.schedule.hit_between(now - self.duration, now)

    def covers(self, reason: str) -> bool:
        return self.reasons is None or reason in self.reasons


DEFAULT_BUDGETS = (Budget(IntOrPercent(10, percent=True)),)


def parse_budgets(disruption: Mapping[str, object]) -> tuple[Budget, ...]:
    """A NodePool's `spec.disruption.budgets` (already validated by the policy loader)."""
    raw = disruption.get("budgets")
    if raw is None:
        return DEFAULT_BUDGETS
    out: list[Budget] = []
    for item in raw if isinstance(raw, Sequence) else ():
        if not isinstance(item, Mapping):
            continue
        nodes = str(item.get("nodes", "10%"))
        count = IntOrPercent(int(nodes[:-1]), True) if nodes.endswith("%") else IntOrPercent(
            int(nodes))
        schedule = item.get("schedule")
        duration = item.get("duration")
        reasons = item.get("reasons")
        out.append(Budget(
            nodes=count,
            schedule=Cron.parse(schedule) if isinstance(schedule, str) else None,
            duration=parse_duration(duration) if isinstance(duration, str) else None,
            reasons=frozenset(str(r) for r in reasons) if isinstance(reasons, list) else None,
        ))
    return tuple(out)


def allowed(budgets: Sequence[Budget], reason: str, total: int, disrupting: int,
            now: float) -> int:
    """How many more of the pool's `total` nodes may be disrupted for `reason` now."""
    limit = UNLIMITED
    for b in budgets:
        if b.active(now) and (b.covers(reason) if reason != EXPIRED else b.reasons is None):
            limit = min(limit, b.nodes.scaled(total, round_up=True))
    return max(limit - disrupting, 0)
