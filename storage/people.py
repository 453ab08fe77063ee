"""Repository functions for people: identity, roles, addresses, state, mydata, forget."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, tuple_, update
from sqlalchemy import select as sql_select
from sqlalchemy.orm.util import identity_key
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.held import write
from storage.models import (
    Answer,
    CheckIn,
    ConversationAddress,
    ConversationState,
    Day30Response,
    InboxEvent,
    Note,
    OutboxMessage,
    Override,
    Person,
    Role,
    SentMessage,
    ThemeText,
    ThemeUpdate,
    Workaround,
)
from storage.sql import built_once, insert_ignore, insert_rows, rows_source, upsert

_BY_IDENTITY = select(Person).where(
    Person.platform == bindparam("platform"), Person.platform_user_id == bindparam("user_id")
)
"""Built once: every event a person sends looks them up."""


READ_AHEAD = "people_read_ahead"
"""`session.info` key: people (and their addresses) read for a group of events at once."""


@dataclass
class ReadAhead:
    """The people a transaction's events come from, read in two statements instead of
    a lookup and an address write per event. Valid for that transaction only."""

    people: dict[tuple[str, str], Person]
    addresses: dict[int, tuple[str, dict[str, Any]]]


async def read_people_ahead(session: AsyncSession, identities: Iterable[tuple[str, str]]) -> None:
    """Read the people with these (platform, user id) identities, and their addresses, for
    `find_person` and `save_address` to use in this transaction."""
    wanted = sorted(set(identities))
    if not wanted:
        return
    found = await session.exec(
        select(Person).where(tuple_(col(Person.platform), col(Person.platform_user_id)).in_(wanted))
    )
    people = {(person.platform, person.platform_user_id): person for person in found.all()}
    ids = [person.id for person in people.values() if person.id is not None]
    addresses: dict[int, tuple[str, dict[str, Any]]] = {}
    if ids:
        # Columns, not objects: a later `get_address` in the transaction reads the row
        # as `save_address` leaves it, not a copy held from here.
        table = ConversationAddress.__table__  # type: ignore[attr-defined]
        statement = sql_select(table.c.person_id, table.c.platform, table.c.data).where(
            table.c.person_id.in_(ids)
        )
        stored = await (await session.connection()).execute(statement)
        addresses = {row.person_id: (row.platform, dict(row.data)) for row in stored.all()}
    session.info[READ_AHEAD] = ReadAhead(people, addresses)


async def find_person(session: AsyncSession, platform: str, user_id: str) -> Person | None:
    """The person with this platform identity, if known."""
    ahead: ReadAhead | None = session.info.get(READ_AHEAD)
    if ahead is not None and (platform, user_id) in ahead.people:
        return ahead.people[(platform, user_id)]
    params = {"platform": platform, "user_id": user_id}
    return (await session.exec(_BY_IDENTITY, params=params)).first()


async def get_person(session: AsyncSession, person_id: int) -> Person | None:
    """The person with this id, if still stored."""
    return await session.get(Person, person_id)


async def ensure_person(
    session: AsyncSession, platform: str, user_id: str, now: datetime, **profile: Any
) -> Person:
    """Find a person by platform identity, creating them when new.

    Safe when two processes meet the same new person at once: the unique key on
    (platform, platform_user_id) lets only one insert through.
    """
    values = {"platform": platform, "platform_user_id": user_id, "created_at": now, **profile}
    await insert_ignore(session, Person, values, ("platform", "platform_user_id"))
    person = await find_person(session, platform, user_id)
    assert person is not None
    return person


async def people_in_cohort(session: AsyncSession, cohort_id: str) -> list[Person]:
    """Everyone in a cohort, whatever their status."""
    statement = select(Person).where(Person.cohort_id == cohort_id).order_by(col(Person.id))
    return list((await session.exec(statement)).all())


async def roles_of(session: AsyncSession, person_id: int) -> list[Role]:
    """The person's roles."""
    statement = select(Role).where(Role.person_id == person_id).order_by(col(Role.id))
    return list((await session.exec(statement)).all())


