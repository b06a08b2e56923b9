"""The trigger math: which slot fires at a given moment, and which comes next (no clock, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thresher.pipelines.schedules import (
    change_key,
    changed_files,
    due_slot,
    following_slot,
    latest_slot,
    slot_key,
)
from thresher.specs.schedules import CronTrigger, RecurrenceTrigger


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def cron(expression: str, **more: Any) -> CronTrigger:
    return CronTrigger(expression=expression, **more)


def recurrence(frequency: str, interval: int = 1, **more: Any) -> RecurrenceTrigger:
    return RecurrenceTrigger.model_validate({"frequency": frequency, "interval": interval, **more})


CREATED = utc("2024-03-01T00:00:00")


@pytest.mark.parametrize(
    ("trigger", "now", "latest", "following"),
    [
        (cron("0 3 * * *"), "2024-03-05T10:00:00", "2024-03-05T03:00:00", "2024-03-06T03:00:00"),
        (cron("0 3 * * *"), "2024-03-05T03:00:00", "2024-03-05T03:00:00", "2024-03-06T03:00:00"),
        (cron("*/15 * * * *"), "2024-03-05T10:07:59", "2024-03-05T10:00:00", "2024-03-05T10:15:00"),
        (cron("0 9 * * 1"), "2024-03-06T00:00:00", "2024-03-04T09:00:00", "2024-03-11T09:00:00"),
        # 03:00 in New York is 08:00 UTC in winter, 07:00 UTC after the clocks moved (2024-03-10)
        (
            cron("0 3 * * *", time_zone="America/New_York"),
            "2024-03-09T12:00:00",
            "2024-03-09T08:00:00",
            "2024-03-10T07:00:00",
        ),
        (
            cron("0 3 * * *", time_zone="Pacific Standard Time"),
            "2024-07-01T12:00:00",
            "2024-07-01T10:00:00",
            "2024-07-02T10:00:00",
        ),
        # start_time is on the trigger's wall clock; nothing before it, nothing after end_time
        (cron("0 * * * *", start_time="2024-03-05T12:00:00"), "2024-03-05T11:30:00", None, "2024-03-05T12:00:00"),
        (cron("0 * * * *", end_time="2024-03-05T12:00:00"), "2024-03-06T00:00:00", "2024-03-05T12:00:00", None),
        (recurrence("minute", 20), "2024-03-01T01:05:00", "2024-03-01T01:00:00", "2024-03-01T01:20:00"),
        (recurrence("hour", 5), "2024-03-01T11:00:00", "2024-03-01T10:00:00", "2024-03-01T15:00:00"),
        (
            recurrence("hour", 2, schedule={"minutes": [15, 45]}),
            "2024-03-01T03:50:00",
            "2024-03-01T02:45:00",
            "2024-03-01T04:15:00",
        ),
        (
            recurrence("day", 1, schedule={"hours": [4, 10], "minutes": [0, 30]}),
            "2024-03-02T09:00:00",
            "2024-03-02T04:30:00",
            "2024-03-02T10:00:00",
        ),
        (
            recurrence("day", 3, start_time="2024-03-01T06:00:00"),
            "2024-03-05T00:00:00",
            "2024-03-04T06:00:00",
            "2024-03-07T06:00:00",
        ),
        # 2024-03-01 is a Friday: weeks of Mon 2024-02-26, Mon 2024-03-11, ... every 2 weeks
        (
            recurrence("week", 2, schedule={"hours": [8], "week_days": ["monday", "friday"]}),
            "2024-03-12T00:00:00",
            "2024-03-11T08:00:00",
            "2024-03-15T08:00:00",
        ),
        (
            recurrence("month", 1, schedule={"hours": [0], "month_days": [31]}),
            "2024-04-15T00:00:00",
            "2024-03-31T00:00:00",
            "2024-05-31T00:00:00",
        ),
        (
            recurrence("day", 1, schedule={"hours": [3]}, time_zone="Europe/Berlin"),
            "2024-03-31T12:00:00",
            "2024-03-31T01:00:00",
            "2024-04-01T01:00:00",
        ),
    ],
)
def test_latest_and_following_slots(trigger: Any, now: str, latest: str | None, following: str | None) -> None:
    moment = utc(now)
    assert latest_slot(trigger, anchor=CREATED, at_or_before=moment) == (utc(latest) if latest else None)
    assert following_slot(trigger, anchor=CREATED, after=moment) == (utc(following) if following else None)


def test_a_missed_window_fires_only_its_latest_slot_once() -> None:
    hourly = cron("0 * * * *")
    last = utc("2024-03-01T05:00:00")
    now = utc("2024-03-02T05:30:00")  # 24 slots missed while down
    slot = due_slot(hourly, anchor=CREATED, last_fired=last, since=CREATED, now=now)
    assert slot == utc("2024-03-02T05:00:00")
    assert due_slot(hourly, anchor=CREATED, last_fired=slot, since=CREATED, now=now) is None


def test_slots_before_creation_or_enabling_do_not_fire() -> None:
    daily = cron("0 3 * * *")
    enabled = utc("2024-03-05T10:00:00")
    assert due_slot(daily, anchor=CREATED, last_fired=None, since=enabled, now=utc("2024-03-05T23:00:00")) is None
    found = due_slot(daily, anchor=CREATED, last_fired=None, since=enabled, now=utc("2024-03-06T03:00:30"))
    assert found == utc("2024-03-06T03:00:00")


def test_a_wall_time_skipped_by_dst_fires_once_after_the_gap_and_a_doubled_one_fires_once() -> None:
    new_york = cron("30 2 * * *", time_zone="America/New_York")  # 02:30 does not exist on 2024-03-10
    assert following_slot(new_york, anchor=CREATED, after=utc("2024-03-09T12:00:00")) == utc("2024-03-10T07:30:00")
    fall = cron("30 1 * * *", time_zone="America/New_York")  # 01:30 happens twice on 2024-11-03
    first = following_slot(fall, anchor=CREATED, after=utc("2024-11-03T00:00:00"))
    assert first == utc("2024-11-03T05:30:00")
    assert following_slot(fall, anchor=CREATED, after=first) == utc("2024-11-04T06:30:00")


def test_changed_files_and_listing_keys() -> None:
    before = {"a.csv": "10:1", "b.csv": "20:1"}
    after = {"a.csv": "10:1", "b.csv": "21:2", "c.csv": "5:1"}
    assert changed_files(before, after) == ["b.csv", "c.csv"]
    assert changed_files(after, {"a.csv": "10:1"}) == []
    assert change_key("b.csv", "21:2") == change_key("b.csv", "21:2") != change_key("b.csv", "20:1")
    assert len(change_key("a" * 300, "1:2")) <= 64  # the store keeps slots of up to 64 characters


@settings(max_examples=150, deadline=None)
@given(
    minute=st.integers(0, 59),
    hour=st.integers(0, 23),
    zone=st.sampled_from(["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney"]),
    offset=st.integers(0, 400 * 24 * 60),
)
def test_daily_cron_matches_its_wall_clock_and_brackets_now(minute: int, hour: int, zone: str, offset: int) -> None:
    trigger = cron(f"{minute} {hour} * * *", time_zone=zone)
    now = CREATED + timedelta(minutes=offset)
    latest = latest_slot(trigger, anchor=CREATED, at_or_before=now)
    following = following_slot(trigger, anchor=CREATED, after=now)
    assert latest is not None and following is not None
    assert latest <= now < following
    assert following - latest <= timedelta(hours=25)
    assert slot_key(following) > slot_key(latest)
