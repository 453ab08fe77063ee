"""Scheduled check-ins on SQLite and PostgreSQL: local time across DST, quiet hours, pause, caps,
one reminder then expiry, and the day-30 check (issue 5, acceptance 1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.events import Actor, Address, ChoiceMade
from bot.replies import Choices, Replace, Text
from bot.runtime import Runtime
from bot.scheduling.checkins import expire_checkins, queue_due_checkins, send_reminders
from storage.checkins import create_checkin
from storage.models import CheckIn, OutboxMessage, Person
from tests.conftest import FakeClock
from tests.helpers import rows
from tests.scheduling_support import (
    RecordingSender,
    loop_for,
    start_runtime,
    write_config,
)

pytestmark = pytest.mark.sql

LONDON = ZoneInfo("Europe/London")
CHICAGO = ZoneInfo("America/Chicago")


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
async def runtime(database_url: str, config_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    built = await start_runtime(database_url, config_path, clock)
    yield built
    await built.close()


async def person_id(runtime: Runtime, user_id: str) -> int:
    (person,) = await rows(runtime, Person, platform_user_id=user_id)
    assert person.id is not None
    return person.id


async def set_person(runtime: Runtime, user_id: str, **values: object) -> None:
    async with runtime.db.session() as session:
        await session.exec(
            update(Person).where(col(Person.platform_user_id) == user_id).values(**values)
        )


async def tick(runtime: Runtime, clock: FakeClock, moment: datetime) -> int:
    clock.now = moment
    return await queue_due_checkins(runtime, moment)


async def checkins_of(runtime: Runtime, user_id: str, kind: str = "scheduled") -> list[CheckIn]:
    found = await rows(runtime, CheckIn, person_id=await person_id(runtime, user_id), kind=kind)
    return sorted(found, key=lambda checkin: checkin.scheduled_for)


async def test_each_person_is_asked_at_their_local_1530_across_dst(
    runtime: Runtime, clock: FakeClock
) -> None:
    sender = RecordingSender()
    loop = loop_for(runtime, sender)
    days = [(10, 20), (10, 22), (10, 27), (10, 29), (11, 3), (11, 5)]
    for zone, user in ((LONDON, "ULON"), (CHICAGO, "UCHI")):
        for month, day in days:
            slot = at(zone, 2026, month, day, 15, 30)
            # Where 15:30 was a week earlier, and a minute early: nothing.
            await tick(runtime, clock, slot - timedelta(hours=1))
            await tick(runtime, clock, slot - timedelta(minutes=1))
            assert len(await checkins_of(runtime, user)) == days.index((month, day))
            assert await tick(runtime, clock, slot) == 1
            await loop.deliver_due()
            assert await tick(runtime, clock, slot + timedelta(minutes=4)) == 0
    for zone, user in ((LONDON, "ULON"), (CHICAGO, "UCHI")):
        checkins = await checkins_of(runtime, user)
        assert [c.status for c in checkins] == ["sent"] * 6
        for checkin in checkins:
            assert checkin.sent_at is not None
            assert checkin.sent_at.astimezone(zone).strftime("%H:%M") == "15:30"
        assert [c.slot for c in checkins][2] == f"2026-10-27T15:30 {zone.key}"
    assert len(sender.sent) == 12
    # The first message lastmile sends a person starts with its welcome.
    assert isinstance(sender.sent[0].replies[0], Text)
    assert sender.sent[0].replies[0].text.startswith("Hi, I'm lastmile.")
    london_first = sender.sent[0].replies[-1]
    assert isinstance(london_first, Choices)
    assert london_first.text == "Did RoutePilot help you this afternoon?"


async def test_nobody_is_asked_in_quiet_hours_or_at_weekends(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    path = write_config(tmp_path, schedule=("tue 20:00", "sat 11:00", "wed 07:30"))
    runtime = await start_runtime(database_url, path, clock)
    try:
        for zone in (LONDON, CHICAGO):
            for moment in (
                at(zone, 2026, 11, 17, 20, 0),
                at(zone, 2026, 11, 21, 11, 0),
                at(zone, 2026, 11, 18, 7, 30),
            ):
                assert await tick(runtime, clock, moment) == 0
        assert await rows(runtime, CheckIn) == []
    finally:
        await runtime.close()
    open_weekends = write_config(tmp_path, schedule=("sat 11:00",), weekends=False)
    runtime = await start_runtime(database_url, open_weekends, clock)
    try:
        assert await tick(runtime, clock, at(LONDON, 2026, 11, 21, 11, 0)) == 1
    finally:
        await runtime.close()


async def test_paused_stopped_and_unreachable_people_are_not_asked(
    runtime: Runtime, clock: FakeClock
) -> None:
    await set_person(runtime, "ULON", status="paused", paused_until=at(LONDON, 2026, 11, 19, 0, 0))
    await set_person(runtime, "UCHI", status="stopped")
    assert await tick(runtime, clock, at(LONDON, 2026, 11, 17, 15, 30)) == 0
    assert await tick(runtime, clock, at(CHICAGO, 2026, 11, 17, 15, 30)) == 0
    # The pause ends on its own; the stop lasts until they resume.
    assert await tick(runtime, clock, at(LONDON, 2026, 11, 19, 15, 30)) == 1
    assert await tick(runtime, clock, at(CHICAGO, 2026, 11, 19, 15, 30)) == 0
    await set_person(runtime, "UCHI", status="active", unreachable=True)
    assert await tick(runtime, clock, at(CHICAGO, 2026, 11, 24, 15, 30)) == 0
    assert [c.slot for c in await rows(runtime, CheckIn)] == ["2026-11-19T15:30 Europe/London"]


async def test_weekly_cap_counts_the_persons_local_week(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    path = write_config(tmp_path, schedule=("mon-fri 10:00",), cap=3)
    runtime = await start_runtime(database_url, path, clock)
    try:
        await set_person(runtime, "UCHI", status="stopped")
        counts = [
            await tick(runtime, clock, at(LONDON, 2026, 11, day, 10, 0)) for day in range(16, 24)
        ]
        # Mon-Wed asked, Thu-Fri capped, weekend skipped, next Monday a new week.
        assert counts == [1, 1, 1, 0, 0, 0, 0, 1]
    finally:
        await runtime.close()


async def test_one_reminder_then_expiry(runtime: Runtime, clock: FakeClock) -> None:
    await set_person(runtime, "UCHI", status="stopped")
    sender = RecordingSender()
    loop = loop_for(runtime, sender)
    start = at(LONDON, 2026, 11, 17, 15, 30)
    await tick(runtime, clock, start)
    await loop.deliver_due()
    (checkin,) = await rows(runtime, CheckIn)
    assert checkin.status == "sent"

    async def run(minutes: int) -> tuple[int, int]:
        clock.now = start + timedelta(minutes=minutes)
        reminded = await send_reminders(runtime, clock.now)
        expired = await expire_checkins(runtime, clock.now)
        await loop.deliver_due()
        return reminded, expired

    assert await run(89) == (0, 0)
    assert await run(90) == (1, 0)
    assert await run(91) == (0, 0)
    assert await run(200) == (0, 0)
    assert await run(240) == (0, 1)
    assert await run(300) == (0, 0)
    question, reminder, closed = sender.sent
    asked = question.replies[-1]
    assert isinstance(asked, Choices)
    # The reminder moves the one open question to the bottom of the chat, with a nudge.
    (moved,) = reminder.replies
    assert isinstance(moved, Replace) and moved.resend and moved.token == asked.token
    assert moved.reply == replace(
        asked, text=f"Still got ten seconds? One tap is enough.\n{asked.text}"
    )
    assert closed.purpose == "notice"
    assert closed.replies == (
        Replace(
            asked.token,
            Text(
                f"{asked.text}\nThis check-in has closed. Thanks anyway, there will be another one."
            ),
        ),
    )
    (checkin,) = await rows(runtime, CheckIn)
    assert checkin.status == "expired"
    assert checkin.message_ref == {"channel": "D-ULON", "ts": "1.0001"}


async def test_no_reminder_once_answered_or_in_quiet_hours(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    path = write_config(tmp_path, schedule=("tue 15:30", "tue 17:45"))
    runtime = await start_runtime(database_url, path, clock)
    try:
        await set_person(runtime, "UCHI", status="stopped")
        loop = loop_for(runtime, RecordingSender())
        await tick(runtime, clock, at(LONDON, 2026, 11, 17, 15, 30))
        await loop.deliver_due()
        (answered,) = await rows(runtime, CheckIn)
        actor = Actor(platform="slack", user_id="ULON")
        await runtime.engine.handle(
            ChoiceMade(actor, Address("slack", {}), f"checkin:{answered.id}:first", "helped", "e1")
        )
        await tick(runtime, clock, at(LONDON, 2026, 11, 17, 17, 45))
        await loop.deliver_due()
        for minutes in (120, 180, 240, 300, 600):
            clock.now = at(LONDON, 2026, 11, 17, 17, 45) + timedelta(minutes=minutes)
            # 17:45 + 90 min is 19:15, inside quiet hours: never reminded before expiry.
            assert await send_reminders(runtime, clock.now) == 0
            await expire_checkins(runtime, clock.now)
        statuses = {c.slot: c.status for c in await rows(runtime, CheckIn)}
        assert statuses == {
            "2026-11-17T15:30 Europe/London": "answered",
            "2026-11-17T17:45 Europe/London": "expired",
        }
        assert [c.reminded_at for c in await rows(runtime, CheckIn)] == [None, None]
    finally:
        await runtime.close()


async def test_an_undelivered_checkin_that_expires_never_goes_out(
    runtime: Runtime, clock: FakeClock
) -> None:
    await tick(runtime, clock, at(LONDON, 2026, 11, 17, 15, 30))
    clock.now = at(LONDON, 2026, 11, 17, 19, 31)
    # The platform was down all along; now it is back.
    assert await expire_checkins(runtime, clock.now) == 0
    sender = RecordingSender()
    await loop_for(runtime, sender).deliver_due()
    assert sender.sent == []
    (question,) = await rows(runtime, OutboxMessage)
    assert (question.status, question.last_error) == ("failed", "check-in expired before delivery")
    (checkin,) = await rows(runtime, CheckIn)
    assert checkin.status == "expired" and checkin.sent_at is None


async def test_day30_check_replaces_the_next_slot_once(runtime: Runtime, clock: FakeClock) -> None:
    await set_person(runtime, "UCHI", status="stopped")
    ulon = await person_id(runtime, "ULON")
    first = at(LONDON, 2026, 10, 15, 15, 30)
    async with runtime.db.session() as session:
        old = await create_checkin(
            session,
            person_id=ulon,
            programme_id="routing",
            cohort_id="london",
            kind="scheduled",
            slot="2026-10-15T15:30 Europe/London",
            scheduled_for=first,
            expires_at=first + timedelta(hours=4),
        )
        assert old is not None
        await session.exec(
            update(CheckIn).where(col(CheckIn.id) == old.id).values(status="sent", sent_at=first)
        )
    sender = RecordingSender()
    loop = loop_for(runtime, sender)

    async def tick_and_send(moment: datetime) -> int:
        queued = await tick(runtime, clock, moment)
        await loop.deliver_due()
        return queued

    # 12 November is 28 days on: a regular check-in.
    assert await tick_and_send(at(LONDON, 2026, 11, 12, 15, 30)) == 1
    # 17 November is past day 30: the day-30 check takes that slot, once.
    assert await tick_and_send(at(LONDON, 2026, 11, 17, 15, 30)) == 1
    assert await tick_and_send(at(LONDON, 2026, 11, 17, 15, 32)) == 0
    assert await tick_and_send(at(LONDON, 2026, 11, 19, 15, 30)) == 1
    kinds = [
        (c.kind, c.slot) for c in sorted(await rows(runtime, CheckIn), key=lambda c: c.id or 0)
    ]
    assert kinds == [
        ("scheduled", "2026-10-15T15:30 Europe/London"),
        ("scheduled", "2026-11-12T15:30 Europe/London"),
        ("day30", "day30"),
        ("scheduled", "2026-11-19T15:30 Europe/London"),
    ]
    day30 = [
        m
        for m in sender.sent
        if isinstance(m.replies[-1], Choices) and "went away" in m.replies[-1].text
    ]
    assert len(day30) == 1
