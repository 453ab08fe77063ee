"""Every conversation a person has with lastmile, written once and run on local, the browser,
Slack and Teams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.models import (
    Answer,
    CheckIn,
    InboxEvent,
    Note,
    OutboxMessage,
    Override,
    Person,
    Workaround,
)
from tests.conftest import FakeClock
from tests.conversation import Conversation, WebConversation, conversation
from tests.helpers import rows

QUESTION = "Did RoutePilot help you this afternoon?"


@pytest.fixture(params=["local", "web", "slack", "teams"])
async def chat(
    request: pytest.FixtureRequest, database_url: str, clock: FakeClock
) -> AsyncIterator[Conversation]:
    async with conversation(request.param, database_url, clock) as started:
        yield started


async def answers(chat: Conversation) -> list[Answer]:
    return await rows(chat.runtime, Answer)


async def test_one_tap_answers_and_no_button_is_left_to_tap_again(chat: Conversation) -> None:
    arrived = await chat.checkin()
    assert any(QUESTION in text for text in arrived)
    assert "Yes, it helped" in chat.buttons()

    await chat.tap("Yes, it helped")

    assert [a.outcome for a in await answers(chat)] == ["helped"]
    assert chat.said("You said: RoutePilot helped.")
    assert chat.said("only in totals of 5 or more people")
    assert "Yes, it helped" not in chat.buttons()
    [checkin] = await rows(chat.runtime, CheckIn)
    assert checkin.status == "answered"


async def test_partly_by_hand_and_no_override(chat: Conversation) -> None:
    await chat.checkin()
    await chat.tap("Partly")
    assert chat.said("What did you do instead?")
    await chat.tap("Did it by hand")
    assert chat.said("Did you override or ignore a suggestion from RoutePilot?")
    await chat.tap("No")

    assert [a.outcome for a in await answers(chat)] == ["partly"]
    [workaround] = await rows(chat.runtime, Workaround)
    assert (workaround.kind, workaround.text) == ("by_hand", "")
    [override] = await rows(chat.runtime, Override)
    assert override.overridden is False
    assert chat.buttons() == []


async def test_something_else_in_words_then_an_override_with_its_reason(
    chat: Conversation,
) -> None:
    await chat.checkin()
    await chat.tap("No")
    await chat.tap("Something else…")
    await chat.write("Rang the depot & asked <Sam>")
    await chat.tap("Yes")
    await chat.tap("It was wrong")
    await chat.tap("Skip")

    [workaround] = await rows(chat.runtime, Workaround)
    assert (workaround.kind, workaround.text) == ("other", "Rang the depot & asked <Sam>")
    [override] = await rows(chat.runtime, Override)
    assert (override.overridden, override.reason, override.text) == (True, "wrong", "")
    assert chat.buttons() == []
    mydata = "\n".join(await chat.say("mydata"))
    assert "Rang the depot & asked <Sam>" in mydata  # shown back verbatim


async def test_typing_answers_the_question_that_wants_words(chat: Conversation) -> None:
    await chat.checkin()
    await chat.tap("Didn't use it")
    await chat.tap("Other…")
    await chat.say("Signal dropped in the yard")

    [answer] = await answers(chat)
    assert (answer.outcome, answer.not_used_reason) == ("not_used", "other")
    assert answer.not_used_text == "Signal dropped in the yard"
    assert await rows(chat.runtime, Note) == []  # an answer, not a note


async def test_not_now_is_an_answer_with_nothing_more_asked(chat: Conversation) -> None:
    await chat.checkin()
    await chat.tap("Not now")

    assert [a.outcome for a in await answers(chat)] == ["not_now"]
    assert chat.said("Not now. No problem.")
    assert chat.buttons() == []


async def test_a_volunteered_note_is_kept_and_classified_with_one_tap(chat: Conversation) -> None:
    await chat.say("The scanner app logs me out at every stop")
    assert chat.said("I've kept that note")
    await chat.tap("A workaround")

    [note] = await rows(chat.runtime, Note)
    assert (note.text, note.kind) == ("The scanner app logs me out at every stop", "workaround")
    assert chat.said("Kept as a workaround")
    assert "A workaround" not in chat.buttons()


async def test_pause_resume_and_stop(chat: Conversation) -> None:
    await chat.say("pause 1w")
    person = await chat.person()
    assert person is not None and person.status == "paused"
    assert chat.said("Check-ins paused until")
    await chat.say("resume")
    person = await chat.person()
    assert person is not None and person.status == "active"
    await chat.say("stop")
    person = await chat.person()
    assert person is not None and person.status == "stopped"


async def test_mydata_then_forget_after_a_confirmation(chat: Conversation) -> None:
    await chat.say("Second note about the handheld")
    shown = await chat.say("mydata")
    assert any("Second note about the handheld" in text for text in shown)
    await chat.say("forget")
    assert chat.said("Are you sure?")
    assert await chat.person() is not None  # nothing erased before the confirmation
    await chat.tap("Yes, erase it all")

    assert chat.said("Everything I kept about you is erased")
    assert await chat.person() is None
    assert await rows(chat.runtime, Note) == []


async def test_someone_outside_every_pilot_is_told_and_nothing_is_kept(
    chat: Conversation,
) -> None:
    if isinstance(chat, WebConversation):
        pytest.skip("the browser chat offers only the people the config names")
    shown = await chat.say("hello, can I join?", who="stranger")

    assert any("not part of a pilot" in text for text in shown)
    assert await chat.person("stranger") is None
    assert await rows(chat.runtime, Note) == []
    assert all(event.payload == {} for event in await rows(chat.runtime, InboxEvent))
    # What was said back to them is not kept either, once it went out.
    replies = await rows(chat.runtime, OutboxMessage)
    assert replies and all(r.payload == {} and r.destination == "" for r in replies)


async def test_control_characters_are_dropped_and_a_long_note_is_shortened_and_said(
    chat: Conversation,
) -> None:
    await chat.say("Scanner\x00 froze\x07 again")
    shown = await chat.say("x" * 10_000)

    notes = sorted(await rows(chat.runtime, Note), key=lambda note: note.id or 0)
    assert [note.text for note in notes] == ["Scanner froze again", "x" * 4000]
    assert any("kept the first 4000 characters" in text for text in shown)


async def test_personal_commands_need_a_person_and_help_fits_the_role(chat: Conversation) -> None:
    worker = "\n".join(await chat.say("help"))
    owner = "\n".join(await chat.say("help", who="owner"))

    assert "pause 1w" in worker and "update THEME" not in worker
    assert "update THEME" in owner
    assert isinstance(await chat.person("owner"), Person)
