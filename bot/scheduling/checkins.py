"""The check-in jobs: open due check-ins (and day-30 checks), remind once, expire."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.checkin_runner import (
    CheckInFacts,
    OpenCheckIn,
    OpenedCheckIn,
    current_state,
    initial_state,
    open_checkin_of,
    reoffer,
)
from bot.config import CohortConfig, zone_named
from bot.flows.checkin import close_now, header
from bot.metrics import Counted
from bot.outgoing import payload_of, person_wording, queue_checkins
from bot.replies import Replace, Text
from bot.runtime import Runtime
from bot.scheduling.plan import DueSlot, due_slots, local_week, quiet_reason
from bot.scheduling.policy import CAPPED_KINDS, participation_reason, skip_reason
from bot.turn import person_timezone
from storage.checkins import checkins_by_id, create_checkins
from storage.db import tally
from storage.messages import forget_messages_before
from storage.models import Person
from storage.outbox import drop_pending, enqueue
from storage.people import clear_state, people_by_id
from storage.scheduling import (
    checkins_in_slots,
    claim_reminder,
    counts_asked_in_weeks,
    day30_moments,
    expire_due,
    first_sent,
    flows_past_expiry,
    people_in_zones,
    people_with_open_checkins,
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
    open: set[int] = field(default_factory=set)
    """People with a check-in sent and still unanswered: one open check-in at a time."""


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
            if reason is None and person.id in facts.open:
                reason = "open_checkin"
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
            open=await people_with_open_checkins(session, cohort_id, names, now),
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
            checkin = OpenedCheckIn(
                checkin_id, plan.kind, cohort.programme, plan.due.at, cohort_id=cohort_id
            )
            opened.append((plan.person, checkin))
            logger.debug(
                "check-in queued",
                extra={"person_id": plan.person.id, "checkin_id": checkin_id, "slot": plan.slot},
            )
        await queue_checkins(session, opened, config, runtime.wordings, now)
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
    config = runtime.config
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
            # The open question moves to the bottom of the chat, with a nudge on top: the
            # person is notified, and one copy of it stays.
            w = person_wording(person, config, runtime.wordings)
            state = initial_state(checkin, config, zone)
            moved = reoffer(OpenCheckIn(checkin, state), w, w("checkin.reminder"))
            await enqueue(
                session,
                dedupe_key=f"reminder:{checkin.id}",
                platform=person.platform,
                purpose="reminder",
                payload=payload_of((moved,), w.locale),
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
    config = runtime.config
    queued = 0
    async with runtime.db.session() as session:
        expired = await expire_due(session, now)
        tally(session, Counted.EXPIRED, amount=len(expired))
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
            w = person_wording(person, config, runtime.wordings)
            state = initial_state(checkin, config, zone)
            closed = Replace(state.token(), Text(f"{header(state, w)}\n{w('checkin.expired')}"))
            await drop_pending(session, checkin_id, "check-in expired")
            await enqueue(
                session,
                dedupe_key=f"expired:{checkin_id}",
                platform=person.platform,
                purpose="notice",
                payload=payload_of((closed,), w.locale),
                now=now,
                person_id=person.id,
                checkin_id=checkin_id,
            )
            queued += 1
        queued += await _close_finished_flows(runtime, session, now)
        await forget_messages_before(session, now - POSTED_MESSAGES_KEPT)
    return queued


async def _close_finished_flows(runtime: Runtime, session: AsyncSession, now: datetime) -> int:
    """Check-ins answered part-way (or offering "add a few words") whose time is up: their
    message becomes the receipt of what was given, with no button left."""
    config = runtime.config
    flows = await flows_past_expiry(session, now)
    people = await _people_of(session, [row.person_id for row in flows])
    queued = 0
    for row in flows:
        person = people.get(row.person_id)
        state = await current_state(session, row.person_id)
        await clear_state(session, row.person_id)
        if person is None or state is None:
            continue
        w = person_wording(person, config, runtime.wordings)
        queued += await enqueue(
            session,
            dedupe_key=f"closed:{state.checkin_id}:{state.step}",
            platform=person.platform,
            purpose="notice",
            payload=payload_of((close_now(state, w),), w.locale),
            now=now,
            person_id=person.id,
            checkin_id=state.checkin_id,
        )
    return queued


async def _people_of(session: AsyncSession, person_ids: list[int]) -> dict[int, Person]:
    # One query for a whole tick's people, not one per check-in.
    found = await people_by_id(session, sorted(set(person_ids)))
    return {person.id: person for person in found if person.id is not None}


HELD_AS = {
    "quiet_hours": "quiet",
    "weekend": "quiet",
    "off_shift": "quiet",
    "weekly_cap": "cap",
}
"""Why a check-in asked for by hand was held back, in the words an operator reads."""


@dataclass
class SendReport:
    """What `lastmile checkin send` did for a cohort."""

    queued: int = 0
    reoffered: int = 0
    held: Counter[str] = field(default_factory=Counter)
    """By quiet hours (or outside the shift) and by the weekly cap."""
    not_asked: int = 0
    """Paused, stopped, unreachable or outside every pilot."""


async def send_now(runtime: Runtime, cohort_id: str, kind: str, now: datetime) -> SendReport:
    """Ask a whole cohort now, by hand, within the usual limits.

    People with a check-in open get it again (moved to the bottom of their chat); people
    in quiet hours or at their weekly cap are held and counted. The cohort costs a few
    statements whatever its size, plus one look-up per open check-in.
    """
    config = runtime.config
    cohort = config.cohorts[cohort_id]
    fallback = config.cohort_timezone(cohort_id)
    report = SendReport()
    slot = f"manual:{now.strftime('%Y-%m-%dT%H:%M')}"
    async with runtime.db.session() as session:
        zones = {
            name: zone_named(name, fallback)
            for name in await timezones_in_cohort(session, cohort_id)
        }
        names = list(zones)
        people = await people_in_zones(session, cohort_id, names)
        asked = await counts_asked_in_weeks(
            session,
            cohort_id,
            {name: local_week(zone, now) for name, zone in zones.items()},
            CAPPED_KINDS,
        )
        open_ids = await people_with_open_checkins(session, cohort_id, names, now)
        planned: list[Person] = []
        for person in people:
            assert person.id is not None
            if participation_reason(person, now):
                report.not_asked += 1
                continue
            if person.id in open_ids:
                report.reoffered += await _reoffer(runtime, session, person, now)
                continue
            zone = zones[person.timezone]
            reason = skip_reason(person, cohort, zone, now, asked.get(person.id, 0))
            if reason is not None:
                report.held[HELD_AS.get(reason, reason)] += 1
                continue
            planned.append(person)
        expiry = timedelta(hours=config.settings.checkin_expiry_hours)
        created = await create_checkins(
            session,
            [
                {
                    "person_id": person.id,
                    "programme_id": cohort.programme,
                    "cohort_id": cohort_id,
                    "kind": kind,
                    "slot": slot,
                    "scheduled_for": now,
                    "expires_at": now + expiry,
                }
                for person in planned
            ],
        )
        opened: list[tuple[Person, CheckInFacts]] = []
        for person in planned:
            assert person.id is not None
            checkin_id = created.get((person.id, kind, slot))
            if checkin_id is not None:
                facts = OpenedCheckIn(checkin_id, kind, cohort.programme, now, cohort_id=cohort_id)
                opened.append((person, facts))
        report.queued = await queue_checkins(session, opened, config, runtime.wordings, now)
    return report


async def _reoffer(runtime: Runtime, session: AsyncSession, person: Person, now: datetime) -> int:
    config = runtime.config
    found = await open_checkin_of(session, person, config, now)
    if found is None or found.checkin.status != "sent":
        return 0  # queued and not sent yet: it goes out as it is
    w = person_wording(person, config, runtime.wordings)
    return int(
        await enqueue(
            session,
            dedupe_key=f"reoffer:{found.checkin.id}:{now.isoformat()}",
            platform=person.platform,
            purpose="notice",
            payload=payload_of((reoffer(found, w, w("checkin.still_open")),), w.locale),
            now=now,
            person_id=person.id,
            checkin_id=found.checkin.id,
        )
    )
