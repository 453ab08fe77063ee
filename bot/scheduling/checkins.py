"""The check-in jobs: open due check-ins (and day-30 checks), remind once, expire."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.checkin_runner import CheckInFacts, OpenedCheckIn, initial_state
from bot.config import CohortConfig, zone_named
from bot.flows.checkin import question
from bot.outgoing import payload_of, queue_checkins
from bot.replies import Answered, Text
from bot.runtime import Runtime
from bot.scheduling.plan import DueSlot, due_slots, local_week, quiet_reason
from bot.scheduling.policy import CAPPED_KINDS, participation_reason, skip_reason
from bot.turn import person_timezone
from storage.checkins import checkins_by_id, create_checkins
from storage.messages import forget_messages_before
from storage.models import Person
from storage.outbox import drop_pending, enqueue
from storage.people import people_by_id
from storage.scheduling import (
    checkins_in_slots,
    claim_reminder,
    counts_asked_in_weeks,
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
    A cohort costs the same few statements whatever its size: one when no slot is
    due, eight when one is.

    Returns:
        How many check-ins this call queued.
    """
    queued = 0
    for cohort_id, cohort in runtime.config.cohorts.items():
        queued += await _queue_cohort(runtime, cohort_id, cohort, now)
    return queued


@dataclass(frozen=True)
class PlannedCheckIn:
    """A check-in the scheduler decided to open for one person at one due slot."""

    person: Person
    kind: str
    slot: str
    due: DueSlot


@dataclass(frozen=True)
class SlotFacts:
    """What storage says about a cohort's people at a tick, read in one query each."""

    made: set[tuple[int, str]]
    """(person, slot) pairs that already have a check-in."""
    day30: dict[int, datetime]
    """When each person's day-30 check was scheduled, for those who have one."""
    firsts: dict[int, datetime]
    """When each person's first check-in was sent, for those who have had one."""
    asked: dict[int, int]
    """Capped check-ins each person has had in their local week."""


def _day30_due(person_id: int, due: DueSlot, facts: SlotFacts) -> bool:
    # Decided from stored facts only, so a replica arriving after another made the
    # day-30 check at this slot reaches the same answer and adds no regular one.
    if person_id in facts.day30:
        return facts.day30[person_id] == due.at
    first = facts.firsts.get(person_id)
    return first is not None and first <= due.at - DAY30_AFTER


def plan_checkins(
    people: list[Person],
    due_by_zone: dict[str, list[DueSlot]],
    cohort: CohortConfig,
    zones: dict[str, ZoneInfo],
    facts: SlotFacts,
    now: datetime,
) -> list[PlannedCheckIn]:
    """Decide, without I/O, which of a cohort's people to ask at which due slots.

    Args:
        people: the cohort's people in the zones with a due slot.
        due_by_zone: the due slot moments of each platform time zone ("" when unknown).
        cohort: the cohort (quiet hours, weekly cap).
        zones: the time zone each platform zone name stands for (the cohort's for "").
        facts: what storage says about these people.
        now: the tick's moment.

    Returns:
        The check-ins to open, in order of person and slot; the weekly cap counts the
        ones planned earlier in the same tick.
    """
    planned: list[PlannedCheckIn] = []
    weeks = {name: local_week(zone, now) for name, zone in zones.items()}
    for person in people:
        assert person.id is not None
        zone = zones[person.timezone]
        start, end = weeks[person.timezone]
        asked = facts.asked.get(person.id, 0)
        has_day30 = person.id in facts.day30
        for due in due_by_zone[person.timezone]:
            is_day30 = _day30_due(person.id, due, facts)
            if (person.id, due.key) in facts.made or (is_day30 and has_day30):
                continue
            reason = skip_reason(person, cohort, zone, now, asked)
            if reason is not None:
                logger.debug("slot %s skipped for person %d: %s", due.key, person.id, reason)
                continue
            # The day-30 check takes one slot; its unique key would refuse a second.
            has_day30 = has_day30 or is_day30
            kind, slot = ("day30", "day30") if is_day30 else ("scheduled", due.key)
            planned.append(PlannedCheckIn(person, kind, slot, due))
            if start <= due.at < end:
                asked += 1
    return planned


async def _queue_cohort(
    runtime: Runtime, cohort_id: str, cohort: CohortConfig, now: datetime
) -> int:
    config, fallback = runtime.config, runtime.config.cohort_timezone(cohort_id)
    async with runtime.db.session() as session:
        # Zones first: an idle tick costs one small query per cohort, not a load of everyone.
        zones = {
            name: zone_named(name, fallback)
            for name in await timezones_in_cohort(session, cohort_id)
        }
        due_by_zone = {name: due_slots(cohort.slots, zone, now) for name, zone in zones.items()}
        due_zones = {name: zones[name] for name, due in due_by_zone.items() if due}
        if not due_zones:
            return 0
        names = list(due_zones)
        people = await people_in_zones(session, cohort_id, names)
        slots = sorted({due.key for name in names for due in due_by_zone[name]})
        facts = SlotFacts(
            made=await checkins_in_slots(session, cohort_id, names, slots),
            day30=await day30_moments(session, cohort_id, names),
            firsts=await first_sent(session, cohort_id, names),
            asked=await counts_asked_in_weeks(
                session,
                cohort_id,
                {name: local_week(zone, now) for name, zone in due_zones.items()},
                CAPPED_KINDS,
            ),
        )
        planned = plan_checkins(people, due_by_zone, cohort, due_zones, facts, now)
        expiry = timedelta(hours=config.settings.checkin_expiry_hours)
        created = await create_checkins(
            session,
            [
                {
                    "person_id": plan.person.id,
                    "programme_id": cohort.programme,
                    "cohort_id": cohort_id,
                    "kind": plan.kind,
                    "slot": plan.slot,
                    "scheduled_for": plan.due.at,
                    "expires_at": plan.due.at + expiry,
                }
                for plan in planned
            ],
        )
        opened: list[tuple[Person, CheckInFacts]] = []
        for plan in planned:
            assert plan.person.id is not None
            checkin_id = created.pop((plan.person.id, plan.kind, plan.slot), None)
            if checkin_id is None:
                continue  # another replica (or an earlier tick) opened it
            checkin = OpenedCheckIn(checkin_id, plan.kind, cohort.programme, plan.due.at)
            opened.append((plan.person, checkin))
            logger.debug(
                "check-in queued",
                extra={"person_id": plan.person.id, "checkin_id": checkin_id, "slot": plan.slot},
            )
        await queue_checkins(session, opened, config, runtime.wording, now)
    if opened:
        logger.info("%d check-in(s) queued for cohort %s", len(opened), cohort_id)
    return len(opened)


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
