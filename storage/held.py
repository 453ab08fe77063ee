"""Writes a group of events makes, held back and run together.

The inbox worker handles several people's events in one transaction. Most of what a
tap writes is one small statement per event (the answer, the check-in's status, the
person's flow step), and each is a round trip to the database during which the event
loop serves other requests before the worker goes on. In such a transaction these
writes are held and run as one executemany per statement just before the transaction's
next statement, flush or commit, so whatever it reads still sees them, and each
table's writes keep the order they were made in.

Only transactions that ask for it hold writes (`hold_writes`); everywhere else each
write runs at once, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session
from sqlmodel.ext.asyncio.session import AsyncSession

HELD = "lastmile.held_writes"
"""`session.info` key: the writes this transaction holds (`HeldWrites`)."""


class HeldInsertConflict(Exception):
    """A held insert that had to add its row found one already there.

    Raised where the held writes run, so the transaction fails as a whole; its events
    are then handled again one by one, where each insert answers for itself.
    """


@dataclass
class _Batch:
    statement: Any
    table: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    must_insert: bool = False


class HeldWrites:
    """The writes one transaction holds, a batch per statement in first-use order."""

    def __init__(self) -> None:
        self._batches: dict[int, _Batch] = {}

    @property
    def waiting(self) -> bool:
        """True while any write is held."""
        return bool(self._batches)

    def add(self, statement: Any, table: str, params: dict[str, Any], *, must_insert: bool) -> bool:
        """Hold one write. False when it cannot join what is held (another statement on
        the same table is waiting, so order matters): run the held writes first."""
        batch = self._batches.get(id(statement))
        if batch is None:
            if any(held.table == table for held in self._batches.values()):
                return False
            batch = self._batches[id(statement)] = _Batch(statement, table, must_insert=must_insert)
        batch.rows.append(params)
        return True

    def run(self, connection: Connection) -> None:
        """Run every held write, each statement once for all its rows."""
        batches, self._batches = self._batches, {}
        for batch in batches.values():
            result = connection.execute(batch.statement, batch.rows)
            # RETURNING a row per insert: rowcount is not reliable over executemany.
            if batch.must_insert and len(result.all()) != len(batch.rows):
                raise HeldInsertConflict(batch.table)


def hold_writes(session: AsyncSession) -> None:
    """Hold this transaction's `write`s until its next statement, flush or commit."""
    session.info[HELD] = HeldWrites()


async def write(
    session: AsyncSession,
    statement: Any,
    table: str,
    params: dict[str, Any],
    *,
    must_insert: bool = False,
) -> bool:
    """Run a write now, or hold it when the transaction holds writes.

    Args:
        statement: built once (`storage.sql.built_once`): held writes are batched by it.
        table: the table it writes, to keep each table's writes in order.
        params: its parameters.
        must_insert: an INSERT … ON CONFLICT DO NOTHING RETURNING whose row must be
            new; held, a row already there fails the transaction (`HeldInsertConflict`).

    Returns:
        For an insert run now, whether it added its row; held, True.
    """
    held: HeldWrites | None = session.info.get(HELD)
    if held is not None:
        if held.add(statement, table, params, must_insert=must_insert):
            return True
        await session.run_sync(_run_held)
        held.add(statement, table, params, must_insert=must_insert)
        return True
    result = await session.exec(statement, params=params)
    return result.first() is not None if must_insert else True


def _run_held(session: Session) -> None:
    held: HeldWrites | None = session.info.get(HELD)
    if held is not None and held.waiting:
        held.run(session.connection())


@event.listens_for(Session, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    _run_held(state.session)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    _run_held(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    _run_held(session)
