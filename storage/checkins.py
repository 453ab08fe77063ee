"""Repository functions for check-ins and what people answer in them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.held import write
from storage.models import (
    Answer,
    CheckIn,
    ConversationState,
    Day30Response,
    Note,
    Override,
    Workaround,
)
from storage.sql import bound, built_once, insert_ignore, insert_rows, parameters, upsert


async def create_checkin(
    session: AsyncSession,
    *,
    person_id: int,
    programme_id: str,
    cohort_id: str,
    kind: str,
    slot: str,
    scheduled_for: datetime,
    expires_at: datetime | None,
    context: str = "",
) -> CheckIn | None:
    """Create the check-in for (person, kind, slot) unless it exists.

    Returns:
        The new check-in, or None when another process (or an earlier run) made it.
    """
    values: dict[str, Any] = {
        "person_id": person_id,
        "programme_id": programme_id,
        "cohort_id": cohort_id,
        "kind": kind,
        "slot": slot,
        "status": "scheduled",
        "context": context,
        "scheduled_for": scheduled_for,
        "expires_at": expires_at,
        "message_ref": {},
    }
    if not await insert_ignore(session, CheckIn, values, ("person_id", "kind", "slot")):
        return None
    return await find_checkin(session, person_id, kind, slot)


async def create_checkins(
    session: AsyncSession, checkins: Sequence[Mapping[str, Any]]
) -> dict[tuple[int, str, str], int]:
    """Create many check-ins in one statement, each unless its (person, kind, slot) exists.

    Args:
        session: the session to run in.
        checkins: the columns of each check-in: person_id, programme_id, cohort_id,
            kind, slot, scheduled_for and expires_at (the rest take their defaults).

    Returns:
        The id of each check-in this call created, by (person, kind, slot); one made
        by another process (or an earlier run) is absent.
    """
    written = await insert_rows(
        session,
        CheckIn,
        [
            {**checkin, "status": "scheduled", "context": "", "message_ref": {}}
            for checkin in checkins
        ],
        unique=("person_id", "kind", "slot"),
        returning=("id", "person_id", "kind", "slot"),
    )
    return {(person_id, kind, slot): checkin_id for checkin_id, person_id, kind, slot in written}


async def find_checkin(
    session: AsyncSession, person_id: int, kind: str, slot: str
) -> CheckIn | None:
    """The person's check-in of `kind` for `slot`, if any."""
    statement = select(CheckIn).where(
        CheckIn.person_id == person_id, CheckIn.kind == kind, CheckIn.slot == slot
    )
    return (await session.exec(statement)).first()


