"""A first pass through the engine on both databases."""

from __future__ import annotations

from sqlmodel import select

from adapters.local.chat import LocalChat
from bot.runtime import Runtime
from storage.models import Answer


async def test_helped_answer_is_stored(runtime: Runtime) -> None:
    chat = LocalChat(runtime, "ana")
    shown = await chat.send("checkin")
    assert any("Did RoutePilot help you" in line for line in shown)
    shown = await chat.send("1")
    # The check-in's message is replaced by its receipt.
    assert "✓ RoutePilot helped" in shown
    async with runtime.db.session() as session:
        answers = (await session.exec(select(Answer))).all()
    assert [answer.outcome for answer in answers] == ["helped"]
