"""Queues proactive messages (check-ins and the like) in the outbox."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.checkin_runner import CheckInFacts, initial_state
from bot.config import LastmileConfig
from bot.flows.checkin import message
from bot.metrics import Counted
from bot.replies import Choices, Reply, reply_to_dict
from bot.turn import person_timezone
from bot.wording import Wording, Wordings
from storage.db import tally
from storage.models import CheckIn, Person
from storage.outbox import NewMessage, enqueue, enqueue_many
from storage.people import mark_welcomed


def payload_of(replies: tuple[Reply, ...] | list[Reply], locale: str = "") -> dict[str, object]:
    """The outbox payload for a list of replies, in the language they are worded in."""
    payload: dict[str, object] = {"replies": [reply_to_dict(reply) for reply in replies]}
    if locale:
        payload["locale"] = locale
    return payload


def person_wording(person: Person, config: LastmileConfig, wordings: Wordings) -> Wording:
    """A person's own language: their platform's, else their cohort's, else the default."""
    return wordings.get(person.locale, config.cohort_locale(person.cohort_id))


def _welcome(person: Person, config: LastmileConfig, w: Wording) -> list[Reply]:
    if person.welcomed_at is not None:
        return []
    from bot.engine import welcome

    return list(welcome(config, w, person.cohort_id))


def _first_question(
    person: Person, checkin: CheckInFacts, config: LastmileConfig, w: Wording
) -> dict[str, object]:
    state = initial_state(checkin, config, person_timezone(person, config))
    return payload_of((*_welcome(person, config, w), message(state, w)), w.locale)


async def _welcomed(session: AsyncSession, people: Sequence[Person], now: datetime) -> None:
    """Their first message from lastmile carries its welcome: not again."""
    await mark_welcomed(
        session, [person.id for person in people if person.welcomed_at is None and person.id], now
    )


async def queue_checkin(
    session: AsyncSession,
    person: Person,
    checkin: CheckIn,
    config: LastmileConfig,
    wordings: Wordings,
    now: datetime,
    not_before: datetime | None = None,
) -> bool:
    """Queue a check-in's first question for delivery to the person, in their language,
    after lastmile's welcome when it is the first thing it tells them.

    The person's flow state is set by their first tap, not here, so a queued
    check-in never interrupts one they are half-way through.
    """
    w = person_wording(person, config, wordings)
    payload = _first_question(person, checkin, config, w)
    await _welcomed(session, [person], now)
    queued = await enqueue(
        session,
        dedupe_key=f"checkin:{checkin.id}",
        platform=person.platform,
        purpose="checkin",
        payload=payload,
        now=now,
        not_before=not_before,
        person_id=person.id,
        checkin_id=checkin.id,
    )
    if queued:
        tally(session, Counted.PLANNED, checkin.kind)
    return queued


async def queue_checkins(
    session: AsyncSession,
    opened: Sequence[tuple[Person, CheckInFacts]],
    config: LastmileConfig,
    wordings: Wordings,
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
        w = person_wording(person, config, wordings)
        first = message(initial_state(checkin, config, person_timezone(person, config)), w)
        welcome = _welcome(person, config, w)
        if isinstance(first, Choices) and not welcome:
            shape = replace(first, token="")
            if shape not in serialised:
                serialised[shape] = reply_to_dict(shape)
            payload: dict[str, object] = {
                "replies": [{**serialised[shape], "token": first.token}],
                "locale": w.locale,
            }
        else:
            payload = payload_of((*welcome, first), w.locale)
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
    await _welcomed(session, [person for person, _checkin in opened], now)
    queued = await enqueue_many(session, messages, now)
    kinds = Counter(c.kind for _p, c in opened if f"checkin:{c.id}" in queued)
    for kind, planned in kinds.items():
        tally(session, Counted.PLANNED, kind, planned)
    return len(queued)
