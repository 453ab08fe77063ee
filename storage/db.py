"""Database connection: SQLite by default, PostgreSQL when DATABASE_URL says so."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.turns import TurnLock

logger = logging.getLogger(__name__)

DEFAULT_SQLITE_PATH = "lastmile.db"

TALLIES = "lastmile.tallies"
"""Where a session keeps what its transaction counted (see `tally`)."""

Tally = tuple[str, str, int]
"""What a transaction counted: a name, one label value, and how many."""


DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    OSError,
    TimeoutError,
)
"""What a statement raises while the database is down, unreachable or too busy to answer."""


def normalise_url(url: str | None) -> str:
    """Return an async SQLAlchemy URL for what a person wrote in DATABASE_URL.

    Args:
        url: ``None`` or empty for the default SQLite file, ``sqlite:///path``,
            or ``postgresql://…`` (``postgres://`` accepted too).

    Returns:
        The URL with the async driver named (aiosqlite or psycopg).
    """
    if not url:
        return f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}"
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"DATABASE_URL must be sqlite or postgresql, not {backend!r}")


def sync_url(url: str) -> str:
    """Return the synchronous twin of an async URL, for Alembic."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, synchronous: str = "FULL") -> None:
    # WAL lets the chat process read while `serve` writes; busy_timeout waits out a
    # concurrent writer instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.close()


def tally(session: AsyncSession, name: str, label: str = "", amount: int = 1) -> None:
    """Count something this session's transaction did, reported once it commits.

    A transaction that rolls back (a lost lease, a failure) counted nothing, so
    metrics never count a check-in twice for one that was done again.
    """
    if amount:
        session.info.setdefault(TALLIES, []).append((name, label, amount))


def _sqlite_replayable_pragmas(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record, synchronous="NORMAL")


class Database:
    """An async engine and its session factory."""

    def __init__(self, url: str | None = None) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = make_url(self.url).get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            database = make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        # Parameters carry what people wrote: errors and logs never show them (aiosqlite
        # logs each statement's parameters at DEBUG, so it logs from INFO up).
        if logging.getLogger("aiosqlite").level < logging.INFO:
            logging.getLogger("aiosqlite").setLevel(logging.INFO)
        self.engine: AsyncEngine = create_async_engine(self.url, hide_parameters=True, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self.on_commit: list[Callable[[list[Tally]], None]] = []
        """Told what each committed transaction counted (`tally`), e.g. the metrics."""
        # The inbox worker's commits need not wait for the disk (`replayable_session`):
        # on SQLite they go through connections of their own, set so.
        self._replayable = self._sessions
        self._replayable_engine: AsyncEngine | None = None
        if self.is_sqlite and make_url(self.url).database not in (None, "", ":memory:"):
            self._replayable_engine = create_async_engine(self.url, hide_parameters=True)
            event.listen(self._replayable_engine.sync_engine, "connect", _sqlite_replayable_pragmas)
            self._replayable = async_sessionmaker(
                self._replayable_engine, class_=AsyncSession, expire_on_commit=False
            )
        # SQLite lets one transaction write at a time: within this process they take
        # turns (storing arrivals first), instead of sleeping in SQLite's busy handler.
        self._turns = TurnLock() if self.is_sqlite else None
        self._arrived_at = -math.inf
        # On PostgreSQL storing what arrives has connections of its own, so an
        # acknowledgement never waits for one that handling or sending holds.
        self._arrivals = self._sessions
        self._arrivals_engine: AsyncEngine | None = None
        if not self.is_sqlite:
            self._arrivals_engine = create_async_engine(
                self.url, hide_parameters=True, pool_size=4, max_overflow=0, pool_pre_ping=True
            )
            self._arrivals = async_sessionmaker(
                self._arrivals_engine, class_=AsyncSession, expire_on_commit=False
            )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on error."""
        async with self._in_turn(self._sessions) as session:
            yield session

    @asynccontextmanager
    async def _in_turn(
        self, sessions: async_sessionmaker[AsyncSession], *, urgent: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """A transaction from `sessions`, on SQLite in this process's turn at the writer."""
        async with contextlib.AsyncExitStack() as stack:
            if self._turns is not None:
                await stack.enter_async_context(self._turns.held(urgent=urgent))
            session = await stack.enter_async_context(sessions())
            async with session.begin():
                yield session
            self._committed(session)

    @asynccontextmanager
    async def replayable_session(self) -> AsyncIterator[AsyncSession]:
        """A session whose commit may return before it is on disk: for work that a
        durable record replays after a crash (the inbox worker's, from the inbox row).

        Only an operating-system crash or power cut can lose such a commit (a killed
        process cannot): SQLite in WAL mode with synchronous=NORMAL, PostgreSQL with
        synchronous_commit off. What it loses is a suffix of the log, and the next
        durable commit of any session makes everything before it durable too: the
        delivery loop claims replies in a durable commit before it sends them, so no
        reply goes out whose handling could still be lost. A lost handling leaves its
        inbox row pending, and it is handled again.
        """
        async with self._in_turn(self._replayable) as session:
            if self._turns is None:
                connection = await session.connection()
                await connection.execute(text("SET LOCAL synchronous_commit TO OFF"))
            yield session

    @asynccontextmanager
    async def arrivals_session(self) -> AsyncIterator[AsyncSession]:
        """A session for storing what platforms send (the inbox): on its own connections
        (PostgreSQL), or first in turn at the writer (SQLite)."""
        self._arrived_at = time.monotonic()
        async with self._in_turn(self._arrivals, urgent=True) as session:
            yield session

    def arrivals_within(self, seconds: float) -> bool:
        """True when something arrived to be stored in the last `seconds` (this process)."""
        return time.monotonic() - self._arrived_at < seconds

    def _committed(self, session: AsyncSession) -> None:
        tallies: list[Tally] = session.info.pop(TALLIES, [])
        if tallies:
            for listener in self.on_commit:
                listener(tallies)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self._replayable_engine is not None:
            await self._replayable_engine.dispose()
        if self._arrivals_engine is not None:
            await self._arrivals_engine.dispose()
