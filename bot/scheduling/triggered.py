"""Triggered check-ins: the AI tool reports that a person just used it; ask shortly after."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.checkin_runner import open_checkin
from bot.outgoing import queue_checkin
from bot.runtime import Runtime
from bot.scheduling.plan import local_week
from bot.scheduling.policy import CAPPED_KINDS, skip_reason
from bot.turn import person_timezone
from storage.checkins import find_checkin, latest_open_checkin
from storage.models import Person
from storage.people import find_person, people_by_email
from storage.scheduling import count_asked

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TriggerOutcome:
    """What became of a usage report: a check-in queued for `send_after`, or skipped and why."""

    checkin: str  # "queued" | "skipped"
    reason: str = ""
    send_after: datetime | None = None


async def find_participant(
    session: AsyncSession,
    programme_id: str,
    cohorts: dict[str, str],
    *,
    platform: str = "",
    user_id: str = "",
    email: str = "",
) -> Person | None:
    """The person a usage report names, if they take part in the programme.

    Args:
        session: the open session.
        programme_id: the programme the report is for.
        cohorts: cohort id → programme id, from the config.
        platform: with `user_id`, the person's platform identity.
        user_id: their platform user id.
        email: instead of a platform identity, their e-mail address.
    """
    candidates: list[Person] = []
    if platform and user_id:
        found = await find_person(session, platform, user_id)
        candidates = [found] if found is not None else []
    elif email:
        candidates = await people_by_email(session, email)
    for person in candidates:
        if person.cohort_id is not None and cohorts.get(person.cohort_id) == programme_id:
            return person
    return None


async def trigger_checkin(
    runtime: Runtime,
    session: AsyncSession,
    person: Person,
    *,
    used_at: datetime,
    context: str,
    key: str,
    now: datetime,
) -> TriggerOutcome:
    """Queue a check-in shortly after a reported use of the tool, within the usual limits.

    The check-in's slot is `usage:<key>`, so the same report sent twice (the same
    idempotency key) finds the first one instead of asking again.

    Args:
        runtime: the runtime (config and wording).
        session: the open session; the caller commits.
        person: who used the tool (in a cohort of the programme).
        used_at: when they used it.
        context: a few words on what they used it for, shown in the question.
        key: the idempotency key (or a hash of the report).
        now: the current instant.

    Returns:
        Queued with the moment it goes out, or skipped with the reason (quiet hours,
        weekend, paused, stopped, unreachable, weekly cap, too old).
    """
    assert person.id is not None and person.cohort_id is not None
    config = runtime.config
    slot = f"usage:{key}"
    existing = await find_checkin(session, person.id, "triggered", slot)
    if existing is not None:
        return TriggerOutcome("queued", send_after=existing.scheduled_for)
    settings = config.settings
    due = used_at + timedelta(minutes=settings.trigger_delay_minutes)
    if due + timedelta(hours=settings.checkin_expiry_hours) <= now:
        # It would have expired already: asking about it now would confuse.
        return TriggerOutcome("skipped", reason="too_old")
    send_after = max(due, now)
    cohort = config.cohorts[person.cohort_id]
    zone = person_timezone(person, config)
    start, end = local_week(zone, send_after)
    asked = await count_asked(session, person.id, CAPPED_KINDS, start, end)
    reason = skip_reason(person, cohort, zone, send_after, asked)
    if reason is None and await latest_open_checkin(session, person.id, now) is not None:
        reason = "open_checkin"  # one open check-in at a time
    if reason is not None:
        logger.info("triggered check-in skipped: %s", reason, extra={"person_id": person.id})
        return TriggerOutcome("skipped", reason=reason)
    checkin = await open_checkin(
        session,
        person,
        config,
        kind="triggered",
        slot=slot,
        now=now,
        context=context,
        scheduled_for=send_after,
    )
    if checkin is None:
        # The same report, racing in from a retry: the other request made it.
        existing = await find_checkin(session, person.id, "triggered", slot)
        return TriggerOutcome(
            "queued", send_after=existing.scheduled_for if existing else send_after
        )
    await queue_checkin(
        session, person, checkin, config, runtime.wordings, now, not_before=send_after
    )
    logger.info(
        "triggered check-in queued",
        extra={"person_id": person.id, "checkin_id": checkin.id},
    )
    return TriggerOutcome("queued", send_after=send_after)
