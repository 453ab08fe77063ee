"""Every branch of the frontline conversation, through the local chat, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.local.chat import LocalChat
from bot.checkin_runner import open_checkin
from bot.outgoing import queue_checkin
from bot.runtime import Runtime
from storage.models import Answer, CheckIn, Day30Response, Note, Override, Person, Workaround
from tests.conftest import FakeClock
from tests.helpers import person, rows, rows_referring_to, said


async def test_helped(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "ana")
    assert said(await chat.send("checkin"), "Did RoutePilot help you")
    shown = await chat.send("1")
    assert said(shown, "✓ You said: RoutePilot helped.")
    assert said(shown, "never with your name")
    ana = await person(runtime, "ana")
    assert [a.outcome for a in await rows(runtime, Answer, person_id=ana.id)] == ["helped"]
    assert await rows(runtime, Workaround) == []


async def test_partly_workaround_then_override_with_reason_and_detail(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "ben")
    await chat.send("checkin")
    assert said(await chat.send("2"), "What did you do instead?")
    assert said(await chat.send("1"), "Did you override or ignore a suggestion from RoutePilot?")
    assert said(await chat.send("2"), "What was the main reason?")
    assert said(await chat.send("1"), "Anything to add?")
    assert said(await chat.send("The suggested road was closed"), "never with your name")
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
    assert said(await chat.send("1"), "✓ No override.")
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
    assert said(await chat.send("3"), "✓ What got in the way: Couldn't get into it")
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
        await queue_checkin(session, ana, checkin, runtime.config, runtime.wording, clock.now)
    chat = LocalChat(runtime, "ana")
    shown = await chat.deliver_pending()
    assert said(shown, "If RoutePilot went away tomorrow, how would you feel?")
    assert said(await chat.send("1"), "What would you change first?")
    await chat.send("Faster sign-in")
    (row,) = await rows(runtime, Day30Response, person_id=ana.id)
    assert (row.feeling, row.change_first) == ("very", "Faster sign-in")
    assert (await rows(runtime, CheckIn, id=checkin.id))[0].status == "answered"
    assert await chat.deliver_pending() == []


async def test_volunteered_note_is_kept_and_classified(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "ana")
    shown = await chat.send("The app logs me out every time I reverse")
    assert said(shown, "I've kept that note")
    assert said(await chat.send("3"), "Kept as an idea")
    (note,) = await rows(runtime, Note)
    assert (note.text, note.kind) == ("The app logs me out every time I reverse", "idea")


async def test_pause_resume_stop(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "ana")
    assert said(await chat.send("pause 1w"), "paused until Tue 24 Nov 2026")
    ana = await person(runtime, "ana")
    assert ana.status == "paused" and ana.paused_until is not None
    assert ana.paused_until.astimezone(UTC) == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    assert said(await chat.send("pause until 2027-01-04"), "Mon 04 Jan 2027")
    assert said(await chat.send("pause until 2020-01-01"), "That date has passed")
    assert said(await chat.send("pause sometime"), "Try pause 1w")
    assert said(await chat.send("resume"), "back on")
    assert (await person(runtime, "ana")).status == "active"
    assert said(await chat.send("stop"), "no more check-ins")
    assert (await person(runtime, "ana")).status == "stopped"


async def test_mydata_shows_exactly_the_stored_rows(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "ben")
    await chat.send("checkin")
    await chat.send("2")
    await chat.send("4")
    await chat.send("Used paper map")
    await chat.send("2")
    await chat.send("4")
    await chat.send("0")
    await chat.send("Please add the new estate")
    await chat.send("3")
    shown = "\n".join(await chat.send("mydata"))
    assert "Check-ins (1):" in shown and "triggered: answered, partly" in shown
    assert "Workarounds (1):" in shown and "other: “Used paper map”" in shown
    assert "Overrides (1):" in shown and "overrode, distrust" in shown
    assert "Notes (1):" in shown and "idea: Please add the new estate" in shown
    assert "team north" in shown


async def test_forget_erases_every_row_about_the_person(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "lee")
    await chat.send("checkin")
    await chat.send("3")
    await chat.send("4")
    await chat.send("Asked the dispatcher")
    await chat.send("2")
    await chat.send("1")
    await chat.send("0")
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
    assert await rows_referring_to(runtime, lee.id) == before  # nothing yet
    assert said(await chat.send("1"), "Everything I kept about you is erased")
    assert await rows_referring_to(runtime, lee.id) == {}
    assert await rows(runtime, Person, platform_user_id="lee") == []


async def test_forget_can_be_called_off(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "ana")
    await chat.send("forget")
    assert said(await chat.send("2"), "Nothing erased")
    assert await rows(runtime, Person, platform_user_id="ana")


async def test_someone_outside_every_cohort_is_told_kindly(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "stranger")
    assert said(await chat.send("checkin"), "not part of a pilot")
    assert said(await chat.send("hello there"), "not part of a pilot")
    assert await rows(runtime, Note) == []


async def test_help_lists_more_for_owners(runtime: Runtime) -> None:
    worker = "\n".join(await LocalChat(runtime, "ana").send("help"))
    owner = "\n".join(await LocalChat(runtime, "olu").send("help"))
    assert "pause 1w" in worker and "update THEME" not in worker
    assert "update THEME" in owner


async def test_help_keeps_the_lead_section_on_its_own_lines(runtime: Runtime) -> None:
    shown = "\n".join(await LocalChat(runtime, "lee").send("help"))
    assert "erase everything I keep about you\n\nTeam leads:" in shown