async def replace_roles(
    session: AsyncSession, person_id: int, roles: Iterable[tuple[str, str]]
) -> None:
    """Make the person's roles exactly `roles` (pairs of role and scope)."""
    await replace_people_roles(session, {person_id: set(roles)})


async def replace_people_roles(
    session: AsyncSession, roles: Mapping[int, Iterable[tuple[str, str]]]
) -> None:
    """Make each listed person's roles exactly theirs in `roles`, in two statements."""
    if not roles:
        return
    people = rows_source(session, Role, [{"person_id": pid} for pid in roles], ["person_id"])
    await session.exec(
        delete(Role).where(col(Role.person_id).in_(select(people.table.c.person_id))),
        params=people.params,
    )
    await insert_rows(
        session,
        Role,
        [
            {"person_id": person_id, "role": role, "scope": scope}
            for person_id, pairs in roles.items()
            for role, scope in sorted(set(pairs))
        ],
        unique=("person_id", "role", "scope"),
    )


async def roles_of_people(
    session: AsyncSession, person_ids: Sequence[int]
) -> dict[int, set[tuple[str, str]]]:
    """The (role, scope) pairs of each of `person_ids` that holds any, in one query."""
    people = rows_source(session, Role, [{"person_id": pid} for pid in person_ids], ["person_id"])
    statement = select(Role.person_id, Role.role, Role.scope).where(
        col(Role.person_id).in_(select(people.table.c.person_id))
    )
    held: dict[int, set[tuple[str, str]]] = {}
    for person_id, role, scope in (await session.exec(statement, params=people.params)).all():
        held.setdefault(person_id, set()).add((role, scope))
    return held


@dataclass(frozen=True)
class Enrolment:
    """A stored person's identity, e-mail and cohort: what the config sync compares."""

    person_id: int
    platform: str
    platform_user_id: str
    email: str
    cohort_id: str | None


async def ensure_people(
    session: AsyncSession, identities: Sequence[tuple[str, str]], now: datetime
) -> None:
    """Create everyone not yet stored among (platform, user id) `identities`, in one
    statement.

    Safe when several processes start at once: the unique key on (platform,
    platform_user_id) lets one insert of each person through.
    """
    await insert_rows(
        session,
        Person,
        [
            {"platform": platform, "platform_user_id": user, "created_at": now}
            for platform, user in identities
        ],
        unique=("platform", "platform_user_id"),
    )


async def enrolments(
    session: AsyncSession, identities: Sequence[tuple[str, str]]
) -> list[Enrolment]:
    """The people named by (platform, user id) `identities`, and everyone else stored in
    a cohort or with a role: all whom a config file can concern, in one query."""
    named = rows_source(
        session,
        Person,
        [{"platform": platform, "platform_user_id": user} for platform, user in identities],
        ["platform", "platform_user_id"],
    )
    people = Person.__table__  # type: ignore[attr-defined]
    # IN over the named rows, not a join: SQLite then indexes them once, where an outer
    # join from person would scan every row of them for every person.
    statement = sql_select(
        people.c.id,
        people.c.platform,
        people.c.platform_user_id,
        people.c.email,
        people.c.cohort_id,
    ).where(
        or_(
            tuple_(people.c.platform, people.c.platform_user_id).in_(
                sql_select(named.table.c.platform, named.table.c.platform_user_id)
            ),
            people.c.cohort_id.is_not(None),
            people.c.id.in_(select(Role.person_id)),
        )
    )
    # Five columns: more than sqlmodel's typed select takes, so through the connection.
    result = await (await session.connection()).execute(statement, named.params)
    return [
        Enrolment(row.id, row.platform, row.platform_user_id, row.email, row.cohort_id)
        for row in result.all()
    ]


async def set_cohorts(session: AsyncSession, cohorts: Mapping[int, str | None]) -> None:
    """Put each person in `cohorts` in their cohort (None: in none), in one statement."""
    if not cohorts:
        return
    moves = rows_source(
        session,
        Person,
        [{"id": person_id, "cohort_id": cohort} for person_id, cohort in cohorts.items()],
        ["id", "cohort_id"],
    )
    await session.exec(
        update(Person)
        .where(col(Person.id) == moves.table.c.id)
        .values(cohort_id=moves.table.c.cohort_id),
        params=moves.params,
    )


