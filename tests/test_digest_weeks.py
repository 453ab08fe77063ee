"""ISO weeks are read in the programme's own time zone, DST included."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.digest.weeks import IsoWeek, last_complete_week, weeks_ending

LONDON = ZoneInfo("Europe/London")
CHICAGO = ZoneInfo("America/Chicago")


def test_labels_parse_and_print() -> None:
    assert IsoWeek.parse("2026-W47") == IsoWeek(2026, 47)
    assert IsoWeek.parse("2026w05") == IsoWeek(2026, 5)
    assert str(IsoWeek(2026, 5)) == "2026-W05"
    assert IsoWeek.parse("2026-W54") is None
    assert IsoWeek.parse("2026-47") is None
    assert IsoWeek.parse("2020-W53") == IsoWeek(2020, 53)


def test_windows_follow_local_midnight_across_dst() -> None:
    # Week 44 of 2026 holds the end of British Summer Time (Sunday 25 October).
    week = IsoWeek(2026, 43).window(LONDON)
    assert week.start == datetime(2026, 10, 18, 23, 0, tzinfo=UTC)
    assert week.end == datetime(2026, 10, 26, 0, 0, tzinfo=UTC)
    assert IsoWeek(2026, 44).window(LONDON).start == week.end
    chicago = IsoWeek(2026, 47).window(CHICAGO)
    assert chicago.start == datetime(2026, 11, 16, 6, 0, tzinfo=UTC)


def test_the_last_complete_week_depends_on_the_zone() -> None:
    # Monday 00:30 in London is still Sunday evening in Chicago.
    moment = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
    assert last_complete_week(moment, LONDON) == IsoWeek(2026, 47)
    assert last_complete_week(moment, CHICAGO) == IsoWeek(2026, 46)


def test_series_cross_the_new_year() -> None:
    weeks = weeks_ending(IsoWeek(2027, 2), 4)
    assert [str(week) for week in weeks] == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]
