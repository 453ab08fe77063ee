"""Starts check-ins and applies flow steps to storage, inside the current turn."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LastmileConfig
from bot.flows.checkin import (
    FlowInput,
    FlowState,
    Record,
    SaveAnswer,
    SaveDay30,
    SaveNotUsed,
    SaveOverride,
    SaveWorkaround,
    Transition,
    part_of_day,
    start,
    step,
)
from bot.replies import Reply, Text
from bot.turn import person_timezone
from bot.wording import Wording
from storage.checkins import (
    create_checkin,
    get_checkin,
    save_answer,
    save_day30,
    save_not_used,
    save_override,
    save_workaround,
)
from storage.models import CheckIn, Person
from storage.people import clear_state, get_state, put_state

FIRST_STEP = {"checkin": "first", "day30": "feeling"}


def flow_of(kind: str) -> str:
    """The flow a check-in kind runs: day-30 checks have their own."""
    return "day30" if kind == "day30" else "checkin"


class CheckInFacts(Protocol):
    """What a check-in's first question is made of: a stored `CheckIn` has it, and so
    has an `OpenedCheckIn` the scheduler created in bulk without loading it back."""

    @property
    def id(self) -> int | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def programme_id(self) -> str: ...
    @property
    def context(self) -> str: ...
    @property
    def scheduled_for(self) -> datetime: ...


@dataclass(frozen=True)
class OpenedCheckIn:
    """A check-in just created, known by the values it was created with."""

    id: int
    kind: str
    programme_id: str
    scheduled_for: datetime
    context: str = ""


def initial_state(checkin: CheckInFacts, config: LastmileConfig, zone: ZoneInfo) -> FlowState:
    """The first step of a check-in; `zone` is the person's, for "this morning"."""
    assert checkin.id is not None
    flow = flow_of(checkin.kind)
    programme = config.programmes.get(checkin.programme_id)
    return FlowState(
        flow=flow,
        checkin_id=checkin.id,
        step=FIRST_STEP[flow],
        tool=programme.tool if programme else "the tool",
        context=checkin.context,
        k=config.settings.anonymity_k,
        moment=part_of_day(checkin.scheduled_for.astimezone(zone).hour),
    )


async def open_checkin(
    session: AsyncSession,
    person: Person,
    config: LastmileConfig,
    *,
    kind: str,
    slot: str,
    now: datetime,
    context: str = "",
    scheduled_for: datetime | None = None,
) -> CheckIn | None:
    """Create a check-in for a person unless one exists for the same slot."""
    assert person.id is not None
    if not person.cohort_id or person.cohort_id not in config.cohorts:
        return None
    cohort = config.cohorts[person.cohort_id]
    when = scheduled_for or now
    return await create_checkin(
        session,
        person_id=person.id,
        programme_id=cohort.programme,
        cohort_id=person.cohort_id,
        kind=kind,
        slot=slot,
        scheduled_for=when,
        expires_at=when + timedelta(hours=config.settings.checkin_expiry_hours),
        context=context,
    )


async def begin(
    session: AsyncSession,
    checkin: CheckIn,
    config: LastmileConfig,
    w: Wording,
    now: datetime,
    zone: ZoneInfo,
) -> tuple[Reply, ...]:
    """Make the check-in the person's current flow and return its first question."""
    state = initial_state(checkin, config, zone)
    await _persist(session, checkin.person_id, state, now)
    return start(state, w)


async def _persist(
    session: AsyncSession, person_id: int, state: FlowState | None, now: datetime
) -> None:
    if state is None:
        await clear_state(session, person_id)
        return
    data = asdict(state)
    for key in ("flow", "step", "checkin_id"):
        data.pop(key)
    await put_state(session, person_id, state.flow, state.step, state.checkin_id, data, now)


async def current_state(session: AsyncSession, person_id: int) -> FlowState | None:
    """The flow step the person is at, rebuilt from storage."""
    row = await get_state(session, person_id)
    if row is None or row.checkin_id is None:
        return None
    return FlowState(flow=row.flow, checkin_id=row.checkin_id, step=row.step, **row.data)


async def advance(
    session: AsyncSession,
    person: Person,
    checkin_id: int,
    flow_input: FlowInput,
    config: LastmileConfig,
    w: Wording,
    now: datetime,
) -> list[Reply]:
    """Apply a tap or text to a check-in and store what it records.

    A tap on someone else's check-in, an expired one or an already-answered step
    changes nothing.
    """
    checkin = await get_checkin(session, checkin_id)
    if checkin is None or checkin.person_id != person.id:
        return []
    state = await current_state(session, checkin.person_id)
    if state is None or state.checkin_id != checkin_id:
        fresh = initial_state(checkin, config, person_timezone(person, config))
        if checkin.status in ("answered", "expired") or flow_input.step != fresh.step:
            return [
                Text(
                    w(
                        "checkin.expired"
                        if checkin.status == "expired"
                        else "checkin.already_answered"
                    )
                )
            ]
        state = fresh
    if checkin.status == "expired" and state.step == FIRST_STEP[state.flow]:
        return [Text(w("checkin.expired"))]
    transition: Transition = step(state, flow_input, w)
    if not transition.accepted:
        return list(transition.replies) or [Text(w("checkin.already_answered"))]
    for record in transition.records:
        if not await _apply(session, checkin, record, now):
            return [Text(w("checkin.already_answered"))]
    await _persist(session, checkin.person_id, transition.state, now)
    return list(transition.replies)


async def _apply(session: AsyncSession, checkin: CheckIn, record: Record, now: datetime) -> bool:
    assert checkin.id is not None
    if isinstance(record, SaveAnswer):
        return await save_answer(session, checkin, record.outcome, now)
    if isinstance(record, SaveNotUsed):
        await save_not_used(session, checkin.id, record.reason, record.text)
    elif isinstance(record, SaveWorkaround):
        await save_workaround(session, checkin, record.kind, record.text, now)
    elif isinstance(record, SaveOverride):
        await save_override(session, checkin, record.overridden, record.reason, record.text, now)
    elif isinstance(record, SaveDay30):
        await save_day30(session, checkin, record.feeling, record.change_first, now)
    return True