async def save_address(
    session: AsyncSession, person_id: int, platform: str, data: dict[str, Any], now: datetime
) -> None:
    """Remember where to reach the person proactively.

    One statement, run for every event a person sends: it writes only when the
    address is new or has changed (compared as stored text; the adapters build it
    the same way every time).
    """
    ahead: ReadAhead | None = session.info.get(READ_AHEAD)
    if ahead is not None and ahead.addresses.get(person_id) == (platform, data):
        return  # read ahead for this transaction, and the same
    values = {"person_id": person_id, "platform": platform, "data": data, "updated_at": now}
    if ahead is not None:
        ahead.addresses[person_id] = (platform, data)
    await upsert(
        session,
        ConversationAddress,
        values,
        ("person_id",),
        ("platform", "data", "updated_at"),
        when_changed=("platform", "data"),
    )


async def get_address(session: AsyncSession, person_id: int) -> ConversationAddress | None:
    """Where to reach the person, if known."""
    return await session.get(ConversationAddress, person_id)


async def get_state(session: AsyncSession, person_id: int) -> ConversationState | None:
    """The flow step the person is at, if any."""
    return await session.get(ConversationState, person_id)


async def put_state(
    session: AsyncSession,
    person_id: int,
    flow: str,
    step: str,
    checkin_id: int | None,
    data: dict[str, Any],
    now: datetime,
) -> None:
    """Persist the person's flow step, so a restart continues there."""
    values = {
        "person_id": person_id,
        "flow": flow,
        "step": step,
        "checkin_id": checkin_id,
        "data": data,
        "updated_at": now,
    }
    await upsert(
        session,
        ConversationState,
        values,
        ("person_id",),
        ("flow", "step", "checkin_id", "data", "updated_at"),
    )


def _state_delete() -> Any:
    def build() -> Any:
        table = ConversationState.__table__  # type: ignore[attr-defined]
        return delete(table).where(table.c.person_id == bindparam("v_person_id"))

    return built_once(("state_delete",), build)


async def clear_state(session: AsyncSession, person_id: int) -> None:
    """Forget the person's flow step (the flow finished).

    A plain DELETE (held with the transaction's other writes when it holds them); a
    copy the session holds is let go, so a later look reads what is stored.
    """
    await write(session, _state_delete(), "conversationstate", {"v_person_id": person_id})
    copy = session.sync_session.identity_map.get(identity_key(ConversationState, person_id))
    if copy is not None:
        session.expunge(copy)


@dataclass(frozen=True)
class PersonData:
    """Every row stored about one person (what `mydata` shows)."""

    person: Person
    roles: list[Role]
    address: ConversationAddress | None
    checkins: list[CheckIn]
    answers: list[Answer]
    workarounds: list[Workaround]
    overrides: list[Override]
    day30: list[Day30Response]
    notes: list[Note]
    state: ConversationState | None = None
    sent: list[SentMessage] | None = None
    theme_texts: list[ThemeText] | None = None
    waiting: list[OutboxMessage] | None = None
    """Messages for the person queued and not yet sent."""


async def person_data(session: AsyncSession, person: Person) -> PersonData:
    """Gather everything stored about a person."""
    assert person.id is not None
    pid = person.id

    async def rows(model: Any, order: Any) -> list[Any]:
        statement = select(model).where(model.person_id == pid).order_by(order)
        return list((await session.exec(statement)).all())

    return PersonData(
        person=person,
        roles=await roles_of(session, pid),
        address=await get_address(session, pid),
        checkins=await rows(CheckIn, col(CheckIn.id)),
        answers=await rows(Answer, col(Answer.id)),
        workarounds=await rows(Workaround, col(Workaround.id)),
        overrides=await rows(Override, col(Override.id)),
        day30=await rows(Day30Response, col(Day30Response.id)),
        notes=await rows(Note, col(Note.id)),
        state=await get_state(session, pid),
        sent=await rows(SentMessage, col(SentMessage.id)),
        theme_texts=await rows(ThemeText, col(ThemeText.id)),
        waiting=[
            row
            for row in await rows(OutboxMessage, col(OutboxMessage.id))
            if row.status == "pending"
        ],
    )


