"""Queues proactive messages (check-ins and the like) in the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.checkin_runner import CheckInFacts, initial_state
from bot.config import LastmileConfig
from bot.flows.checkin import question
from bot.replies import Choices, Reply, reply_to_dict
from bot.turn import person_timezone
from bot.wording import Wording
from storage.models import CheckIn, Person
from storage.outbox import NewMessage, enqueue, enqueue_many


def payload_of(replies: tuple[Reply, ...] | list[Reply]) -> dict[str, list[dict[str, object]]]:
    """The outbox payload for a list of replies."""
    return {"replies": [reply_to_dict(reply) for reply in replies]}


def _first_question(
    person: Person, checkin: CheckInFacts, config: LastmileConfig, w: Wording
) -> dict[str, list[dict[str, object]]]:
    state = initial_state(checkin, config, person_timezone(person, config))
    return payload_of((question(state, w),))


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
    return await enqueue(
        session,
        dedupe_key=f"checkin:{checkin.id}",
        platform=person.platform,
        purpose="checkin",
        payload=_first_question(person, checkin, config, w),
        now=now,
        not_before=not_before,
        person_id=person.id,
        checkin_id=checkin.id,
    )


async def queue_checkins(
    session: AsyncSession,
    opened: Sequence[tuple[Person, CheckInFacts]],
    config: LastmileConfig,
    w: Wording,
    now: datetime,
) -> int:
    """Queue the first question of many check-ins, to go now, in one statement.

    Returns:
        How many this call queued (a check-in queued before is not queued again).
    """
    # The check-ins of one slot ask the same question under different tokens, and
    # serialising a reply costs more than everything else per person: serialise each
    # distinct question once and give every copy its own token.
    serialised: dict[Choices, dict[str, object]] = {}
    messages = []
    for person, checkin in opened:
        first = question(initial_state(checkin, config, person_timezone(person, config)), w)
        if isinstance(first, Choices):
            shape = replace(first, token="")
            if shape not in serialised:
                serialised[shape] = reply_to_dict(shape)
            payload = {"replies": [{**serialised[shape], "token": first.token}]}
        else:
            payload = payload_of((first,))
        messages.append(
            NewMessage(
                dedupe_key=f"checkin:{checkin.id}",
                platform=person.platform,
                purpose="checkin",
                payload=payload,
                not_before=now,
                person_id=person.id,
                checkin_id=checkin.id,
            )
        )
    return len(await enqueue_many(session, messages, now))
