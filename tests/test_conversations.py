"""Every conversation a person has with lastmile, written once and run on local, the browser,
Slack and Teams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date

import pytest

from bot.scheduling.checkins import expire_checkins, send_reminders
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

QUESTION = "Did RoutePilot help you"
WELCOME = "Hi, I'm lastmile."
OPTIONS = {
    "Yes, it helped",
    "Partly",
    "No",
    "Didn't use it",
    "Not now",
    "Did it by hand",
    "Used the old system",
    "Asked a colleague",
    "Something else…",
    "It was wrong",
    "Didn't fit the situation",
    "Other…",
}


@pytest.fixture(params=["local", "web", "slack", "teams"])
async def chat(
    request: pytest.FixtureRequest, database_url: str, clock: FakeClock
) -> AsyncIterator[Conversation]:
    async with conversation(request.param, database_url, clock) as started:
        yield started


async def answers(chat: Conversation) -> list[Answer]:
    return await rows(chat.runtime, Answer)


def questions_shown(chat: Conversation) -> list[str]:
    return [message for message in chat.messages() if QUESTION in message]


async def met(chat: Conversation) -> int:
    """The person has talked to lastmile before (its welcome is behind them): how many
    messages their chat holds."""
    await chat.say("hi")
    assert chat.said(WELCOME)
    return len(chat.messages())


async def test_one_tap_answers_and_the_message_becomes_its_receipt(chat: Conversation) -> None:
    arrived = await chat.checkin()
    assert any(QUESTION in text for text in arrived)
    assert "Yes, it helped" in chat.buttons()

    await chat.tap("Yes, it helped")

    assert [a.outcome for a in await answers(chat)] == ["helped"]
    [receipt] = questions_shown(chat)
    assert "✓ RoutePilot helped" in receipt
    assert "only in totals of 5 or more people" in receipt
    assert not OPTIONS & set(chat.buttons())
    [checkin] = await rows(chat.runtime, CheckIn)
    assert checkin.status == "answered"


async def test_partly_by_hand_overrode_didnt_fit_is_two_taps_plus_one_in_one_message(
    chat: Conversation,
) -> None:
    """Acceptance 1: the check-in is one message, updated step by step, ending as a receipt."""
    before = await met(chat)
    await chat.checkin()
    assert len(chat.messages()) == before + 1

    await chat.tap("Partly")
    assert chat.said("What did you do instead?")
    await chat.tap("Did it by hand")
    assert chat.said("Did you override or ignore a suggestion from RoutePilot? If so, why?")
    await chat.tap("Didn't fit the situation")

    assert len(chat.messages()) == before + 1
    receipt = chat.messages()[-1]
    assert receipt.startswith(QUESTION)
    assert "✓ Partly — did it by hand — overrode it: didn't fit the situation" in receipt
    assert "only in totals of 5 or more people" in receipt
    assert not OPTIONS & set(chat.buttons())  # only the offer to add a few words is left
    assert [a.outcome for a in await answers(chat)] == ["partly"]
    [workaround] = await rows(chat.runtime, Workaround)
    assert (workaround.kind, workaround.text) == ("by_hand", "")
    [override] = await rows(chat.runtime, Override)
    assert (override.overridden, override.reason) == (True, "didnt_fit")


async def test_a_few_words_after_the_receipt_are_kept_with_the_override(
    chat: Conversation,
) -> None:
    before = await met(chat)
    await chat.checkin()
    await chat.tap("No")
    await chat.tap("Used the old system")
    await chat.tap("It was wrong")
    await chat.write("Sent me down a closed road")

    [override] = await rows(chat.runtime, Override)
    assert (override.reason, override.text) == ("wrong", "Sent me down a closed road")
    assert len(chat.messages()) == before + 1
    assert "“Sent me down a closed road”" in chat.messages()[-1]
    assert chat.buttons() == []
    assert await rows(chat.runtime, Note) == []


async def test_partly_by_hand_and_no_override(chat: Conversation) -> None:
    await chat.checkin()
    await chat.tap("Partly")
    await chat.tap("Did it by hand")
    await chat.tap("No")

    assert [a.outcome for a in await answers(chat)] == ["partly"]
    [workaround] = await rows(chat.runtime, Workaround)
    assert (workaround.kind, workaround.text) == ("by_hand", "")
    [override] = await rows(chat.runtime, Override)
    assert override.overridden is False
    assert chat.buttons() == []
    assert "✓ Partly — did it by hand — no override" in questions_shown(chat)[-1]


async def test_something_else_in_words_then_an_override_with_another_reason(
    chat: Conversation,
) -> None:
    await chat.checkin()
    await chat.tap("No")
    await chat.tap("Something else…")
    await chat.write("Rang the depot & asked <Sam>")
    await chat.tap("Other…")
    await chat.tap("Skip")

    [workaround] = await rows(chat.runtime, Workaround)
    assert (workaround.kind, workaround.text) == ("other", "Rang the depot & asked <Sam>")
    [override] = await rows(chat.runtime, Override)
    assert (override.overridden, override.reason, override.text) == (True, "other", "")
    assert chat.buttons() == []
    [receipt] = questions_shown(chat)
    assert "“Rang the depot & asked <Sam>”" in receipt
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


async def test_typed_number_label_greeting_thanks_and_natural_pause(chat: Conversation) -> None:
    """Acceptance 2: "2", "colleague", "hi", "thanks" and "pause 2 weeks" are understood."""
    before = await met(chat)
    await chat.checkin()

    await chat.say("2")
    assert [a.outcome for a in await answers(chat)] == ["partly"]
    assert "What did you do instead?" in questions_shown(chat)[-1]

    await chat.say("colleague")
    [workaround] = await rows(chat.runtime, Workaround)
    assert workaround.kind == "colleague"
    assert "✓ Partly — asked a colleague" in questions_shown(chat)[-1]
    assert len(questions_shown(chat)) == 1  # the same message, updated

    hello = "\n".join(await chat.say("hi"))
    assert "Nothing to do right now" in hello
    thanks = "\n".join(await chat.say("thanks!"))
    assert "You're welcome" in thanks
    assert await rows(chat.runtime, Note) == []  # neither is kept

    paused = "\n".join(await chat.say("pause 2 weeks"))
    person = await chat.person()
    assert person is not None and person.status == "paused" and person.paused_until is not None
    assert person.paused_until.date() == date(2026, 12, 1)
    assert "Tuesday, December 1, 2026" in paused and "14 days" in paused
    assert len(chat.messages()) == before + 1 + 3  # the check-in, and three short answers


async def test_pause_till_a_weekday_or_a_date_says_what_it_understood(
    chat: Conversation,
) -> None:
    friday = "\n".join(await chat.say("pause till friday"))
    assert "Friday, November 20, 2026" in friday
    christmas = "\n".join(await chat.say("pause until 24 Dec"))
    assert "Thursday, December 24, 2026" in christmas
    person = await chat.person()
    assert person is not None and person.paused_until is not None
    assert person.paused_until.date() == date(2026, 12, 24)
    unclear = "\n".join(await chat.say("pause whenever"))
    assert "I didn't catch until when" in unclear


async def test_a_question_mark_gets_help_and_an_unmatched_reply_is_a_note(
    chat: Conversation,
) -> None:
    await met(chat)
    await chat.checkin()
    shown = "\n".join(await chat.say("?"))
    assert "I'm lastmile" in shown
    await chat.say("the app froze at the gate")
    [note] = await rows(chat.runtime, Note)
    assert note.text == "the app froze at the gate"
    assert await answers(chat) == []  # the question is still open: its label answers it
    await chat.say("Yes, it helped")
    assert [a.outcome for a in await answers(chat)] == ["helped"]


async def test_a_reminder_then_expiry_leave_one_message_and_no_live_button(
    chat: Conversation, clock: FakeClock
) -> None:
    """Acceptance 3: a reminder moves the open question, expiry closes every copy."""
    before = await met(chat)
    await chat.checkin()

    assert await send_reminders(chat.runtime, clock.advance(minutes=91)) == 1
    reminded = await chat.arrived()
    assert any("Still got ten seconds?" in text for text in reminded)
    assert len(questions_shown(chat)) == 1  # moved, not copied
    assert len(chat.messages()) == before + 1
    assert "Yes, it helped" in chat.buttons()

    assert await expire_checkins(chat.runtime, clock.advance(hours=3)) == 1
    await chat.arrived()
    assert chat.buttons() == []
    [closed] = questions_shown(chat)
    assert "This check-in has closed" in closed
    assert len(chat.messages()) == before + 1


async def test_checkin_during_an_open_one_offers_it_again(chat: Conversation) -> None:
    """Acceptance 3: `checkin` re-offers the open check-in instead of opening another."""
    await met(chat)
    await chat.checkin()
    await chat.tap("No")
    shown = "\n".join(await chat.say("checkin"))

    assert "This one is still open" in shown
    assert "What did you do instead?" in shown
    assert len(await rows(chat.runtime, CheckIn)) == 1
    assert len(questions_shown(chat)) == 1
    await chat.tap("Did it by hand")
    [workaround] = await rows(chat.runtime, Workaround)
    assert workaround.kind == "by_hand"


async def test_a_checkin_half_answered_is_closed_with_its_receipt_at_expiry(
    chat: Conversation, clock: FakeClock
) -> None:
    await chat.checkin()
    await chat.tap("Partly")
    await expire_checkins(chat.runtime, clock.advance(hours=5))
    await chat.arrived()

    assert chat.buttons() == []
    assert "✓ Partly" in questions_shown(chat)[-1]


async def test_not_now_is_an_answer_with_nothing_more_asked(chat: Conversation) -> None:
    await chat.checkin()
    await chat.tap("Not now")

    assert [a.outcome for a in await answers(chat)] == ["not_now"]
    assert "✓ Not now" in questions_shown(chat)[-1]
    assert chat.said("No problem, maybe next time.")
    assert chat.buttons() == []


async def test_the_first_message_from_lastmile_is_its_welcome_with_the_question(
    chat: Conversation,
) -> None:
    arrived = await chat.checkin()
    text = "\n".join(chat.messages())
    assert WELCOME in text and "in totals of 5 or more people" in text and "stop" in text
    assert any(QUESTION in shown for shown in arrived)
    person = await chat.person()
    assert person is not None and person.welcomed_at is not None
    await chat.say("hello")
    assert "\n".join(chat.messages()).count(WELCOME) == 1
    assert chat.said("Nothing to do right now")


async def test_a_photo_with_a_caption_keeps_the_words_and_says_the_file_is_not_kept(
    chat: Conversation,
) -> None:
    await met(chat)
    shown = "\n".join(await chat.send_file("Scanner screen cracked again"))

    assert "not the photo or file itself" in shown
    [note] = await rows(chat.runtime, Note)
    assert note.text == "Scanner screen cracked again"


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
    assert chat.said("Check-ins are paused")
    await chat.say("resume")
    person = await chat.person()
    assert person is not None and person.status == "active"
    await chat.say("stop")
    person = await chat.person()
    assert person is not None and person.status == "stopped"


async def test_mydata_in_plain_words_with_the_labels_tapped(chat: Conversation) -> None:
    await chat.checkin()
    await chat.tap("Didn't use it")
    await chat.tap("Too slow / too many steps")
    await chat.say("Second note about the handheld")
    shown = "\n".join(await chat.say("mydata"))

    person = await chat.person()
    assert person is not None
    assert "Didn't use it · Too slow / too many steps" in shown
    assert "not_used" not in shown and "too_slow" not in shown
    assert f"your id {person.platform_user_id}" in shown
    if person.email:
        assert person.email in shown
    assert "North" in shown
    assert "Second note about the handheld" in shown
    assert "Roles: nothing" in shown


async def test_mydata_json_is_a_file_with_every_field(chat: Conversation) -> None:
    await chat.checkin()
    await chat.tap("Yes, it helped")
    shown = "\n".join(await chat.say("mydata json"))

    assert "as a file" in shown
    [file] = chat.files()
    data = json.loads(file)
    person = await chat.person()
    assert person is not None
    assert data["person"]["platform_user_id"] == person.platform_user_id
    assert data["person"]["email"] == person.email
    assert set(data["person"]) >= {"locale", "timezone", "workspace_id", "welcomed_at"}
    [checkin] = data["checkins"]
    assert checkin["status"] == "answered" and checkin["slot"].startswith("test:")
    assert [answer["outcome"] for answer in data["answers"]] == ["helped"]


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

    assert "pause 2 weeks" in worker and "update THEME" not in worker
    assert "update THEME" in owner
    assert isinstance(await chat.person("owner"), Person)
