"""How much waits in the inbox and the outbox, read at once for a metrics scrape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboxEvent, OutboxMessage


@dataclass(frozen=True)
class QueueDepth:
    """Rows waiting in one queue, and how long the oldest has waited (0 when none)."""

    waiting: int
    oldest_seconds: float


def _age(oldest: datetime | None, now: datetime) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max((now - oldest).total_seconds(), 0.0)


async def queue_depths(session: AsyncSession, now: datetime) -> dict[str, QueueDepth]:
    """The inbox's and the outbox's waiting rows, in three indexed aggregate queries.

    The inbox counts every pending event from when it arrived. The outbox counts every
    pending message, but ages only those already due: a message held for quiet hours
    or a retry is waiting on purpose, not stuck.

    Returns:
        {"inbox": …, "outbox": …}.
    """
    inbox = (
        await session.exec(
            select(func.count(), func.min(col(InboxEvent.received_at))).where(
                col(InboxEvent.status) == "pending"
            )
        )
    ).one()
    pending = col(OutboxMessage.status) == "pending"
    outbox = (await session.exec(select(func.count()).where(pending))).one()
    oldest_due = (
        await session.exec(
            select(func.min(col(OutboxMessage.created_at))).where(
                pending, col(OutboxMessage.not_before) <= now
            )
        )
    ).one()
    return {
        "inbox": QueueDepth(int(inbox[0]), _age(inbox[1], now)),
        "outbox": QueueDepth(int(outbox), _age(oldest_due, now)),
    }
