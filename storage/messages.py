"""Repository functions for sent messages: every copy of a question, on any platform."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import SentMessage

COPIES_PER_TOKEN = 4
"""A question is on few messages (the check-in, its reminder); older copies are let go."""


@dataclass(frozen=True)
class Copy:
    """A platform message that shows the question `token` (see `remember_copies`)."""

    token: str
    platform: str
    person_id: int | None
    ref: dict[str, Any]


async def remember_copy(
    session: AsyncSession,
    token: str,
    platform: str,
    person_id: int | None,
    ref: dict[str, Any],
    now: datetime,
) -> None:
    """Keep that a platform message shows the question `token`.

    Args:
        session: the open session.
        token: the question token the message carries.
        platform: "slack", "teams", …
        person_id: whom the message was for, so `forget` erases the row; None for a channel.
        ref: the platform's reference to the message; opaque here.
        now: when it was sent.
    """
    await remember_copies(session, [Copy(token, platform, person_id, ref)], now)


async def remember_copies(session: AsyncSession, copies: Sequence[Copy], now: datetime) -> None:
    """Keep many copies in one INSERT, then let go of the oldest of any token shown on
    more than COPIES_PER_TOKEN messages (rare: one statement finds there are none)."""
    if not copies:
        return
    await session.exec(
        insert(SentMessage).values([{**vars(copy), "created_at": now} for copy in copies])
    )
    crowded = (
        select(SentMessage.token)
        .where(col(SentMessage.token).in_(sorted({copy.token for copy in copies})))
        .group_by(col(SentMessage.token))
        .having(func.count() > COPIES_PER_TOKEN)
    )
    for token in (await session.exec(crowded)).all():
        older = select(SentMessage.id).where(col(SentMessage.token) == token)
        ids = list((await session.exec(older.order_by(col(SentMessage.id).desc()))).all())
        await session.exec(
            delete(SentMessage).where(col(SentMessage.id).in_(ids[COPIES_PER_TOKEN:]))
        )


async def copies_of(session: AsyncSession, token: str, platform: str) -> list[SentMessage]:
    """Every known message on `platform` showing the question `token`, oldest first."""
    statement = (
        select(SentMessage)
        .where(col(SentMessage.token) == token, col(SentMessage.platform) == platform)
        .order_by(col(SentMessage.id))
    )
    return list((await session.exec(statement)).all())


async def take_copies(session: AsyncSession, token: str, platform: str) -> list[dict[str, Any]]:
    """Forget the messages on `platform` showing `token` (it is answered); their refs, oldest
    first, in one statement."""
    table = SentMessage.__table__  # type: ignore[attr-defined]
    statement = (
        table.delete()
        .where(table.c.token == token, table.c.platform == platform)
        .returning(table.c.id, table.c.ref)
    )
    taken = (await session.exec(statement)).all()
    return [dict(ref or {}) for _id, ref in sorted(taken, key=lambda row: row[0])]


async def forget_messages_before(session: AsyncSession, moment: datetime) -> None:
    """Drop records of messages sent before `moment` (their questions have long closed)."""
    await session.exec(delete(SentMessage).where(col(SentMessage.created_at) < moment))
