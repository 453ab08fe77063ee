"""Writes held in a transaction (storage.held): each table's writes keep their order, and
whatever the transaction reads next sees them."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.runtime import Runtime
from storage.held import hold_writes
from storage.models import ConversationState
from storage.people import clear_state, ensure_person, get_state, put_state
from tests.conftest import FakeClock
from tests.helpers import rows

pytestmark = pytest.mark.sql


async def test_held_flow_steps_are_stored_in_order_seen_by_reads_and_run_by_the_commit(
    runtime: Runtime, clock: FakeClock
) -> None:
    async with runtime.db.session() as session:
        ana = await ensure_person(session, "local", "ana", clock.now)
        ben = await ensure_person(session, "local", "ben", clock.now)
        assert ana.id is not None and ben.id is not None
        for person in (ana.id, ben.id):
            await put_state(session, person, "checkin", "first", None, {}, clock.now)

    async with runtime.db.session() as session:
        hold_writes(session)
        await clear_state(session, ana.id)
        await put_state(session, ana.id, "checkin", "second", None, {}, clock.now)
        await clear_state(session, ben.id)
        assert await get_state(session, ben.id) is None  # the read runs what is held first
        stored = (await session.exec(select(ConversationState))).all()
        assert [(s.person_id, s.step) for s in stored] == [(ana.id, "second")]
        await put_state(session, ben.id, "checkin", "third", None, {}, clock.now)  # runs at commit

    stored_after = await rows(runtime, ConversationState)
    assert sorted((s.person_id, s.step) for s in stored_after) == [
        (ana.id, "second"),
        (ben.id, "third"),
    ]


async def test_held_writes_of_a_failed_transaction_are_never_run(
    runtime: Runtime, clock: FakeClock
) -> None:
    async with runtime.db.session() as session:
        ana = await ensure_person(session, "local", "ana", clock.now)
        assert ana.id is not None
        await put_state(session, ana.id, "checkin", "first", None, {}, clock.now)

    with pytest.raises(RuntimeError):
        async with runtime.db.session() as session:
            hold_writes(session)
            await clear_state(session, ana.id)
            raise RuntimeError("a bug before the commit")

    assert [s.step for s in await rows(runtime, ConversationState)] == ["first"]
