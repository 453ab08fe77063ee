"""The check-in jobs: open due check-ins (and day-30 checks), remind once, expire."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.checkin_runner import initial_state, open_checkin
from bot.config import CohortConfig, zone_named
from bot.flows.checkin import question
from bot.outgoing import payload_of, queue_checkin
from bot.replies import Answered, Text
from bot.runtime import Runtime
from bot.scheduling.plan import DueSlot, due_slots, local_week, quiet_reason
from bot.scheduling.policy import CAPPED_KINDS, participation_reason, skip_reason
from bot.turn import person_timezone
from storage.checkins import checkins_by_id
from storage.messages import forget_messages_before
from storage.models import Person
from storage.outbox import drop_pending, enqueue
from storage.people import people_by_id
from storage.scheduling import (
    checkins_in_slots,
    claim_reminder,
    counts_asked,
    day30_moments,
    expire_due,
    first_sent,
    people_in_zones,
    reminders_due,
    timezones_in_cohort,
)

logger = logging.getLogger(__name__)

DAY30_AFTER = timedelta(days=30)
POSTED_MESSAGES_KEPT = timedelta(days=14)
"""How long to remember which message shows a question; questions close within hours."""


async def queue_due_checkins(runtime: Runtime, now: datetime) -> int:
    """Open and queue the check-in of every person whose local slot time has come.

    Safe to run on every replica at once: the check-in's unique key (person, kind,
    slot) lets exactly one insert through, and only that caller queues the message.

    Returns:
        How many check-ins this call queued.
    """
    queued = 0
    for cohort_id, cohort in runtime.config.cohorts.items():
        queued += await _queue_cohort(runtime, cohort_id, cohort, now)
    return queued


def _day30_due(
    person_id: int, due: DueSlot, day30: dict[int, datetime], firsts: dict[int, datetime]
) -> bool:
    # Decided from stored facts only, so a replica arriving after another made the
    # day-30 check at this slot reaches the same answer and adds no regular one.
    if person_id in day30:
        return day30[person_id] == due.at
    first = firsts.get(person_id)
    return first is not None and first <= due.at - DAY30_AFTER


async def _queue_cohort(
    runtime: Runtime, cohort_id: str, cohort: CohortConfig, now: datetime
) -> int:
    config, fallback = runtime.config, runtime.config.cohort_timezone(cohort_id)
    queued = 0
    async with runtime.db.session() as session:
        # Zones first: an idle tick costs one small query per cohort, not a load of everyone.
        due_by_zone = {
            name: due_slots(cohort.slots, zone_named(name, fallback), now)
            for name in await timezones_in_cohort(session, cohort_id)
        }
        due_zones = [name for name, due in due_by_zone.items() if due]
        if not due_zones:
            return 0
        people = await people_in_zones(session, cohort_id, due_zones)
        ids = [person.id for person in people if person.id is not None]
        plans = [(person, due) for person in people for due in due_by_zone[person.timezone]]
        made = await checkins_in_slots(session, ids, [due.key for _, due in plans])
        day30 = await day30_moments(session, ids)
        firsts = await first_sent(session, ids)
        # Weekly counts per zone (everyone in one zone shares a local week): one query
        # per zone, kept up to date as this tick queues more.
        asked_by_zone: dict[str, dict[int, int]] = {}
        for person, due in plans:
            assert person.id is not None
            is_day30 = _day30_due(person.id, due, day30, firsts)
            if (person.id, due.key) in made or (is_day30 and person.id in day30):
                continue
            zone = person_timezone(person, config)
            start, end = local_week(zone, now)
            if person.timezone not in asked_by_zone:
                in_zone = [other.id for other in people if other.timezone == person.timezone]
                asked_by_zone[person.timezone] = await counts_asked(
                    session, [pid for pid in in_zone if pid is not None], CAPPED_KINDS, start, end
                )
            asked_this_week = asked_by_zone[person.timezone]
            asked = asked_this_week.get(person.id, 0)
            reason = skip_reason(person, cohort, zone, now, asked)
            if reason is not None:
                logger.debug("slot %s skipped for person %d: %s", due.key, person.id, reason)
                continue
            kind, slot = ("day30", "day30") if is_day30 else ("scheduled", due.key)
            checkin = await open_checkin(
                session, person, config, kind=kind, slot=slot, now=now, scheduled_for=due.at
            )
            if checkin is None:
                continue
            await queue_checkin(session, person, checkin, config, runtime.wording, now)
            if start <= due.at < end:
                asked_this_week[person.id] = asked + 1
            queued += 1
            logger.info(
                "check-in queued",
                extra={"person_id": person.id, "checkin_id": checkin.id, "slot": slot},
            )
    return queued


async def send_reminders(runtime: Runtime, now: datetime) -> int:
    """Queue the one reminder an unanswered check-in gets, outside quiet hours.

    A check-in that expires first gets none; one whose reminder time falls in quiet
    hours is reminded when they end, if it is still open then.

    Returns:
        How many reminders this call queued.
    """
    config, w = runtime.config, runtime.wording
    after = timedelta(minutes=config.settings.reminder_after_minutes)
    queued = 0
    async with runtime.db.session() as session:
        due = await reminders_due(session, now - after, now)
        people = await _people_of(session, [checkin.person_id for checkin in due])
        for checkin in due:
            assert checkin.id is not None
            person = people.get(checkin.person_id)
            cohort = config.cohorts.get(checkin.cohort_id)
            if person is None or cohort is None or participation_reason(person, now):
                continue
            zone = zone_named(person.timezone, config.cohort_timezone(checkin.cohort_id))
            if quiet_reason(cohort, zone, now):
                continue
            if not await claim_reminder(session, checkin.id, now):
                continue
            replies = (
                Text(w("checkin.reminder")),
                question(initial_state(checkin, config, zone), w),
            )
            await enqueue(
                session,
                dedupe_key=f"reminder:{checkin.id}",
                platform=person.platform,
                purpose="reminder",
                payload=payload_of(replies),
                now=now,
                person_id=person.id,
                checkin_id=checkin.id,
            )
            queued += 1
    return queued


async def expire_checkins(runtime: Runtime, now: datetime) -> int:
    """Close check-ins past their expiry and update the question people were sent.

    A sent one gets a notice that replaces its buttons with the `checkin.expired`
    text; an unsent one (the platform was down) never goes out. Records of where
    questions were posted are dropped after `POSTED_MESSAGES_KEPT`.

    Returns:
        How many notices this call queued.
    """
    config, w = runtime.config, runtime.wording
    queued = 0
    async with runtime.db.session() as session:
        expired = await expire_due(session, now)
        checkins = await checkins_by_id(session, [cid for cid, was_sent in expired if was_sent])
        people = await _people_of(session, [checkin.person_id for checkin in checkins.values()])
        for checkin_id, was_sent in expired:
            if not was_sent:
                await drop_pending(session, checkin_id, "check-in expired before delivery")
                continue
            checkin = checkins.get(checkin_id)
            person = people.get(checkin.person_id) if checkin else None
            if checkin is None or person is None:
                continue
            zone = person_timezone(person, config)
            token = initial_state(checkin, config, zone).token()
            await drop_pending(session, checkin_id, "check-in expired")
            await enqueue(
                session,
                dedupe_key=f"expired:{checkin_id}",
                platform=person.platform,
                purpose="notice",
                payload=payload_of((Answered(token, w("checkin.expired")),)),
                now=now,
                person_id=person.id,
                checkin_id=checkin_id,
            )
            queued += 1
        await forget_messages_before(session, now - POSTED_MESSAGES_KEPT)
    return queued


async def _people_of(session: AsyncSession, person_ids: list[int]) -> dict[int, Person]:
    # One query for a whole tick's people, not one per check-in.
    found = await people_by_id(session, sorted(set(person_ids)))
    return {person.id: person for person in found if person.id is not None}
