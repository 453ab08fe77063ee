"""Writing many rows in one statement (storage.sql.insert_rows): what is stored reads back and
compares exactly as a row written one at a time, conflicts are skipped or updated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.runtime import Runtime
from storage.checkins import create_checkin, create_checkins, save_answer, set_checkin_status
from storage.models import Answer, CheckIn, ConversationAddress, OutboxMessage, Programme
from storage.outbox import NewMessage, enqueue, enqueue_many
from storage.people import ensure_person, save_address
from storage.sql import insert_rows
from tests.conftest import FakeClock
from tests.helpers import rows

pytestmark = pytest.mark.sql

SLOT = datetime(2026, 11, 17, 15, 30, tzinfo=UTC)


async def _people(runtime: Runtime, clock: FakeClock, count: int) -> list[int]:
    async with runtime.db.session() as session:
        people = [await ensure_person(session, "slack", f"U{n}", clock.now) for n in range(count)]
    return [person.id for person in people if person.id is not None]


async def _slot_one(session: AsyncSession, person_id: int) -> CheckIn:
    """One scheduled check-in of the "one" slot, written on its own."""
    return await create_checkin(
        session,
        person_id=person_id,
        programme_id="routing",
        cohort_id="north",
        kind="scheduled",
        slot="one",
        scheduled_for=SLOT,
        expires_at=SLOT + timedelta(hours=4),
    )


async def test_bulk_check_ins_are_found_by_the_same_queries_as_single_ones(
    runtime: Runtime, clock: FakeClock
) -> None:
    first, second, third = await _people(runtime, clock, 3)
    berlin = SLOT.astimezone(ZoneInfo("Europe/Berlin"))
    async with runtime.db.session() as session:
        await _slot_one(session, first)
        created = await create_checkins(
            session,
            [
                {
                    "person_id": person_id,
                    "programme_id": "routing",
                    "cohort_id": "north",
                    "kind": "scheduled",
                    "slot": "one",
                    # Any zone: stored as the same UTC instant as a single insert stores.
                    "scheduled_for": berlin,
                    "expires_at": SLOT + timedelta(hours=4),
                }
                for person_id in (first, second, third, third)
            ],
        )
    # The first person's check-in existed and the repeated row adds nothing.
    assert set(created) == {(second, "scheduled", "one"), (third, "scheduled", "one")}
    async with runtime.db.session() as session:
        same_moment = (
            await session.exec(select(CheckIn.person_id).where(CheckIn.scheduled_for == SLOT))
        ).all()
        in_range = (
            await session.exec(
                select(CheckIn.id).where(
                    col(CheckIn.scheduled_for) >= SLOT,
                    col(CheckIn.scheduled_for) < SLOT + timedelta(microseconds=1),
                )
            )
        ).all()
    assert sorted(same_moment) == [first, second, third]
    assert len(in_range) == 3
    stored = {c.person_id: c for c in await rows(runtime, CheckIn)}
    assert stored[third].id == created[(third, "scheduled", "one")]
    assert stored[third].scheduled_for == SLOT
    assert (stored[third].status, stored[third].message_ref, stored[third].context) == (
        "scheduled",
        {},
        "",
    )


async def test_bulk_messages_keep_their_payload_and_skip_queued_keys(
    runtime: Runtime, clock: FakeClock
) -> None:
    (person_id,) = await _people(runtime, clock, 1)
    payload = {"replies": [{"kind": "Text", "text": 'Zażółć "gęślą" <!channel> \\ jaźń'}]}
    async with runtime.db.session() as session:
        await enqueue(
            session,
            dedupe_key="a",
            platform="slack",
            purpose="notice",
            payload={},
            now=clock.now,
        )
        queued = await enqueue_many(
            session,
            [
                NewMessage(
                    dedupe_key=key,
                    platform="slack",
                    purpose="checkin",
                    payload=payload,
                    not_before=clock.now + timedelta(minutes=10),
                    person_id=person_id,
                    checkin_id=7,
                )
                for key in ("a", "b", "c")
            ],
            clock.now,
        )
    assert queued == {"b", "c"}
    messages = {m.dedupe_key: m for m in await rows(runtime, OutboxMessage)}
    assert messages["a"].payload == {}
    written = messages["b"]
    assert written.payload == payload
    assert (written.status, written.attempts, written.last_error) == ("pending", 0, "")
    assert written.not_before == clock.now + timedelta(minutes=10)
    assert (written.person_id, written.checkin_id, written.created_at) == (person_id, 7, clock.now)


async def test_rows_can_update_on_conflict_and_an_empty_set_writes_nothing(
    runtime: Runtime,
) -> None:
    async with runtime.db.session() as session:
        before = len(await rows(runtime, Programme))
        assert await insert_rows(session, Programme, [], unique=("id",)) == []
        written = await insert_rows(
            session,
            Programme,
            [
                {"id": "routing", "name": "Renamed", "tool": "RoutePilot 2", "timezone": "UTC"},
                {"id": "new", "name": "New pilot", "tool": "Other", "timezone": "UTC"},
            ],
            unique=("id",),
            update=("name", "tool", "timezone"),
            returning=("id",),
        )
    assert sorted(written) == [("new",), ("routing",)]
    programmes = {p.id: p for p in await rows(runtime, Programme)}
    assert len(programmes) == before + 1
    assert (programmes["routing"].name, programmes["routing"].tool) == ("Renamed", "RoutePilot 2")


async def test_a_naive_datetime_is_refused(runtime: Runtime) -> None:
    async with runtime.db.session() as session:
        with pytest.raises(ValueError, match=r"time ?zone"):
            await create_checkins(
                session,
                [
                    {
                        "person_id": 1,
                        "programme_id": "routing",
                        "cohort_id": "north",
                        "kind": "scheduled",
                        "slot": "one",
                        "scheduled_for": SLOT.replace(tzinfo=None),
                        "expires_at": None,
                    }
                ],
            )


async def test_statements_built_once_write_each_calls_own_values(
    runtime: Runtime, clock: FakeClock
) -> None:
    """Upserts, inserts that skip conflicts and status changes are built once per shape
    and run with parameters: each call writes its own values, of every column type."""
    first, second = await _people(runtime, clock, 2)
    berlin = SLOT.astimezone(ZoneInfo("Europe/Berlin"))
    async with runtime.db.session() as session:
        for person_id, channel in ((first, "D1"), (second, "D2")):
            await save_address(session, person_id, "slack", {"channel": channel}, clock.now)
        await save_address(session, first, "slack", {"channel": "D3", "n": [1]}, clock.now)
        checkin = await _slot_one(session, first)
        assert await save_answer(session, checkin, "helped", SLOT) is True
        assert await save_answer(session, checkin, "no", SLOT) is False  # a second tap
        # The session's own copy reads what was stored, an instant given in any zone.
        await set_checkin_status(session, checkin.id, "answered", sent_at=berlin)
        assert (checkin.status, checkin.sent_at, checkin.answered_at) == ("answered", SLOT, SLOT)
    addresses = {row.person_id: row.data for row in await rows(runtime, ConversationAddress)}
    assert addresses == {first: {"channel": "D3", "n": [1]}, second: {"channel": "D2"}}
    (answer,) = await rows(runtime, Answer, checkin_id=checkin.id)
    assert answer.outcome == "helped"
    (stored,) = await rows(runtime, CheckIn, id=checkin.id)
    assert (stored.status, stored.sent_at, stored.answered_at) == ("answered", SLOT, SLOT)
