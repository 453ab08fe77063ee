"""Starts check-ins and applies flow steps to storage, inside the current turn."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol, assert_never
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import CohortConfig, LastmileConfig
from bot.flows.checkin import (
    FIRST_STEP,
    Fact,
    Flow,
    FlowInput,
    FlowState,
    Moment,
    Record,
    SaveAnswer,
    SaveDay30,
    SaveNotUsed,
    SaveOverride,
    SaveWorkaround,
    Step,
    Transition,
    close_now,
    message,
    start,
    step,
)
from bot.metrics import Counted
from bot.replies import Choices, Replace, Reply, Text, TextRequest
from bot.turn import person_timezone
from bot.wording import Wording
from storage.checkins import (
    checkin_and_state,
    create_checkin,
    get_checkin,
    latest_open_checkin,
    save_answer,
    save_day30,
    save_not_used,
    save_override,
    save_workaround,
)
from storage.db import tally
from storage.models import CheckIn, CheckInKind, CheckInStatus, ConversationState, Person
from storage.people import clear_state, get_state, put_state

logger = logging.getLogger(__name__)


def flow_of(kind: str) -> Flow:
    """The flow a check-in kind runs: day-30 checks have their own."""
    return Flow.DAY30 if kind == CheckInKind.DAY30 else Flow.CHECKIN


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
    def cohort_id(self) -> str: ...
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
    cohort_id: str = ""
    context: str = ""


def moment_of(cohort: CohortConfig | None, local: datetime) -> Moment:
    """What "this morning / afternoon / evening / your shift" is for a local moment."""
    if cohort is not None and cohort.working is not None:
        return Moment.SHIFT
    hour = local.hour
    if 5 <= hour < 12:
        return Moment.MORNING
    if 12 <= hour < 18:
        return Moment.AFTERNOON
    return Moment.EVENING if 18 <= hour < 22 else Moment.NIGHT


def initial_state(checkin: CheckInFacts, config: LastmileConfig, zone: ZoneInfo) -> FlowState:
    """The first step of a check-in; `zone` is the person's, for "this morning"."""
    assert checkin.id is not None
    flow = flow_of(checkin.kind)
    programme = config.programmes.get(checkin.programme_id)
    cohort = config.cohorts.get(checkin.cohort_id)
    return FlowState(
        flow=flow,
        checkin_id=checkin.id,
        step=FIRST_STEP[flow],
        tool=programme.tool if programme else "the tool",
        context=checkin.context,
        k=config.settings.anonymity_k,
        moment=moment_of(cohort, checkin.scheduled_for.astimezone(zone)),
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
    """The flow step the person is at, rebuilt from storage (None for none, or a step
    this version of lastmile no longer has)."""
    return _rebuilt(await get_state(session, person_id))


def _rebuilt(row: ConversationState | None) -> FlowState | None:
    if row is None or row.checkin_id is None:
        return None
    data = dict(row.data)
    try:
        memory = {Fact(key).value: str(value) for key, value in data.pop("memory", {}).items()}
        return FlowState(
            flow=Flow(row.flow),
            checkin_id=row.checkin_id,
            step=Step(row.step),
            tool=str(data.get("tool", "")),
            context=str(data.get("context", "")),
            k=int(data.get("k", 5)),
            moment=Moment(data.get("moment", Moment.AFTERNOON)),
            memory=memory,
            close=str(data.get("close", "close.thanks")),
        )
    except ValueError:
        logger.info("a stored flow step is no longer known; it is let go")
        return None


@dataclass(frozen=True)
class OpenCheckIn:
    """The check-in a person has open, and how its message reads now."""

    checkin: CheckIn
    state: FlowState


async def open_checkin_of(
    session: AsyncSession, person: Person, config: LastmileConfig, now: datetime
) -> OpenCheckIn | None:
    """The person's one open check-in: the one they are answering (not yet complete),
    else the newest sent and still unanswered one."""
    assert person.id is not None
    state = await current_state(session, person.id)
    if state is not None and not state.closed:
        checkin = await get_checkin(session, state.checkin_id)
        if checkin is not None and (checkin.expires_at is None or checkin.expires_at > now):
            return OpenCheckIn(checkin, state)
    checkin = await latest_open_checkin(session, person.id, now)
    if checkin is None:
        return None
    return OpenCheckIn(checkin, initial_state(checkin, config, person_timezone(person, config)))


def reoffer(found: OpenCheckIn, w: Wording, lead: str = "") -> Replace:
    """The open check-in posted again at the bottom of the chat, its old copies gone."""
    shown = message(found.state, w)
    if lead:
        shown = _with_lead(shown, lead)
    return Replace(found.state.token(), shown, resend=True)


def _with_lead(shown: Text | Choices | TextRequest, lead: str) -> Text | Choices | TextRequest:
    match shown:
        case Text():
            return replace(shown, text=f"{lead}\n{shown.text}")
        case Choices():
            return replace(shown, text=f"{lead}\n{shown.text}")
        case TextRequest():
            return replace(shown, prompt=f"{lead}\n{shown.prompt}")
        case _:
            assert_never(shown)


async def finish_note_step(
    session: AsyncSession, person: Person, w: Wording, now: datetime
) -> list[Reply]:
    """Close a complete check-in that still offers "add a few words" (a new one starts)."""
    assert person.id is not None
    state = await current_state(session, person.id)
    if state is None or not state.closed:
        return []
    await _persist(session, person.id, None, now)
    return [close_now(state, w)]


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
    assert person.id is not None
    found = await checkin_and_state(session, checkin_id, person.id)
    if found is None:
        return []
    checkin, stored = found
    state = _rebuilt(stored)
    before: list[Reply] = []
    if state is None or state.checkin_id != checkin_id:
        fresh = initial_state(checkin, config, person_timezone(person, config))
        if checkin.status in (CheckInStatus.ANSWERED, CheckInStatus.EXPIRED) or (
            flow_input.step != fresh.step
        ):
            return [Text(w(_closed_key(checkin)))]
        if state is not None and state.closed:
            # The last check-in still offered "add a few words": it ends here.
            before.append(close_now(state, w))
        state = fresh
    if checkin.status == CheckInStatus.EXPIRED and state.step is FIRST_STEP[state.flow]:
        return [Text(w("checkin.expired"))]
    transition: Transition = step(state, flow_input, w)
    if not transition.accepted:
        return [Text(w("checkin.already_answered"))]
    for record in transition.records:
        if not await _apply(session, checkin, record, now):
            return [Text(w("checkin.already_answered"))]
    if transition.state is not None or stored is not None:
        # A first tap that also ends the check-in ("it helped") has no step to forget.
        await _persist(session, checkin.person_id, transition.state, now)
    return [*before, *transition.replies]


def _closed_key(checkin: CheckIn) -> str:
    return (
        "checkin.expired" if checkin.status == CheckInStatus.EXPIRED else "checkin.already_answered"
    )


async def _apply(session: AsyncSession, checkin: CheckIn, record: Record, now: datetime) -> bool:
    assert checkin.id is not None
    match record:
        case SaveAnswer():
            if not await save_answer(session, checkin, record.outcome, now):
                return False
            tally(session, Counted.ANSWERED, checkin.kind)
        case SaveNotUsed():
            await save_not_used(session, checkin.id, record.reason, record.text)
        case SaveWorkaround():
            await save_workaround(session, checkin, record.kind, record.text, now)
        case SaveOverride():
            await save_override(
                session, checkin, record.overridden, record.reason, record.text, now
            )
        case SaveDay30():
            first = checkin.status != CheckInStatus.ANSWERED
            await save_day30(session, checkin, record.feeling, record.change_first, now)
            if first:
                tally(session, Counted.ANSWERED, checkin.kind)
        case _:
            assert_never(record)
    return True
