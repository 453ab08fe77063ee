"""Short leases kept alive while work runs, so a dead process's claims pass on within seconds."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import SQLModel

from bot.stopping import cancel_and_wait
from storage.claims import claim_holders, end_claims
from storage.db import Database

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
"""How long a claim holds without renewal: another process takes over a dead one's rows
within this (plus its next look)."""

LOOK_FOR_THE_DEAD_EVERY = 10.0
"""Seconds between looks for claims held by processes of this machine that died."""

_PROC = Path("/proc")


def _started(pid: int) -> int | None:
    """When a process started (clock ticks since boot), None when no such process runs."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # Field 22, counted after the command name in parentheses (which may hold spaces).
    return int(stat.rpartition(")")[2].split()[19])


def _pid_namespace() -> int:
    """Which set of process ids this process sees (0 when it cannot be told)."""
    try:
        return os.stat(_PROC / "self" / "ns" / "pid").st_ino
    except OSError:
        return 0


def process_name() -> str:
    """Who holds a lease: host, process-id namespace, process id and start, and a random
    part (several workers per process). At most 64 characters, as stored."""
    host = socket.gethostname()[:24]
    pid = os.getpid()
    started = _started(pid) or 0
    return f"{host}:{_pid_namespace():x}:{pid}:{started:x}:{uuid.uuid4().hex[:6]}"


def gone(owner: str) -> bool:
    """True when `owner` was a process of this machine that has stopped.

    Only a process of the same host and process-id namespace can be told dead: its id
    no longer runs, or runs a process started at another moment. Anything else (another
    machine or container, a name from an older version) is left to its lease.
    """
    parts = owner.rsplit(":", 4)
    if len(parts) != 5:
        return False
    host, namespace, pid, started, _random = parts
    ours = _pid_namespace()
    if not ours or host != socket.gethostname()[:24] or namespace != f"{ours:x}":
        return False
    try:
        number, moment = int(pid), int(started, 16)
    except ValueError:
        return False
    if number <= 0:
        return False
    try:
        os.kill(number, 0)  # no signal sent: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it runs, as another user
    # Its id runs: a later process that was given the same id, or the holder itself
    # (kept, too, when /proc hides other users' processes).
    running = _started(number)
    return running is not None and running != moment


class DeadClaims:
    """Ends the claims of this machine's dead processes, instead of waiting out their
    lease: a `serve` restarted after a crash takes its predecessor's work at once."""

    def __init__(
        self,
        db: Database,
        model: type[SQLModel],
        clock: Callable[[], datetime],
        every: float = LOOK_FOR_THE_DEAD_EVERY,
    ) -> None:
        self._db = db
        self._model = model
        self._clock = clock
        self._every = every
        self._next_look = 0.0

    async def end_due(self) -> int:
        """Look (at most every `every` seconds) and end what the dead still hold.

        Returns:
            How many rows were freed.
        """
        if time.monotonic() < self._next_look:
            return 0
        self._next_look = time.monotonic() + self._every
        now = self._clock()
        async with self._db.session() as session:
            dead = [
                owner for owner in await claim_holders(session, self._model, now) if gone(owner)
            ]
            freed = await end_claims(session, self._model, dead, now)
        if freed:
            table = self._model.__tablename__
            logger.info("took over %d %s row(s) of %d stopped process(es)", freed, table, len(dead))
        return freed


Renew = Callable[[list[int], datetime], Awaitable[None]]
"""Extends the lease on the given row ids to the given moment."""


class LeaseKeeper:
    """Renews the leases this process holds every third of a lease, until released."""

    def __init__(self, renew: Renew, clock: Callable[[], datetime], lease: timedelta = LEASE):
        self._renew = renew
        self._clock = clock
        self.lease = lease
        self._held: dict[int, int] = {}
        self._task: asyncio.Task[None] | None = None

    def hold(self, ids: Iterable[int]) -> None:
        """Keep renewing these rows' leases."""
        for row_id in ids:
            self._held[row_id] = self._held.get(row_id, 0) + 1
        if self._held and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run(), name="lastmile-leases")

    def release(self, ids: Iterable[int]) -> None:
        """Stop renewing these rows (done, failed, or handed back)."""
        for row_id in ids:
            count = self._held.get(row_id, 0) - 1
            if count > 0:
                self._held[row_id] = count
            else:
                self._held.pop(row_id, None)

    @property
    def held(self) -> list[int]:
        """The rows whose leases are being renewed."""
        return sorted(self._held)

    async def _run(self) -> None:
        period = self.lease.total_seconds() / 3
        while self._held:
            await asyncio.sleep(period)
            ids = self.held
            if not ids:
                break
            try:
                await self._renew(ids, self._clock() + self.lease)
            except Exception as error:
                # The database is away: the claims may lapse and be taken over; the
                # owner's finishing update notices that and changes nothing.
                logger.warning("could not renew %d lease(s): %s", len(ids), type(error).__name__)

    async def stop(self) -> None:
        """Stop renewing (the process is shutting down)."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
