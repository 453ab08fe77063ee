"""The same event twice, or a second tap, stores one answer."""

from __future__ import annotations

import asyncio

from adapters.local.chat import LocalChat
from bot.events import Actor, Address, ChoiceMade, MessageReceived
from bot.replies import Choices
from bot.runtime import Runtime
from storage.models import Answer, CheckIn, Note, ProcessedEvent, Workaround
from tests.helpers import rows

ANA = Actor(platform="local", user_id="ana")
WHERE = Address(platform="local", data={"user": "ana"})


async def _open_checkin(runtime: Runtime) -> str:
    replies = await runtime.engine.handle(MessageReceived(ANA, WHERE, "checkin", "ev-open"))
    (question,) = [reply for reply in replies if isinstance(reply, Choices)]
    return question.token


async def test_same_event_delivered_twice_stores_one_answer(runtime: Runtime) -> None:
    token = await _open_checkin(runtime)
    tap = ChoiceMade(ANA, WHERE, token, "partly", event_id="ev-tap-1")
    first = await runtime.engine.handle(tap)
    again = await runtime.engine.handle(tap)
    assert first and again == []
    assert [a.outcome for a in await rows(runtime, Answer)] == ["partly"]
    assert len(await rows(runtime, ProcessedEvent, event_id="ev-tap-1")) == 1


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
    (workaround_question,) = [r for r in replies if isinstance(r, Choices)]
    await runtime.engine.handle(ChoiceMade(ANA, WHERE, workaround_question.token, "by_hand", "t2"))
    await runtime.engine.handle(
        ChoiceMade(ANA, WHERE, workaround_question.token, "colleague", "t3")
    )
    (workaround,) = await rows(runtime, Workaround)
    assert workaround.kind == "by_hand"


async def test_concurrent_taps_store_one_answer(runtime: Runtime) -> None:
    token = await _open_checkin(runtime)
    taps = [ChoiceMade(ANA, WHERE, token, "helped", event_id=f"race-{n}") for n in range(5)]
    await asyncio.gather(*(runtime.engine.handle(tap) for tap in taps))
    assert [a.outcome for a in await rows(runtime, Answer)] == ["helped"]


async def test_concurrent_redeliveries_of_one_event_store_one_note(runtime: Runtime) -> None:
    message = MessageReceived(ANA, WHERE, "The scanner froze again", event_id="slack-Ev1")
    results = await asyncio.gather(*(runtime.engine.handle(message) for _ in range(4)))
    assert sum(1 for replies in results if replies) == 1
    assert len(await rows(runtime, Note)) == 1


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


async def test_local_chat_double_entry_counts_once(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "ana")
    await chat.send("checkin")
    await chat.send("1")
    await chat.send("1")
    assert len(await rows(runtime, Answer)) == 1
