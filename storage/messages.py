"""Repository functions for posted messages: where each question token was shown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import PostedMessage
from storage.sql import upsert


async def remember_message(
    session: AsyncSession,
    platform: str,
    token: str,
    person_id: int | None,
    ref: dict[str, Any],
    now: datetime,
) -> None:
    """Keep where the message showing the question `token` is (replacing an older record).

    Args:
        session: the open session.
        platform: "slack", "teams", …
        token: the question token the message carries.
        person_id: whom the message was for, so `forget` erases the row; None for a channel.
        ref: the platform's reference to the message; opaque here.
        now: when it was posted.
    """
    values = {
        "platform": platform,
        "token": token,
        "person_id": person_id,
        "ref": ref,
        "created_at": now,
    }
    await upsert(
        session, PostedMessage, values, ("platform", "token"), ("person_id", "ref", "created_at")
    )


async def find_message(session: AsyncSession, platform: str, token: str) -> PostedMessage | None:
    """Where the message showing `token` is, if known."""
    return await session.get(PostedMessage, (platform, token))


async def forget_message(session: AsyncSession, platform: str, token: str) -> None:
    """The question `token` is answered: its message needs no more updates."""
    await session.exec(
        delete(PostedMessage).where(
            col(PostedMessage.platform) == platform, col(PostedMessage.token) == token
        )
    )


async def forget_messages_before(session: AsyncSession, moment: datetime) -> None:
    """Drop records of messages posted before `moment` (their questions have long closed)."""
    await session.exec(delete(PostedMessage).where(col(PostedMessage.created_at) < moment))
