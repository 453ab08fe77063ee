"""Send rate limits as token buckets: each platform plugin names its limits and their scopes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

MAX_BUCKETS = 10_000
"""Full, idle buckets are forgotten past this many, so per-conversation state stays small."""


@dataclass(frozen=True)
class Limit:
    """At most `count` messages per `per` seconds in one scope, with bursts up to `burst`."""

    scope: str
    count: float
    per: float
    burst: float | None = None


class TokenBucket:
    """A bucket that refills at `count / per` tokens a second up to its burst size."""

    def __init__(self, limit: Limit, now: float) -> None:
        self.capacity = limit.burst if limit.burst is not None else limit.count
        self.rate = limit.count / limit.per
        self.tokens = self.capacity
        self.stamp = now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def reserve(self, now: float) -> float:
        """Take a token, possibly on credit.

        Returns:
            Seconds to wait before sending; waiting callers queue up in order
            because each one's debt pushes the next one's wait further out.
        """
        self._refill(now)
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def is_full(self, now: float) -> bool:
        """True when the bucket has refilled completely (it can be forgotten)."""
        self._refill(now)
        return self.tokens >= self.capacity


class RateLimiter:
    """Waits, before each send, until every limit of the message's platform allows it.

    Limits hold within one process; several replicas share a platform's budget,
    and a 429 from the platform (Retry-After) covers what they overshoot.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self._buckets: dict[tuple[str, int, str], TokenBucket] = {}

    async def acquire(
        self, platform: str, limits: Sequence[Limit], scopes: Mapping[str, str]
    ) -> float:
        """Wait until a message may be sent.

        Args:
            platform: whose limits these are.
            limits: the platform's limits.
            scopes: the message's value for each limit's scope (its channel, workspace…).

        Returns:
            How long it waited, in seconds.
        """
        now = self.clock()
        wait = 0.0
        for index, limit in enumerate(limits):
            key = (platform, index, scopes.get(limit.scope, ""))
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(limit, now)
            wait = max(wait, bucket.reserve(now))
        if len(self._buckets) > MAX_BUCKETS:
            self._forget_idle(now)
        if wait > 0:
            await self.sleep(wait)
        return wait

    def _forget_idle(self, now: float) -> None:
        for key in [key for key, bucket in self._buckets.items() if bucket.is_full(now)]:
            del self._buckets[key]
