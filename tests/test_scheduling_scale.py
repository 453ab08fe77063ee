"""A schedule slot is planned and queued in the same few statements for any number of people,
and each queued question is the one a single check-in would get (issue 13)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from bot.checkin_runner import initial_state
from bot.engine import welcome
from bot.flows.checkin import message as message_of
from bot.outgoing import payload_of
from bot.runtime import Runtime
from bot.scheduling.checkins import queue_due_checkins
from bot.turn import person_timezone
from storage.checkins import create_checkins
from storage.models import CheckIn, OutboxMessage, Person
from storage.sql import insert_rows
from tests.conftest import FakeClock
from tests.helpers import rows
from tests.scheduling_support import start_runtime, write_config
from tests.test_scheduling_checkins import at

pytestmark = pytest.mark.sql

LONDON = ZoneInfo("Europe/London")
NEWCOMERS = 40


async def _tick_counting_statements(
    runtime: Runtime, clock: FakeClock, moment: datetime
) -> tuple[int, int]:
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        seen.append(statement)

    clock.now = moment
    engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        queued = await queue_due_checkins(runtime, clock.now)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return queued, len(seen)


async def _add_newcomers(runtime: Runtime, clock: FakeClock) -> None:
    async with runtime.db.session() as session:
        written = await insert_rows(
            session,
            Person,
            [
                {
                    "platform": "slack",
                    "platform_user_id": f"UNEW{n}",
                    "timezone": "" if n % 2 else "Europe/London",
                    "cohort_id": "london",
                    "created_at": clock.now,
                }
                for n in range(NEWCOMERS)
            ],
            unique=("platform", "platform_user_id"),
            returning=("id",),
        )
        # The first newcomer has been asked since 40 days ago: the day-30 check is due.
        first = clock.now - timedelta(days=40)
        made = await create_checkins(
            session,
            [
                {
                    "person_id": written[0][0],
                    "programme_id": "routing",
                    "cohort_id": "london",
                    "kind": "scheduled",
                    "slot": "long ago",
                    "scheduled_for": first,
                    "expires_at": first + timedelta(hours=4),
                }
            ],
        )
        assert len(made) == 1
    async with runtime.db.session() as session:
        (old,) = [c for c in await rows(runtime, CheckIn, slot="long ago")]
        old.status, old.sent_at = "sent", first
        session.add(old)


async def test_a_slot_costs_the_same_statements_for_forty_more_people(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    path = write_config(tmp_path, schedule=("tue 15:30",))
    runtime = await start_runtime(database_url, path, clock)
    try:
        # London's member alone (Chicago's 15:30 is later).
        alone = await _tick_counting_statements(runtime, clock, at(LONDON, 2026, 11, 17, 15, 30))
        await _add_newcomers(runtime, clock)
        crowd = await _tick_counting_statements(runtime, clock, at(LONDON, 2026, 11, 24, 15, 30))
        assert alone[0] == 1
        assert crowd[0] == 1 + NEWCOMERS
        assert crowd[1] == alone[1]
        kinds = sorted(c.kind for c in await rows(runtime, CheckIn, status="scheduled"))
        assert kinds == ["day30"] + ["scheduled"] * (1 + NEWCOMERS)
    finally:
        await runtime.close()


async def test_each_queued_question_is_the_one_its_check_in_asks(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    path = write_config(tmp_path, schedule=("tue 09:30", "tue 15:30"))
    runtime = await start_runtime(database_url, path, clock)
    try:
        await _add_newcomers(runtime, clock)
        await _tick_counting_statements(runtime, clock, at(LONDON, 2026, 11, 24, 9, 30))
        await _tick_counting_statements(runtime, clock, at(LONDON, 2026, 11, 24, 15, 30))
        people = {p.id: p for p in await rows(runtime, Person)}
        checkins = {c.id: c for c in await rows(runtime, CheckIn)}
        messages = await rows(runtime, OutboxMessage, purpose="checkin")
        # London's two slots for everyone there, and Chicago's 09:30 (15:30 in London).
        assert len({str(m.payload) for m in messages}) == len(messages) == 2 * (1 + NEWCOMERS) + 1
        # Morning and afternoon questions, and one day-30 check.
        texts = {m.payload["replies"][-1]["text"] for m in messages}
        assert len(texts) == 3
        for message in messages:
            assert message.checkin_id is not None and message.person_id is not None
            checkin = checkins[message.checkin_id]
            person = people[checkin.person_id]
            zone = person_timezone(person, runtime.config)
            w = runtime.wording
            expected = message_of(initial_state(checkin, runtime.config, zone), w)
            # A person's first message from lastmile starts with its welcome.
            first = len(message.payload["replies"]) == 2
            replies = (
                (*welcome(runtime.config, w, person.cohort_id), expected) if first else (expected,)
            )
            # As stored: JSON has lists where the replies have tuples.
            assert message.payload == json.loads(json.dumps(payload_of(replies, w.locale)))
            assert (message.person_id, message.platform) == (person.id, person.platform)
    finally:
        await runtime.close()
