"""A rate limiter whose buckets live in the database, so every replica draws on one budget."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from bot.ratelimit import RateLimiter, RateLimits
from storage.db import Database
from storage.ratebuckets import Balance, Draw, forget_full, pause, paused, reserve

FORGET_EVERY = 60.0
"""Seconds between sweeps of refilled buckets (one per DM channel adds up over a slot)."""
LOOK_EVERY = 1.0
"""Seconds between looks for pauses other replicas heard of, while sends wait their turn."""


class SharedRateLimiter(RateLimiter):
    """Token buckets in the `ratebucket` table: one short transaction per batch of sends.

    Replicas reserving at once queue on the bucket's row lock for the length of one
    UPDATE, and a pause one replica learns from a 429 reaches the others with their next
    reservation. Times are Unix seconds, the only clock replicas share.
    """

    def __init__(
        self,
        db: Database,
        config: RateLimits | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(config, clock=clock, sleep=sleep)
        self.db = db
        self._swept = clock()
        self._looked = clock()

    async def _draw(self, draws: Sequence[Draw], now: float) -> dict[str, Balance]:
        async with self.db.session() as session:
            balances = await reserve(session, draws, now)
        if now - self._swept > FORGET_EVERY:
            self._swept = now
            async with self.db.session() as session:
                await forget_full(session, now)
            self._paused = {key: until for key, until in self._paused.items() if until > now}
        return balances

    async def look_for_pauses(self) -> None:
        """Read the pauses in force, at most once a LOOK_EVERY, so sends already reserved
        also wait out a 429 another replica heard."""
        now = self.clock()
        if now - self._looked < LOOK_EVERY:
            return
        self._looked = now
        async with self.db.session() as session:
            for key, until in await paused(session, now):
                self._paused[key] = max(self._paused.get(key, 0.0), until)

    async def _hold(self, keys: Sequence[str], until: float) -> None:
        async with self.db.session() as session:
            await pause(session, keys, until)
