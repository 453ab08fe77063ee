"""Every branch of the frontline conversation, through the local chat, on both databases."""

from __future__ import annotations

from adapters.local.chat import LocalChat
from bot.checkin_runner import open_checkin
from bot.outgoing import queue_checkin
from bot.runtime import Runtime
from storage.models import (
    Answer,
    CheckIn,
    Day30Response,
    Override,
    Person,
    Workaround,
)
from tests.conftest import FakeClock
from tests.helpers import person, rows, rows_referring_to, said


async def test_partly_workaround_then_override_with_reason_and_detail(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "ben")
    await chat.send("checkin")
    assert said(await chat.send("2"), "What did you do instead?")
    assert said(await chat.send("1"), "Did you override or ignore a suggestion from RoutePilot?")
    # The reason is one tap on the same question; the check-in is complete with it.
    assert said(await chat.send("2"), "Anything to add?")
    shown = await chat.send("The suggested road was closed")
    assert said(shown, "“The suggested road was closed”")
    assert said(shown, "never with your name")
    ben = await person(runtime, "ben")
    (answer,) = await rows(runtime, Answer, person_id=ben.id)
    (workaround,) = await rows(runtime, Workaround, person_id=ben.id)
    (override,) = await rows(runtime, Override, person_id=ben.id)
    assert answer.outcome == "partly"
    assert (workaround.kind, workaround.text) == ("by_hand", "")
    assert (override.overridden, override.reason, override.text) == (
        True,
        "wrong",
        "The suggested road was closed",
    )


async def test_no_with_free_text_workaround_and_no_override(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "cat")
    await chat.send("checkin")
    await chat.send("3")
    assert said(await chat.send("4"), "A few words is plenty")
    assert said(await chat.send("Rang the depot"), "Did you override")
    assert said(await chat.send("1"), "“Rang the depot” — no override")
    cat = await person(runtime, "cat")
    (workaround,) = await rows(runtime, Workaround, person_id=cat.id)
    assert (workaround.kind, workaround.text) == ("other", "Rang the depot")
    (override,) = await rows(runtime, Override, person_id=cat.id)
    assert override.overridden is False
    assert [a.outcome for a in await rows(runtime, Answer, person_id=cat.id)] == ["no"]


async def test_did_not_use_it_with_reason(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "dev")
    await chat.send("checkin")
    assert said(await chat.send("4"), "What got in the way?")
    assert said(await chat.send("3"), "✓ Didn't use it — couldn't get into it")
    dev = await person(runtime, "dev")
    (answer,) = await rows(runtime, Answer, person_id=dev.id)
    assert (answer.outcome, answer.not_used_reason) == ("not_used", "no_access")


async def test_stopping_after_the_first_tap_still_counts(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "eve")
    await chat.send("checkin")
    await chat.send("3")
    eve = await person(runtime, "eve")
    (answer,) = await rows(runtime, Answer, person_id=eve.id)
    assert answer.outcome == "no"
    (checkin,) = await rows(runtime, CheckIn, person_id=eve.id)
    assert checkin.status == "answered"


async def test_day30_check_queued_then_answered(runtime: Runtime, clock: FakeClock) -> None:
    ana = await person(runtime, "ana")
    async with runtime.db.session() as session:
        checkin = await open_checkin(
            session, ana, runtime.config, kind="day30", slot="day30", now=clock.now
        )
        assert checkin is not None
        await queue_checkin(session, ana, checkin, runtime.config, runtime.wordings, clock.now)
    chat = LocalChat(runtime, "ana")
    shown = await chat.deliver_pending()
    assert said(shown, "If RoutePilot went away tomorrow, how would you feel?")
    assert said(await chat.send("1"), "What would you change first?")
    await chat.send("Faster sign-in")
    (row,) = await rows(runtime, Day30Response, person_id=ana.id)
    assert (row.feeling, row.change_first) == ("very", "Faster sign-in")
    assert (await rows(runtime, CheckIn, id=checkin.id))[0].status == "answered"
    assert await chat.deliver_pending() == []


async def test_mydata_shows_exactly_the_stored_rows(runtime: Runtime, clock: FakeClock) -> None:
    chat = LocalChat(runtime, "ben")
    await chat.send("checkin")
    await chat.send("2")
    await chat.send("4")
    await chat.send("Used paper map")
    await chat.send("5")
    clock.advance(minutes=5)
    await chat.send("checkin")  # a new check-in: the last one's offer of a few words ends
    await chat.send("Please add the new estate")
    await chat.send("3")
    shown = "\n".join(await chat.send("mydata"))
    assert "Check-ins (2):" in shown and "you asked for it: answered — Partly" in shown
    assert "What you did instead (1):" in shown and "Something else “Used paper map”" in shown
    assert "Did you override a suggestion? (1):" in shown and "Didn't trust it" in shown
    assert "Notes (1):" in shown and "An idea “Please add the new estate”" in shown
    assert "Team: North depot (north)" in shown


async def test_forget_erases_every_row_about_the_person(runtime: Runtime, clock: FakeClock) -> None:
    chat = LocalChat(runtime, "lee")
    await chat.send("checkin")
    await chat.send("3")
    await chat.send("4")
    await chat.send("Asked the dispatcher")
    await chat.send("2")
    clock.advance(minutes=5)
    await chat.send("checkin")
    await chat.send("A note for the team")
    lee = await person(runtime, "lee")
    assert lee.id is not None
    before = await rows_referring_to(runtime, lee.id)
    assert {
        "answer.person_id",
        "workaround.person_id",
        "override.person_id",
        "note.person_id",
        "role.person_id",
        "checkin.person_id",
    } <= before.keys()
    shown = await chat.send("forget")
    assert said(shown, "Are you sure?")
    after = await rows_referring_to(runtime, lee.id)
    # Nothing erased yet (asking adds the outbox row of the question itself).
    assert all(after.get(table, 0) >= count for table, count in before.items())
    assert said(await chat.send("1"), "Everything I kept about you is erased")
    assert await rows_referring_to(runtime, lee.id) == {}
    assert await rows(runtime, Person, platform_user_id="lee") == []


async def test_forget_can_be_called_off(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "ana")
    await chat.send("forget")
    assert said(await chat.send("2"), "Nothing erased")
    assert await rows(runtime, Person, platform_user_id="ana")


async def test_help_keeps_the_lead_section_on_its_own_lines(runtime: Runtime) -> None:
    shown = "\n".join(await LocalChat(runtime, "lee").send("help"))
    assert "its number or its first words.\n\nTeam leads:" in shown
