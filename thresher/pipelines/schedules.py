"""When a schedule fires: the trigger math, with no I/O and no clock of its own.

    slot = due_slot(trigger, anchor=created, last_fired=last, since=enabled, now=now)  # fire this, or None
    following_slot(trigger, anchor=created, after=now)                                 # for ``schedule show``

A time trigger's slots are the times its cron expression or recurrence names, on the wall clock of its
``time_zone``. ``due_slot`` gives only the LATEST slot at or before ``now`` that was not fired yet: after
downtime a schedule fires once, not once per missed slot. Wall-clock times that do not exist (the hour
skipped when clocks spring forward) fire at the instant after the gap; times that happen twice (when clocks
fall back) fire once, at their first occurrence.

A data-change trigger compares two listings of its folder (file name -> size and version):
``changed_files`` names what appeared or changed, ``change_key`` identifies one file in one state.
"""

from __future__ import annotations

import calendar
import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from thresher.specs.schedules import WEEK_DAYS, CronTrigger, RecurrenceTrigger, croniter_class, parse_time, zone_of

TimeTrigger = CronTrigger | RecurrenceTrigger

_SEARCH = 1500  # slots looked at around a DST change (a cron minute-by-minute through a doubled hour)
_PERIODS = 60  # recurrence periods looked at (month_days: [31] skips months without a 31st)


def due_slot(
    trigger: TimeTrigger,
    *,
    anchor: datetime,
    last_fired: datetime | None,
    since: datetime,
    now: datetime,
) -> datetime | None:
    """The slot to fire at ``now`` (UTC), or None: the latest slot at or before ``now``, if it is after
    ``last_fired`` and not before ``since`` (when the schedule was created or last enabled).

    ``anchor`` is where a recurrence without ``start_time`` counts its periods from (its creation time).
    """
    slot = latest_slot(trigger, anchor=anchor, at_or_before=now)
    if slot is None or slot < _utc(since):
        return None
    if last_fired is not None and slot <= _utc(last_fired):
        return None
    return slot


def latest_slot(trigger: TimeTrigger, *, anchor: datetime, at_or_before: datetime) -> datetime | None:
    """The latest slot of ``trigger`` at or before ``at_or_before`` (UTC), within start_time..end_time."""
    rule = _Rule(trigger, anchor)
    limit = _utc(at_or_before)
    if rule.end is not None:
        limit = min(limit, rule.end)
    if rule.start is not None and limit < rule.start:
        return None
    for slot in rule.backward(limit):
        if slot <= limit:
            return slot if rule.start is None or slot >= rule.start else None
    return None


def following_slot(trigger: TimeTrigger, *, anchor: datetime, after: datetime) -> datetime | None:
    """The first slot strictly after ``after`` (UTC); None when end_time has passed."""
    rule = _Rule(trigger, anchor)
    point = _utc(after)
    if rule.start is not None and point < rule.start:
        point = rule.start - timedelta(microseconds=1)
    for slot in rule.forward(point):
        if slot > point:
            return None if rule.end is not None and slot > rule.end else slot
    return None


def slot_key(slot: datetime) -> str:
    """How a time slot is recorded: its ISO time in UTC (``2024-05-01T03:00:00Z``), sortable as text."""
    return _utc(slot).strftime("%Y-%m-%dT%H:%M:%SZ")


def slot_of_key(key: str) -> datetime | None:
    """The slot a key written by ``slot_key`` names; None for other keys (data-change fires)."""
    try:
        return datetime.strptime(key, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


Listing = Mapping[str, str]
"""A folder's files: relative name -> what changes when the file is rewritten (size and version)."""


def changed_files(before: Listing, after: Listing) -> list[str]:
    """The files of ``after`` that are new or different from ``before``, sorted (deletions fire nothing)."""
    return sorted(name for name, state in after.items() if before.get(name) != state)


def change_key(name: str, state: str) -> str:
    """The slot key of one file in one state: two servers that see the same change compute the same key."""
    text = json.dumps([name, state], separators=(",", ":"))
    return "change-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; schedule times are aware datetimes")
    return moment.astimezone(UTC)