async def latest_open_checkin(
    session: AsyncSession, person_id: int, now: datetime
) -> CheckIn | None:
    """The person's newest sent, unanswered check-in that has not expired by `now`."""
    statement = (
        select(CheckIn)
        .where(
            CheckIn.person_id == person_id,
            CheckIn.status == "sent",
            or_(col(CheckIn.expires_at).is_(None), col(CheckIn.expires_at) > now),
        )
        .order_by(col(CheckIn.sent_at).desc(), col(CheckIn.id).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def get_checkin(session: AsyncSession, checkin_id: int) -> CheckIn | None:
    """The check-in with this id."""
    return await session.get(CheckIn, checkin_id)


_WITH_STATE = select(CheckIn, ConversationState).outerjoin(
    ConversationState, col(ConversationState.person_id) == col(CheckIn.person_id)
)
"""Check-ins, each with its owner's flow step."""

_CHECKIN_AND_STATE = _WITH_STATE.where(
    col(CheckIn.id) == bindparam("checkin_id"),
    col(CheckIn.person_id) == bindparam("person_id"),
)
"""Built once: it runs for every tap on a check-in's buttons."""


CHECKINS_READ_AHEAD = "checkins_read_ahead"
"""`session.info` key: check-ins (with their owner's flow step) read for a group at once."""

Found = tuple[CheckIn, ConversationState | None]


async def read_checkins_ahead(session: AsyncSession, checkin_ids: Sequence[int]) -> None:
    """Read these check-ins and each owner's flow step in one query, for
    `checkin_and_state` to use in this transaction."""
    if not checkin_ids:
        return
    statement = _WITH_STATE.where(col(CheckIn.id).in_(sorted(set(checkin_ids))))
    found: dict[int, Found] = {
        checkin.id: (checkin, state)
        for checkin, state in (await session.exec(statement)).all()
        if checkin.id is not None
    }
    session.info[CHECKINS_READ_AHEAD] = found


async def checkin_and_state(
    session: AsyncSession, checkin_id: int, person_id: int
) -> tuple[CheckIn, ConversationState | None] | None:
    """The person's check-in with this id and the flow step they are at, in one query.

    Returns:
        None when the check-in does not exist or is someone else's.
    """
    ahead: dict[int, Found] | None = session.info.get(CHECKINS_READ_AHEAD)
    if ahead is not None and checkin_id in ahead:
        checkin, state = ahead[checkin_id]
        return (checkin, state) if checkin.person_id == person_id else None
    params = {"checkin_id": checkin_id, "person_id": person_id}
    found = (await session.exec(_CHECKIN_AND_STATE, params=params)).first()
    if found is None:
        return None
    checkin, state = found
    return checkin, state


async def checkins_by_id(session: AsyncSession, checkin_ids: Sequence[int]) -> dict[int, CheckIn]:
    """The stored check-ins among `checkin_ids`, by id, in one query."""
    if not checkin_ids:
        return {}
    statement = select(CheckIn).where(col(CheckIn.id).in_(list(checkin_ids)))
    return {row.id: row for row in (await session.exec(statement)).all() if row.id is not None}


def _status_update(names: tuple[str, ...]) -> Any:
    """UPDATE checkin SET status and the moments WHERE id, built once per set of columns."""

    def build() -> Any:
        table = CheckIn.__table__  # type: ignore[attr-defined]
        return update(table).where(table.c.id == bindparam("v_id")).values(bound(names))

    return built_once(("checkin_status", names), build)


async def set_checkin_status(
    session: AsyncSession, checkin_id: int, status: str, **moments: datetime | None
) -> None:
    """Move a check-in to `status` and set moments such as sent_at or answered_at.

    A plain UPDATE of the table (the ORM's would look for the row among the session's
    objects on every call); a check-in the session holds is then given the same values,
    as stored, so it reads what the database now says.
    """
    values: dict[str, Any] = {"status": status, **moments}
    params = parameters({"id": checkin_id, **values})
    await write(session, _status_update(tuple(values)), "checkin", params)
    copy = session.sync_session.identity_map.get(identity_key(CheckIn, checkin_id))
    if copy is not None:
        for name, value in values.items():
            set_committed_value(copy, name, value)


async def save_answer(session: AsyncSession, checkin: CheckIn, outcome: str, now: datetime) -> bool:
    """Store the first tap of a check-in.

    Returns:
        False when the check-in already had an answer (a second tap counts once).
    """
    assert checkin.id is not None
    values = {
        "checkin_id": checkin.id,
        "person_id": checkin.person_id,
        "outcome": outcome,
        "answered_at": now,
    }
    inserted = await insert_ignore(session, Answer, values, ("checkin_id",), hold=True)
    if inserted:
        await set_checkin_status(session, checkin.id, "answered", answered_at=now)
    return inserted


async def save_not_used(session: AsyncSession, checkin_id: int, reason: str, text: str) -> None:
    """Add why the tool was not used to the check-in's answer."""
    values: dict[str, Any] = {"not_used_reason": reason}
    if text:
        values["not_used_text"] = text
    await session.exec(update(Answer).where(col(Answer.checkin_id) == checkin_id).values(**values))


async def save_workaround(
    session: AsyncSession, checkin: CheckIn, kind: str, text: str, now: datetime
) -> None:
    """Store (or refine) what the person did instead."""
    values = {
        "checkin_id": checkin.id,
        "person_id": checkin.person_id,
        "kind": kind,
        "text": text,
        "created_at": now,
    }
    await upsert(session, Workaround, values, ("checkin_id",), ("kind", "text"))


async def save_override(
    session: AsyncSession,
    checkin: CheckIn,
    overridden: bool,
    reason: str,
    text: str,
    now: datetime,
) -> None:
    """Store (or refine) whether a suggestion was overridden and why."""
    values = {
        "checkin_id": checkin.id,
        "person_id": checkin.person_id,
        "overridden": overridden,
        "reason": reason,
        "text": text,
        "created_at": now,
    }
    await upsert(session, Override, values, ("checkin_id",), ("overridden", "reason", "text"))


async def save_day30(
    session: AsyncSession, checkin: CheckIn, feeling: str, change_first: str, now: datetime
) -> None:
    """Store (or refine) the day-30 answer."""
    values = {
        "checkin_id": checkin.id,
        "person_id": checkin.person_id,
        "feeling": feeling,
        "change_first": change_first,
        "created_at": now,
    }
    await upsert(session, Day30Response, values, ("checkin_id",), ("feeling", "change_first"))
    assert checkin.id is not None
    await set_checkin_status(session, checkin.id, "answered", answered_at=now)


async def add_note(session: AsyncSession, person_id: int, text: str, now: datetime) -> Note:
    """Keep something the person wrote outside a flow."""
    note = Note(person_id=person_id, text=text, created_at=now)
    session.add(note)
    await session.flush()
    return note


async def classify_note(session: AsyncSession, note_id: int, person_id: int, kind: str) -> bool:
    """Set a note's kind once; False when it was already classified or is not theirs."""
    result = await session.exec(
        update(Note)
        .where(
            col(Note.id) == note_id,
            col(Note.person_id) == person_id,
            col(Note.kind) == "unclassified",
        )
        .values(kind=kind)
        .returning(col(Note.id))
    )
    return result.first() is not None
