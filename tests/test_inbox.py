"""The inbox: stored once, handled once, each person's events in order, a dead claim taken over."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from adapters.local.inbound import tapped, typed
from bot.events import Actor, Address, ChoiceMade, MessageReceived
from bot.inbox import MAX_ATTEMPTS, InboxWorker
from bot.platform import Inbound
from bot.replies import Choices, Replace
from bot.runtime import Runtime
from lastmile.platforms import PLATFORMS
from storage.inbox import NewEvent, claim_heads
from storage.models import (
    Answer,
    CheckIn,
    ConversationAddress,
    InboxEvent,
    Note,
    OutboxMessage,
    Person,
    Workaround,
)
from storage.people import find_person, save_address
from tests.conftest import FakeClock
from tests.helpers import rows

pytestmark = pytest.mark.sql

ANA = Actor(platform="local", user_id="ana")
WHERE = Address(platform="local", data={"user": "ana"})


def note(text: str, event_id: str, user: str = "ana") -> NewEvent:
    return NewEvent("local", event_id, f"local:{user}", typed(user, event_id, text))


def tap(token: str, value: str, event_id: str) -> NewEvent:
    return NewEvent("local", event_id, "local:ana", tapped("ana", event_id, token, value))


async def handle_all(worker: InboxWorker) -> None:
    while await worker.handle_due():
        pass


async def _open_checkin(runtime: Runtime) -> str:
    replies = await runtime.engine.handle(MessageReceived(ANA, WHERE, "checkin", "ev-open"))
    (question,) = [reply for reply in replies if isinstance(reply, Choices)]
    return question.token


async def test_a_redelivered_event_is_stored_and_counted_once(runtime: Runtime) -> None:
    token = await _open_checkin(runtime)
    first = await runtime.inbox.store(tap(token, "partly", "ev-tap-1"))
    again = await runtime.inbox.store(tap(token, "partly", "ev-tap-1"))
    await handle_all(runtime.inbox.worker)
    late = await runtime.inbox.store(tap(token, "partly", "ev-tap-1"))

    assert first.new and not again.new and not late.new
    assert first.id == again.id == late.id
    assert [a.outcome for a in await rows(runtime, Answer)] == ["partly"]
    assert len(await rows(runtime, InboxEvent)) == 1


async def test_concurrent_redeliveries_store_one_row_and_one_note(runtime: Runtime) -> None:
    stored = await asyncio.gather(
        *(runtime.inbox.store(note("The scanner froze again", "slack-Ev1")) for _ in range(4))
    )
    await handle_all(runtime.inbox.worker)

    assert sum(s.new for s in stored) == 1 and len({s.id for s in stored}) == 1
    assert len(await rows(runtime, Note)) == 1


async def test_one_persons_events_keep_their_order_across_two_workers(runtime: Runtime) -> None:
    texts = [f"note {n}" for n in range(12)]
    for n, text in enumerate(texts):
        await runtime.inbox.store(note(text, f"order-{n}"))
        await runtime.inbox.store(note(f"ben {n}", f"ben-{n}", user="ben"))
    replica = InboxWorker(runtime)

    await asyncio.gather(handle_all(runtime.inbox.worker), handle_all(replica))

    notes = sorted(await rows(runtime, Note), key=lambda row: row.id or 0)
    ana = [row.text for row in notes if row.text.startswith("note")]
    assert ana == texts
    assert len(notes) == 24


async def test_a_dead_workers_claim_is_taken_over_after_its_lease(
    runtime: Runtime, clock: FakeClock
) -> None:
    await runtime.inbox.store(note("Handover took ages", "ev-dead"))
    dead = InboxWorker(runtime)
    async with runtime.db.session() as session:
        claimed = await claim_heads(
            session, clock.now, owner=dead.owner, lease=dead.leases.lease, platforms=["local"]
        )
    assert len(claimed) == 1
    assert await runtime.inbox.worker.handle_due() == 0  # still leased

    clock.advance(seconds=31)
    assert await runtime.inbox.worker.handle_due() == 1

    [stored] = await rows(runtime, Note)
    assert stored.text == "Handover took ages"


async def test_a_worker_that_lost_its_lease_changes_nothing(
    runtime: Runtime, clock: FakeClock
) -> None:
    await runtime.inbox.store(note("Counted once", "ev-lost"))
    slow = InboxWorker(runtime)
    async with runtime.db.session() as session:
        [row] = await claim_heads(
            session, clock.now, owner=slow.owner, lease=slow.leases.lease, platforms=["local"]
        )
    clock.advance(seconds=31)
    assert await runtime.inbox.worker.handle_due() == 1  # taken over and finished

    await slow._handle_one(row)  # the slow one finishes late: its transaction rolls back

    assert len(await rows(runtime, Note)) == 1
    assert len(await rows(runtime, OutboxMessage)) == 1


async def test_a_payload_that_always_fails_is_given_up_and_the_next_one_goes(
    runtime: Runtime, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        """The local plugin, except that one payload cannot be read."""

        def __getattr__(self, name: str) -> Any:
            return getattr(PLATFORMS["local"], name)

        def translate(self, payload: Mapping[str, Any]) -> Inbound | None:
            if payload.get("text") == "poison":
                raise ValueError("cannot read this")
            return PLATFORMS["local"].translate(payload)

    runtime.platforms["local"] = replace(runtime.platforms["local"], plugin=Broken())
    await runtime.inbox.store(note("poison", "ev-poison"))
    await runtime.inbox.store(note("after the poison", "ev-next"))

    for _ in range(MAX_ATTEMPTS):
        await runtime.inbox.worker.handle_due()
        clock.advance(minutes=2)
    await handle_all(runtime.inbox.worker)

    [poison] = await rows(runtime, InboxEvent, event_id="ev-poison")
    assert (poison.status, poison.attempts, poison.payload) == ("failed", MAX_ATTEMPTS, {})
    assert [n.text for n in await rows(runtime, Note)] == ["after the poison"]
    assert "given up" in caplog.text


async def test_second_tap_on_an_answered_choice_changes_nothing(runtime: Runtime) -> None:
    token = await _open_checkin(runtime)
    await runtime.engine.handle(ChoiceMade(ANA, WHERE, token, "no", event_id="tap-a"))
    replies = await runtime.engine.handle(ChoiceMade(ANA, WHERE, token, "helped", event_id="tap-b"))
    assert [getattr(r, "text", "") for r in replies] == [
        "You already answered this one, thank you."
    ]
    assert [a.outcome for a in await rows(runtime, Answer)] == ["no"]


async def test_tapping_an_old_step_after_moving_on_changes_nothing(runtime: Runtime) -> None:
    token = await _open_checkin(runtime)
    replies = await runtime.engine.handle(ChoiceMade(ANA, WHERE, token, "partly", "t1"))
    (workaround_question,) = [
        r.reply for r in replies if isinstance(r, Replace) and isinstance(r.reply, Choices)
    ]
    await runtime.engine.handle(ChoiceMade(ANA, WHERE, workaround_question.token, "by_hand", "t2"))
    await runtime.engine.handle(
        ChoiceMade(ANA, WHERE, workaround_question.token, "colleague", "t3")
    )
    (workaround,) = await rows(runtime, Workaround)
    assert workaround.kind == "by_hand"


async def test_someone_else_cannot_answer_your_checkin(runtime: Runtime) -> None:
    token = await _open_checkin(runtime)
    ben = Actor(platform="local", user_id="ben")
    replies = await runtime.engine.handle(
        ChoiceMade(ben, Address("local", {"user": "ben"}), token, "helped", "intruder")
    )
    assert replies == []
    assert await rows(runtime, Answer) == []
    (checkin,) = await rows(runtime, CheckIn)
    assert checkin.status == "sent"


async def test_taps_handled_in_one_group_answer_only_their_own_checkins(
    runtime: Runtime,
) -> None:
    """A group reads its check-ins at once; each tap still answers only its own."""
    tokens = {}
    for user in ("ana", "ben", "cat"):
        actor = Actor(platform="local", user_id=user)
        where = Address(platform="local", data={"user": user})
        replies = await runtime.engine.handle(MessageReceived(actor, where, "checkin", user))
        (question,) = [reply for reply in replies if isinstance(reply, Choices)]
        tokens[user] = question.token
    taps = [
        ("ana", tokens["ana"], "helped"),  # her own
        ("ben", tokens["cat"], "no"),  # someone else's: changes nothing
        ("cat", tokens["cat"], "partly"),  # her own, after ben's tap on it in the group
    ]
    for user, token, value in taps:
        payload = tapped(user, f"tap-{user}", token, value)
        await runtime.inbox.store(NewEvent("local", f"tap-{user}", f"local:{user}", payload))

    assert await runtime.inbox.worker.handle_due() == 3  # one group

    answers = {}
    for answer in await rows(runtime, Answer):
        checkin, *_ = await rows(runtime, CheckIn, id=answer.checkin_id)
        answers[await person_named(runtime, checkin.person_id)] = answer.outcome
    assert answers == {"ana": "helped", "cat": "partly"}
    statuses = {
        await person_named(runtime, checkin.person_id): checkin.status
        for checkin in await rows(runtime, CheckIn)
    }
    assert statuses == {"ana": "answered", "ben": "sent", "cat": "answered"}


async def test_one_failing_event_in_a_group_lets_the_others_commit(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = runtime.engine
    receive = engine.receive

    async def failing_for_ana(session: Any, inbound: Inbound) -> Any:
        handled = await receive(session, inbound)  # ana's writes are in the shared transaction
        if inbound.person_key == "local:ana":
            raise RuntimeError("a bug on this one event")
        return handled

    monkeypatch.setattr(engine, "receive", failing_for_ana)
    await runtime.inbox.store(note("Ana's note", "ev-ana"))
    await runtime.inbox.store(note("Ben's note", "ev-ben", user="ben"))

    assert await runtime.inbox.worker.handle_due() == 2  # both in one group

    assert [n.text for n in await rows(runtime, Note)] == ["Ben's note"]
    [ana] = await rows(runtime, InboxEvent, event_id="ev-ana")
    [ben] = await rows(runtime, InboxEvent, event_id="ev-ben")
    assert (ana.status, ana.attempts) == ("pending", 1)
    assert ben.status == "done"
    assert [m.inbox_id for m in await rows(runtime, OutboxMessage)] == [ben.id]


async def test_in_one_group_only_changed_addresses_are_written_and_new_people_stored(
    runtime: Runtime, clock: FakeClock
) -> None:
    for user in ("ana", "ben"):  # first contact: each stored with an address
        await runtime.inbox.store(note(f"{user} first", f"ev-{user}-1", user=user))
    await handle_all(runtime.inbox.worker)
    first_seen = clock.now
    async with runtime.db.session() as session:  # ben's address as an older version wrote it
        ben = await find_person(session, "local", "ben")
        assert ben is not None and ben.id is not None
        await save_address(session, ben.id, "local", {"user": "ben", "old": True}, first_seen)
    clock.advance(minutes=5)
    for user in ("ana", "ben", "cat"):  # cat: first contact inside a group
        await runtime.inbox.store(note(f"{user} again", f"ev-{user}-2", user=user))

    assert await runtime.inbox.worker.handle_due() == 3  # one group

    notes = sorted(n.text for n in await rows(runtime, Note))
    assert notes == ["ana again", "ana first", "ben again", "ben first", "cat again"]
    addresses = {
        (await person_named(runtime, a.person_id)): (a.data, a.updated_at)
        for a in await rows(runtime, ConversationAddress)
    }
    assert addresses == {
        "ana": ({"user": "ana"}, first_seen),  # the same: not written again
        "ben": ({"user": "ben"}, clock.now),  # changed: written
        "cat": ({"user": "cat"}, clock.now),
    }


async def _open_checkins(runtime: Runtime, users: list[str]) -> dict[str, str]:
    """Each user's open check-in question's token."""
    tokens = {}
    for user in users:
        actor = Actor(platform="local", user_id=user, display_name=user)  # as the chat names them
        where = Address(platform="local", data={"user": user})
        replies = await runtime.engine.handle(MessageReceived(actor, where, "checkin", user))
        (question,) = [reply for reply in replies if isinstance(reply, Choices)]
        tokens[user] = question.token
    return tokens


async def test_a_groups_answers_are_written_in_one_statement_each(runtime: Runtime) -> None:
    users = ["ana", "ben", "cat", "dev", "eve", "fin"]
    tokens = await _open_checkins(runtime, users)
    for user in users:  # a first tap answers and ends each one's check-in
        payload = tapped(user, f"tap-{user}", tokens[user], "helped")
        await runtime.inbox.store(NewEvent("local", f"tap-{user}", f"local:{user}", payload))
    written: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        written.append(" ".join(statement.split()[:3]))

    engine = runtime.db.engine.sync_engine
    replayable = runtime.db._replayable_engine
    engines = [engine] + ([replayable.sync_engine] if replayable is not None else [])
    for each in engines:
        event.listen(each, "before_cursor_execute", count)
    try:
        assert await runtime.inbox.worker.handle_due() == len(users)
    finally:
        for each in engines:
            event.remove(each, "before_cursor_execute", count)

    groups = len([s for s in written if s.startswith("SELECT checkin.id")])
    assert groups >= 1
    assert len([s for s in written if s.startswith("INSERT INTO answer")]) == groups
    assert len([s for s in written if s.startswith("UPDATE checkin SET")]) == groups
    answered = {
        await person_named(runtime, a.person_id): a.outcome for a in await rows(runtime, Answer)
    }
    assert answered == dict.fromkeys(users, "helped")
    assert {c.status for c in await rows(runtime, CheckIn)} == {"answered"}


async def test_an_answer_stored_behind_a_groups_back_is_counted_once(runtime: Runtime) -> None:
    """Another replica answered one check-in after the group read it as open: the held
    insert finds the row, and the group goes again one event at a time."""
    tokens = await _open_checkins(runtime, ["ana", "ben", "cat"])
    for user in ("ana", "ben", "cat"):
        payload = tapped(user, f"tap-{user}", tokens[user], "partly")
        await runtime.inbox.store(NewEvent("local", f"tap-{user}", f"local:{user}", payload))
    [ben_checkin] = [
        c for c in await rows(runtime, CheckIn) if await person_named(runtime, c.person_id) == "ben"
    ]
    async with runtime.db.session() as session:  # the check-in still reads as open
        session.add(
            Answer(
                checkin_id=ben_checkin.id,
                person_id=ben_checkin.person_id,
                outcome="no",
                answered_at=ben_checkin.scheduled_for,
            )
        )

    one_group = InboxWorker(runtime, concurrency=1)  # PostgreSQL would spread them out

    assert await one_group.handle_due() == 3

    answers = {
        await person_named(runtime, a.person_id): a.outcome for a in await rows(runtime, Answer)
    }
    assert answers == {"ana": "partly", "ben": "no", "cat": "partly"}
    assert {e.status for e in await rows(runtime, InboxEvent)} == {"done"}
    answered_metric = [
        sample.value
        for family in runtime.metrics.registry.collect()
        for sample in family.samples
        if sample.name == "lastmile_checkins_answered_total"
    ]
    assert sum(answered_metric) == 2  # ana's and cat's; ben's was another's


async def person_named(runtime: Runtime, person_id: int) -> str:
    async with runtime.db.session() as session:
        found = await session.get(Person, person_id)
        assert found is not None
        return found.platform_user_id


async def test_an_event_whose_failure_could_not_be_written_is_tried_once_the_database_is_back(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database went away mid-handling, so not even the failure was written: the
    worker hands its claim back when the database answers, not 30 s later."""
    import bot.inbox as inbox_module

    engine = runtime.engine
    receive, record = engine.receive, inbox_module.record_failure
    away = True

    def unreachable() -> OperationalError:
        return OperationalError("SELECT 1", {}, ConnectionRefusedError("database away"))

    async def handling(session: Any, inbound: Inbound) -> Any:
        if away:
            raise unreachable()
        return await receive(session, inbound)

    async def recording(*args: Any, **kwargs: Any) -> Any:
        if away:
            raise unreachable()
        return await record(*args, **kwargs)

    monkeypatch.setattr(engine, "receive", handling)
    monkeypatch.setattr(inbox_module, "record_failure", recording)
    await runtime.inbox.store(note("stored just before the outage", "ev-outage"))

    assert await runtime.inbox.worker.handle_due() == 1  # claimed; handling and record fail
    [event] = await rows(runtime, InboxEvent, event_id="ev-outage")
    assert event.status == "pending" and event.claimed_until is not None
    away = False
    await handle_all(runtime.inbox.worker)  # the clock has not moved: no lease ran out

    [event] = await rows(runtime, InboxEvent, event_id="ev-outage")
    assert (event.status, event.attempts) == ("done", 0)
    assert [n.text for n in await rows(runtime, Note)] == ["stored just before the outage"]


async def test_a_database_that_keeps_failing_never_uses_up_an_events_attempts(
    runtime: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = runtime.engine
    receive = engine.receive
    outages = MAX_ATTEMPTS + 2

    async def database_away(session: Any, inbound: Inbound) -> Any:
        nonlocal outages
        if outages:
            outages -= 1
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database away"))
        return await receive(session, inbound)

    monkeypatch.setattr(engine, "receive", database_away)
    await runtime.inbox.store(note("kept through a flaky database", "ev-flaky"))

    while outages:
        await runtime.inbox.worker.handle_due()
        [event] = await rows(runtime, InboxEvent, event_id="ev-flaky")
        assert (event.status, event.attempts) == ("pending", 0)
        clock.advance(minutes=2)
    await handle_all(runtime.inbox.worker)

    [event] = await rows(runtime, InboxEvent, event_id="ev-flaky")
    assert event.status == "done"
    assert [n.text for n in await rows(runtime, Note)] == ["kept through a flaky database"]
