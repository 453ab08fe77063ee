"""Shift cohorts: asked during their own shift, "this shift" in the question, quiet outside it
(issue 11, acceptance 5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot.checkin_runner import moment_of
from bot.config import CohortConfig
from bot.flows.checkin import Moment
from bot.runtime import Runtime
from bot.scheduling.checkins import queue_due_checkins, send_now
from bot.scheduling.plan import quiet_ends, quiet_reason
from storage.checkins import create_checkin, set_checkin_status
from storage.models import CheckIn, OutboxMessage, Person
from tests.conftest import FakeClock
from tests.helpers import rows
from tests.scheduling_support import start_runtime

LONDON = ZoneInfo("Europe/London")

CONFIG = """
[programmes.routing]
name = "Route planner pilot"
tool = "RoutePilot"
timezone = "Europe/London"

[cohorts.nights]
programme = "routing"
name = "Night crew"
timezone = "Europe/London"
shift = "night"
max_per_week = 5
members = ["slack:ULON"]

[cohorts.days]
programme = "routing"
timezone = "Europe/London"
members = ["slack:UCHI"]
"""


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LONDON)  # type: ignore[misc]


@pytest.fixture
async def runtime(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    path = tmp_path / "lastmile.toml"
    path.write_text(CONFIG, encoding="utf-8")
    built = await start_runtime(database_url, path, clock)
    yield built
    await built.close()


async def test_a_night_shift_is_asked_in_its_shift_and_never_at_half_past_three(
    runtime: Runtime, clock: FakeClock
) -> None:
    """Acceptance 5: a week of minute ticks asks the night crew only between 22:00 and 06:00."""
    clock.now = local(2026, 11, 16, 0, 0).astimezone(UTC)  # Monday 00:00
    end = clock.now + timedelta(days=7)
    while clock.now < end:
        await queue_due_checkins(runtime, clock.now)
        clock.now += timedelta(minutes=5)

    nights = await rows(runtime, CheckIn, cohort_id="nights")
    asked = sorted(checkin.scheduled_for.astimezone(LONDON) for checkin in nights)
    # Half an hour before the end of the second and fourth shift of the week.
    assert [(m.strftime("%a"), m.hour, m.minute) for m in asked] == [
        ("Wed", 5, 30),
        ("Fri", 5, 30),
    ]
    days = await rows(runtime, CheckIn, cohort_id="days")
    # The day cohort's member lives in Chicago: asked at 15:30 there.
    chicago = ZoneInfo("America/Chicago")
    assert [c.scheduled_for.astimezone(chicago).hour for c in days] == [15, 15]
    for message in await rows(runtime, OutboxMessage, purpose="checkin"):
        question = message.payload["replies"][-1]["text"]
        checkin = next(c for c in [*nights, *days] if c.id == message.checkin_id)
        if checkin.cohort_id == "nights":
            assert "Did RoutePilot help you on this shift?" in question
        else:
            assert "Did RoutePilot help you this afternoon?" in question


def test_outside_the_shift_is_quiet_and_weekends_follow_the_shift() -> None:
    nights = CohortConfig(programme="p", shift="night")
    assert quiet_reason(nights, LONDON, local(2026, 11, 17, 15, 30)) == "off_shift"
    assert quiet_reason(nights, LONDON, local(2026, 11, 17, 23, 0)) is None
    assert quiet_reason(nights, LONDON, local(2026, 11, 18, 5, 59)) is None
    # Friday's shift runs into Saturday morning; Saturday night is off.
    assert quiet_reason(nights, LONDON, local(2026, 11, 21, 3, 0)) is None
    assert quiet_reason(nights, LONDON, local(2026, 11, 21, 23, 0)) == "off_shift"
    # A reminder due at 15:00 waits for the shift to start.
    assert quiet_ends(nights, LONDON, local(2026, 11, 17, 15, 0)) == local(2026, 11, 17, 22, 0)


def test_working_hours_and_days_can_be_given_and_weekend_shifts_are_asked() -> None:
    weekend = CohortConfig(programme="p", working_hours="07:00-19:00", working_days="sat,sun")
    assert quiet_reason(weekend, LONDON, local(2026, 11, 21, 12, 0)) is None  # Saturday
    assert quiet_reason(weekend, LONDON, local(2026, 11, 17, 12, 0)) == "off_shift"
    assert [str(slot) for slot in weekend.slots] == ["sat,sun 18:30"]


def test_the_moment_follows_local_time_or_the_shift() -> None:
    office = CohortConfig(programme="p")
    assert moment_of(office, local(2026, 11, 17, 1, 15)) is Moment.NIGHT
    assert moment_of(office, local(2026, 11, 17, 9, 0)) is Moment.MORNING
    assert moment_of(office, local(2026, 11, 17, 15, 30)) is Moment.AFTERNOON
    assert moment_of(office, local(2026, 11, 17, 19, 0)) is Moment.EVENING
    assert moment_of(CohortConfig(programme="p", shift="night"), local(2026, 11, 17, 1, 15)) is (
        Moment.SHIFT
    )


def test_a_schedule_outside_the_shift_or_quiet_hours_with_a_shift_are_refused() -> None:
    with pytest.raises(ValidationError, match="falls outside the shift"):
        CohortConfig(programme="p", shift="night", schedule=("tue,thu 15:30",))
    with pytest.raises(ValidationError, match="cannot be combined with a shift"):
        CohortConfig(programme="p", shift="night", quiet_hours="19:00-08:00")
    with pytest.raises(ValidationError, match="is not a shift"):
        CohortConfig(programme="p", shift="graveyard")


async def test_checkin_send_holds_people_in_quiet_hours_and_at_their_cap(
    runtime: Runtime, clock: FakeClock
) -> None:
    """`lastmile checkin send` stays within the rules and counts who it held, and why."""
    clock.now = local(2026, 11, 17, 15, 30).astimezone(UTC)  # Tuesday afternoon
    report = await send_now(runtime, "nights", "scheduled", clock.now)
    assert (report.queued, report.held["quiet"]) == (0, 1)  # the night crew is off shift

    report = await send_now(runtime, "days", "scheduled", clock.now)
    # The day member lives in Chicago, where it is 09:30: asked.
    assert (report.queued, sum(report.held.values())) == (1, 0)
    clock.now += timedelta(minutes=1)
    again = await send_now(runtime, "days", "scheduled", clock.now)
    assert (again.queued, again.reoffered) == (0, 0)  # queued, not sent yet: it goes as it is
    [checkin] = await rows(runtime, CheckIn, cohort_id="days")
    assert checkin.status == "scheduled"


async def test_checkin_send_asks_again_about_an_open_checkin(
    runtime: Runtime, clock: FakeClock
) -> None:
    clock.now = local(2026, 11, 17, 15, 30).astimezone(UTC)
    await send_now(runtime, "days", "scheduled", clock.now)
    async with runtime.db.session() as session:
        [checkin] = await rows(runtime, CheckIn, cohort_id="days")
        await set_checkin_status(session, checkin.id or 0, "sent", sent_at=clock.now)
    clock.now += timedelta(minutes=5)
    report = await send_now(runtime, "days", "scheduled", clock.now)
    assert (report.queued, report.reoffered) == (0, 1)
    assert len(await rows(runtime, CheckIn, cohort_id="days")) == 1
    [moved] = [m for m in await rows(runtime, OutboxMessage) if m.purpose == "notice"]
    [reply] = moved.payload["replies"]
    assert reply["kind"] == "Replace" and reply["resend"] is True
    assert reply["reply"]["text"].startswith("This one is still open")


async def test_a_week_of_the_cap_is_held_and_counted(runtime: Runtime, clock: FakeClock) -> None:
    clock.now = local(2026, 11, 17, 15, 30).astimezone(UTC)
    async with runtime.db.session() as session:
        people = await rows(runtime, Person, platform_user_id="UCHI")
        for n in range(3):
            made = await create_checkin(
                session,
                person_id=people[0].id or 0,
                programme_id="routing",
                cohort_id="days",
                kind="scheduled",
                slot=f"earlier:{n}",
                scheduled_for=clock.now - timedelta(hours=n + 1),
                expires_at=clock.now - timedelta(minutes=30),
            )
            assert made is not None
    report = await send_now(runtime, "days", "scheduled", clock.now)
    assert (report.queued, report.held["cap"]) == (0, 1)
