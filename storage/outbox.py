"""Repository functions for the outbox: every outbound message is a row before it is sent."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import OutboxMessage
from storage.sql import insert_ignore


async def enqueue(
    session: AsyncSession,
    *,
    dedupe_key: str,
    platform: str,
    purpose: str,
    payload: dict[str, Any],
    now: datetime,
    not_before: datetime | None = None,
    person_id: int | None = None,
    destination: str = "",
    checkin_id: int | None = None,
) -> bool:
    """Write an outbound message unless one with the same dedupe key exists.

    Returns:
        True when this call queued it; False when it was queued before.
    """
    values = {
        "dedupe_key": dedupe_key,
        "platform": platform,
        "person_id": person_id,
        "destination": destination,
        "checkin_id": checkin_id,
        "purpose": purpose,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "not_before": not_before or now,
        "last_error": "",
        "created_at": now,
    }
    return await insert_ignore(session, OutboxMessage, values, ("dedupe_key",))


async def claim_due(
    session: AsyncSession,
    now: datetime,
    *,
    platforms: tuple[str, ...],
    lease: timedelta,
    limit: int = 50,
    person_id: int | None = None,
) -> list[OutboxMessage]:
    """Claim pending messages that are due, so no other process sends them meanwhile.

    A claim is a conditional UPDATE, so two replicas racing for the same row
    cannot both win; a claim whose holder died expires after `lease`.
    """
    statement = (
        select(OutboxMessage)
        .where(
            col(OutboxMessage.status) == "pending",
            col(OutboxMessage.platform).in_(platforms),
            col(OutboxMessage.not_before) <= now,
            or_(
                col(OutboxMessage.claimed_until).is_(None),
                col(OutboxMessage.claimed_until) < now,
            ),
        )
        .order_by(col(OutboxMessage.not_before), col(OutboxMessage.id))
        .limit(limit)
    )
    if person_id is not None:
        statement = statement.where(col(OutboxMessage.person_id) == person_id)
    claimed: list[OutboxMessage] = []
    for row in (await session.exec(statement)).all():
        result = await session.exec(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == row.id,
                col(OutboxMessage.status) == "pending",
                or_(
                    col(OutboxMessage.claimed_until).is_(None),
                    col(OutboxMessage.claimed_until) < now,
                ),
            )
            .values(claimed_until=now + lease)
            .returning(col(OutboxMessage.id))
        )
        if result.first() is not None:
            claimed.append(row)
    return claimed


async def mark_delivered(session: AsyncSession, message_id: int, now: datetime) -> None:
    """The platform accepted the message; it is never sent again."""
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(status="delivered", delivered_at=now, claimed_until=None)
    )


async def mark_retry(
    session: AsyncSession, message_id: int, not_before: datetime, error: str
) -> None:
    """Sending failed for a passing reason: try again at `not_before`."""
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(
            not_before=not_before,
            claimed_until=None,
            attempts=OutboxMessage.attempts + 1,
            last_error=error[:500],
        )
    )


async def mark_failed(session: AsyncSession, message_id: int, error: str) -> None:
    """Sending cannot succeed (e.g. the person blocked the bot); stop trying."""
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(
            status="failed",
            claimed_until=None,
            attempts=OutboxMessage.attempts + 1,
            last_error=error[:500],
        )
    )


async def pending_count(session: AsyncSession) -> int:
    """How many messages wait to be sent."""
    statement = select(OutboxMessage).where(col(OutboxMessage.status) == "pending")
    return len((await session.exec(statement)).all())
