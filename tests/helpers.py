"""Small helpers shared by tests: read rows back, find what a chat showed."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select as sql_select
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.outgoing import payload_of
from bot.replies import Text
from bot.runtime import Runtime
from storage.models import Person
from storage.outbox import enqueue

Model = TypeVar("Model", bound=SQLModel)


async def rows(runtime: Runtime, model: type[Model], **where: Any) -> list[Model]:
    """Every row of a table matching `where` (column == value)."""
    statement = select(model)
    for name, value in where.items():
        statement = statement.where(getattr(model, name) == value)
    async with runtime.db.session() as session:
        return list((await session.exec(statement)).all())


async def person(runtime: Runtime, user_id: str, platform: str = "local") -> Person:
    """The stored person for a platform id (fails the test when missing)."""
    found = await rows(runtime, Person, platform=platform, platform_user_id=user_id)
    assert found, f"no person {platform}:{user_id}"
    return found[0]


async def rows_referring_to(runtime: Runtime, person_id: int) -> dict[str, int]:
    """How many rows in each table refer to a person id (by any person column)."""
    counts: dict[str, int] = {}
    async with runtime.db.session() as session:
        for table in SQLModel.metadata.sorted_tables:
            model_columns = [
                c for c in table.columns if c.name in ("person_id", "author_person_id")
            ]
            if table.name == "person":
                model_columns = [table.c.id]
            for column in model_columns:
                connection = await session.connection()
                result = await connection.execute(sql_select(column).where(column == person_id))
                found = len(result.all())
                if found:
                    counts[f"{table.name}.{column.name}"] = found
    return counts


def said(lines: list[str], fragment: str) -> bool:
    """True when any shown line contains `fragment`."""
    return any(fragment in line for line in lines)


async def enqueue_notice(
    session: AsyncSession, number: int, now: datetime, platform: str = "slack", **to: Any
) -> None:
    """Queue the notice "notice NUMBER" on a platform, for a person (`person_id=`) or a
    channel (`destination=`)."""
    await enqueue(
        session,
        dedupe_key=f"notice:{number}",
        platform=platform,
        purpose="notice",
        payload=payload_of([Text(f"notice {number}")]),
        now=now,
        **to,
    )