async def forget_person(session: AsyncSession, person_id: int) -> None:
    """Erase every row that refers to the person."""
    person = await session.get(Person, person_id)
    if person is not None:
        # Handled events only: the one being handled (the confirming tap) finishes itself.
        identity = f"{person.platform}:{person.platform_user_id}"
        await session.exec(
            delete(InboxEvent).where(
                col(InboxEvent.person_key) == identity, col(InboxEvent.status) != "pending"
            )
        )
    checkin_ids = select(CheckIn.id).where(CheckIn.person_id == person_id)
    for model in (Answer, Workaround, Override, Day30Response):
        await session.exec(
            delete(model).where(
                or_(
                    col(model.person_id) == person_id,
                    col(model.checkin_id).in_(checkin_ids),
                )
            )
        )
    owned: tuple[Any, ...] = (
        Note,
        Role,
        ConversationState,
        ConversationAddress,
        OutboxMessage,
        SentMessage,
        ThemeText,
    )
    for table in owned:
        await session.exec(delete(table).where(col(table.person_id) == person_id))
    await session.exec(delete(OutboxMessage).where(col(OutboxMessage.checkin_id).in_(checkin_ids)))
    await session.exec(
        ThemeUpdate.__table__.update()  # type: ignore[attr-defined]
        .where(ThemeUpdate.__table__.c.author_person_id == person_id)  # type: ignore[attr-defined]
        .values(author_person_id=None)
    )
    await session.exec(delete(CheckIn).where(col(CheckIn.person_id) == person_id))
    await session.exec(delete(Person).where(col(Person.id) == person_id))


async def mark_welcomed(session: AsyncSession, person_ids: Sequence[int], now: datetime) -> None:
    """Note that lastmile has told these people what it is, in one statement."""
    if not person_ids:
        return
    welcomed = rows_source(session, Person, [{"id": pid} for pid in person_ids], ["id"])
    await session.exec(
        update(Person)
        .where(col(Person.id).in_(select(welcomed.table.c.id)))
        .values(welcomed_at=now),
        params=welcomed.params,
    )


async def mark_unreachable(session: AsyncSession, person_id: int) -> None:
    """The platform says the person cannot be messaged: stop asking them."""
    await session.exec(update(Person).where(col(Person.id) == person_id).values(unreachable=True))


async def recipients(
    session: AsyncSession, person_ids: Sequence[int]
) -> dict[int, tuple[Person, ConversationAddress | None]]:
    """People and their proactive addresses, by id, in one query."""
    statement = (
        select(Person, ConversationAddress)
        .join(
            ConversationAddress,
            col(ConversationAddress.person_id) == col(Person.id),
            isouter=True,
        )
        .where(col(Person.id).in_(person_ids))
    )
    found: dict[int, tuple[Person, ConversationAddress | None]] = {}
    for person, address in (await session.exec(statement)).all():
        assert person.id is not None
        found[person.id] = (person, address)
    return found


async def people_by_email(session: AsyncSession, email: str) -> list[Person]:
    """People whose platform profile has this e-mail address (case-insensitive)."""
    statement = (
        select(Person).where(func.lower(Person.email) == email.lower()).order_by(col(Person.id))
    )
    return list((await session.exec(statement)).all())


async def people_by_id(session: AsyncSession, person_ids: Sequence[int]) -> list[Person]:
    """The stored people among `person_ids` (forgotten ones are simply absent)."""
    if not person_ids:
        return []
    statement = select(Person).where(col(Person.id).in_(list(person_ids))).order_by(col(Person.id))
    return list((await session.exec(statement)).all())


@dataclass(frozen=True)
class PersonName:
    """What a stored person is known by on their platform."""

    display_name: str
    email: str
    platform_user_id: str


async def people_names(session: AsyncSession) -> list[PersonName]:
    """Every stored person's display name, e-mail address and platform id (for scrubbing quotes)."""
    statement = select(Person.display_name, Person.email, Person.platform_user_id).order_by(
        col(Person.id)
    )
    return [PersonName(*row) for row in (await session.exec(statement)).all()]
