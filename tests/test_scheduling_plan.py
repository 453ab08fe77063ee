"""The pure planning functions: due slots across DST changes, quiet hours, weeks, skip rules."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import CohortConfig, Slot
from bot.scheduling.plan import (
    due_slots,
    local_week,
    quiet_ends,
    quiet_reason,
    slot_days,
)
from bot.scheduling.policy import skip_reason
from storage.models import Person

LONDON = ZoneInfo("Europe/London")
CHICAGO = ZoneInfo("America/Chicago")
TUE_THU = Slot.parse("tue,thu 15:30")


def _fired(zone: ZoneInfo, slots: list[Slot], start: datetime, days: int) -> list[datetime]:
    """Every slot moment a minute tick acts on over `days` days (each once, by key)."""
    seen: dict[str, datetime] = {}
    now = start
    while now < start + timedelta(days=days):
        for due in due_slots(slots, zone, now):
            seen.setdefault(due.key, due.at)
        now += timedelta(minutes=1)
    return sorted(seen.values())


@pytest.mark.parametrize(
    ("zone", "utc_hours"),
    [
        # London leaves BST on Sun 25 Oct 2026: 15:30 local is 14:30 UTC, then 15:30 UTC.
        (LONDON, [14, 14, 15, 15, 15, 15]),
        # Chicago leaves CDT on Sun 1 Nov 2026: 15:30 local is 20:30 UTC, then 21:30 UTC.
        (CHICAGO, [20, 20, 20, 20, 21, 21]),
    ],
)
def test_slots_fire_at_local_time_across_dst(zone: ZoneInfo, utc_hours: list[int]) -> None:
    fired = _fired(zone, [TUE_THU], datetime(2026, 10, 19, tzinfo=UTC), days=19)
    assert [moment.astimezone(zone).strftime("%a %d %H:%M") for moment in fired] == [
        "Tue 20 15:30",
        "Thu 22 15:30",
        "Tue 27 15:30",
        "Thu 29 15:30",
        "Tue 03 15:30",
        "Thu 05 15:30",
    ]
    assert [moment.hour for moment in fired] == utc_hours


def test_slot_key_names_the_local_moment_and_zone() -> None:
    now = datetime(2026, 11, 17, 15, 33, tzinfo=UTC)
    (due,) = due_slots([TUE_THU], LONDON, now)
    assert due.key == "2026-11-17T15:30 Europe/London"
    assert due.at == datetime(2026, 11, 17, 15, 30, tzinfo=UTC)
    assert due_slots([TUE_THU], LONDON, now + timedelta(minutes=10)) == []
    assert due_slots([TUE_THU], LONDON, datetime(2026, 11, 17, 15, 29, tzinfo=UTC)) == []


def test_a_wall_time_skipped_or_repeated_by_dst_fires_once() -> None:
    night = [Slot.parse("sun 01:30")]
    spring = _fired(LONDON, night, datetime(2026, 3, 28, tzinfo=UTC), days=2)
    autumn = _fired(LONDON, night, datetime(2026, 10, 24, tzinfo=UTC), days=2)
    assert len(spring) == 1 and len(autumn) == 1
    # 01:30 does not exist on 29 March: it fires when the clocks say 02:30.
    assert spring[0].astimezone(LONDON).time() == time(2, 30)
    # 01:30 happens twice on 25 October: it fires the first time.
    assert autumn[0] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_day_ranges_and_wrapping() -> None:
    assert slot_days(Slot.parse("mon-fri 09:00")) == {0, 1, 2, 3, 4}
    assert slot_days(Slot.parse("fri-mon 09:00")) == {4, 5, 6, 0}
    assert slot_days(Slot.parse("mon,wed-thu 09:00")) == {0, 2, 3}


def _cohort(**values: object) -> CohortConfig:
    return CohortConfig.model_validate({"programme": "routing", **values})


def _local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


def test_quiet_hours_are_read_in_the_persons_time() -> None:
    cohort = _cohort()
    assert quiet_reason(cohort, LONDON, _local(LONDON, 2026, 11, 17, 18, 59)) is None
    assert quiet_reason(cohort, LONDON, _local(LONDON, 2026, 11, 17, 19, 0)) == "quiet_hours"
    assert quiet_reason(cohort, LONDON, _local(LONDON, 2026, 11, 18, 7, 59)) == "quiet_hours"
    assert quiet_reason(cohort, LONDON, _local(LONDON, 2026, 11, 18, 8, 0)) is None
    assert quiet_reason(cohort, LONDON, _local(LONDON, 2026, 11, 21, 12, 0)) == "weekend"
    assert (
        quiet_reason(_cohort(quiet_weekends=False), LONDON, _local(LONDON, 2026, 11, 21, 12, 0))
        is None
    )
    # 20:00 in London is 14:00 in Chicago: quiet for one, not for the other.
    moment = _local(LONDON, 2026, 11, 17, 20, 0)
    assert quiet_reason(cohort, LONDON, moment) == "quiet_hours"
    assert quiet_reason(cohort, CHICAGO, moment) is None


def test_quiet_ends_at_the_next_allowed_moment() -> None:
    cohort = _cohort()
    tuesday_night = _local(LONDON, 2026, 11, 17, 22, 0)
    friday_night = _local(LONDON, 2026, 11, 20, 20, 0)
    afternoon = _local(LONDON, 2026, 11, 17, 15, 0)
    assert quiet_ends(cohort, LONDON, tuesday_night) == _local(LONDON, 2026, 11, 18, 8, 0)
    assert quiet_ends(cohort, LONDON, friday_night) == _local(LONDON, 2026, 11, 23, 8, 0)
    assert quiet_ends(cohort, LONDON, afternoon) == afternoon
    lunch_only = _cohort(quiet_hours="12:00-13:00")
    assert quiet_ends(lunch_only, LONDON, _local(LONDON, 2026, 11, 21, 10, 0)) == _local(
        LONDON, 2026, 11, 23, 0, 0
    )


def test_local_week_runs_monday_to_monday_in_the_persons_zone() -> None:
    start, end = local_week(CHICAGO, datetime(2026, 11, 2, 3, 0, tzinfo=UTC))
    # 03:00 UTC on Monday is still Sunday evening in Chicago: the week before.
    assert start == _local(CHICAGO, 2026, 10, 26, 0, 0)
    assert end == _local(CHICAGO, 2026, 11, 2, 0, 0)
    # That week has 169 hours: the clocks went back on 1 November.
    assert end - start == timedelta(hours=169)


def _person(**values: object) -> Person:
    defaults: dict[str, object] = {
        "platform": "slack",
        "platform_user_id": "U1",
        "cohort_id": "london",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    return Person.model_validate({**defaults, **values})


def test_skip_rules_in_order() -> None:
    cohort = _cohort(max_per_week=3)
    afternoon = _local(LONDON, 2026, 11, 17, 15, 30)
    evening = _local(LONDON, 2026, 11, 17, 20, 0)
    active = _person()
    assert skip_reason(active, cohort, LONDON, afternoon, 2) is None
    assert skip_reason(active, cohort, LONDON, afternoon, 3) == "weekly_cap"
    assert skip_reason(active, cohort, LONDON, evening, 0) == "quiet_hours"
    paused = _person(status="paused", paused_until=_local(LONDON, 2026, 11, 19, 0, 0))
    assert skip_reason(paused, cohort, LONDON, afternoon, 0) == "paused"
    assert skip_reason(paused, cohort, LONDON, afternoon + timedelta(days=2), 0) is None
    assert skip_reason(_person(status="stopped"), cohort, LONDON, afternoon, 0) == "stopped"
    assert skip_reason(_person(unreachable=True), cohort, LONDON, afternoon, 0) == "unreachable"
