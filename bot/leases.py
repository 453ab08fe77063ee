"""Short leases kept alive while work runs, so a dead process's claims pass on within seconds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

from bot.stopping import cancel_and_wait

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
"""How long a claim holds without renewal: another process takes over a dead one's rows
within this (plus its next look)."""

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
