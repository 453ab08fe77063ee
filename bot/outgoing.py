"""Queues proactive messages (check-ins and the like) in the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.checkin_runner import initial_state
from bot.config import LastmileConfig
from bot.flows.checkin import question
from bot.replies import Reply, reply_to_dict
from bot.turn import person_timezone
from bot.wording import Wording
from storage.models import CheckIn, Person
from storage.outbox import enqueue


def payload_of(replies: tuple[Reply, ...] | list[Reply]) -> dict[str, list[dict[str, object]]]:
    """The outbox payload for a list of replies."""
    return {"replies": [reply_to_dict(reply) for reply in replies]}


async def queue_checkin(
    session: AsyncSession,
    person: Person,
    checkin: CheckIn,
    config: LastmileConfig,
    w: Wording,
    now: datetime,
    not_before: datetime | None = None,
) -> bool:
    """Queue a check-in's first question for delivery to the person.

    The person's flow state is set by their first tap, not here, so a queued
    check-in never interrupts one they are half-way through.
    """
    first = question(initial_state(checkin, config, person_timezone(person, config)), w)
    return await enqueue(
        session,
        dedupe_key=f"checkin:{checkin.id}",
        platform=person.platform,
        purpose="checkin",
        payload=payload_of((first,)),
        now=now,
        not_before=not_before,
        person_id=person.id,
        checkin_id=checkin.id,
    )