class _Rule:
    """A time trigger's slots, walked forward or backward from a point, as UTC datetimes."""

    def __init__(self, trigger: TimeTrigger, anchor: datetime) -> None:
        self.trigger = trigger
        self.zone = zone_of(trigger.time_zone)
        self.start = self._when(trigger.start_time)
        self.end = self._when(trigger.end_time)
        self.anchor = self.start or _utc(anchor)

    def _when(self, text: str | None) -> datetime | None:
        if text is None:
            return None
        moment = parse_time(text)
        return _utc(moment if moment.tzinfo is not None else moment.replace(tzinfo=self.zone))

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def _utc_of(self, wall: datetime) -> datetime:
        return wall.replace(tzinfo=self.zone).astimezone(UTC)

    def backward(self, point: datetime) -> Iterator[datetime]:
        """Slots at or before ``point``, latest first (a few may come out of order around a DST change)."""
        if isinstance(self.trigger, CronTrigger):
            yield from self._cron(point, backward=True)
        else:
            yield from self._recurrence(point, backward=True)

    def forward(self, point: datetime) -> Iterator[datetime]:
        """Slots after ``point``, earliest first (a few may come out of order around a DST change)."""
        if isinstance(self.trigger, CronTrigger):
            yield from self._cron(point, backward=False)
        else:
            yield from self._recurrence(point, backward=False)

    def _cron(self, point: datetime, *, backward: bool) -> Iterator[datetime]:
        croniter = croniter_class()
        assert isinstance(self.trigger, CronTrigger)
        wall = self._local(point)
        if backward:  # croniter's get_prev is strictly before its start: start just after this minute
            wall = wall.replace(second=0, microsecond=0) + timedelta(minutes=1)
        walker = croniter(self.trigger.expression, wall)
        for _ in range(_SEARCH):
            found = walker.get_prev(datetime) if backward else walker.get_next(datetime)
            yield self._utc_of(found)

    def _recurrence(self, point: datetime, *, backward: bool) -> Iterator[datetime]:
        assert isinstance(self.trigger, RecurrenceTrigger)
        frequency, interval = self.trigger.frequency, self.trigger.interval
        if frequency == "minute":
            step = timedelta(minutes=interval)
            index = max((point - self.anchor) // step, 0)
            for k in range(_SEARCH):
                yield self.anchor + step * (index - k if backward else index + k)
            return
        index = max(self._period_of(point), 0)
        for k in range(_PERIODS):
            period = index - k if backward else index + k
            if period < 0:
                return
            slots = sorted(self._slots_in(period), reverse=backward)
            yield from slots

    def _period_of(self, point: datetime) -> int:
        """The index of the period (counted in ``interval`` units from the anchor's) that holds ``point``."""
        assert isinstance(self.trigger, RecurrenceTrigger)
        interval = self.trigger.interval
        if self.trigger.frequency == "hour":
            return int((point - self._hour0()) // timedelta(hours=interval))
        wall, first = self._local(point).date(), self._local(self.anchor).date()
        if self.trigger.frequency == "day":
            return (wall - first).days // interval
        if self.trigger.frequency == "week":
            return (_monday(wall) - _monday(first)).days // (7 * interval)
        return ((wall.year - first.year) * 12 + wall.month - first.month) // interval

    def _hour0(self) -> datetime:
        wall = self._local(self.anchor).replace(minute=0, second=0, microsecond=0)
        return self._utc_of(wall)

    def _slots_in(self, period: int) -> list[datetime]:
        trigger = self.trigger
        assert isinstance(trigger, RecurrenceTrigger)
        pattern = trigger.schedule
        first = self._local(self.anchor)
        hours = (pattern.hours if pattern else []) or [first.hour]
        given_hours = bool(pattern and pattern.hours)
        minutes = (pattern.minutes if pattern else []) or ([0] if given_hours else [first.minute])
        step = period * trigger.interval
        if trigger.frequency == "hour":
            start = self._hour0() + timedelta(hours=step)
            return [start + timedelta(minutes=m) for m in sorted(set(minutes))]
        if trigger.frequency == "day":
            days = [first.date() + timedelta(days=step)]
        elif trigger.frequency == "week":
            monday = _monday(first.date()) + timedelta(weeks=step)
            names = (pattern.week_days if pattern else []) or [WEEK_DAYS[first.weekday()]]
            days = [monday + timedelta(days=WEEK_DAYS.index(name)) for name in names]
        else:
            year, month = divmod(first.year * 12 + first.month - 1 + step, 12)
            wanted = (pattern.month_days if pattern else []) or [first.day]
            last = calendar.monthrange(year, month + 1)[1]
            days = [date(year, month + 1, day) for day in wanted if day <= last]
        return [
            self._utc_of(datetime(day.year, day.month, day.day, hour, minute))
            for day in sorted(set(days))
            for hour in sorted(set(hours))
            for minute in sorted(set(minutes))
        ]


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def describe_slot(slot: datetime | None, trigger: Any) -> str:
    """A slot as ``schedule show`` prints it: UTC, and the trigger's wall clock when that is not UTC."""
    if slot is None:
        return "none (the schedule has ended)"
    text = slot_key(slot)
    zone_name = getattr(trigger, "time_zone", "UTC")
    zone = zone_of(zone_name)
    if zone.key != "UTC":
        text += f" ({slot.astimezone(zone).strftime('%Y-%m-%d %H:%M %Z')}, {zone_name})"
    return text
