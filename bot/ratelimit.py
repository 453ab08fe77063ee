"""Per-platform send rate limits as async token buckets, honoured before each send."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.delivery import Outbound

MAX_BUCKETS = 10_000
"""Full, idle buckets are forgotten past this many, so per-conversation state stays small."""


@dataclass(frozen=True)
class Limit:
    """At most `count` messages per `per` seconds in one scope, with bursts up to `burst`."""

    scope: str
    count: float
    per: float
    burst: float | None = None


# Slack: chat.postMessage allows about one message per second per channel with
# short bursts, under a workspace-wide budget Slack does not publish (several
# hundred a minute in practice). Teams: 7 per second per conversation (8 per 2 s,
# 60 per 30 s, 1800 per hour) and 50 per second per app per tenant.
LIMITS: dict[str, tuple[Limit, ...]] = {
    "slack": (
        Limit("channel", 1, 1.0),
        Limit("workspace", 300, 60.0, burst=30),
    ),
    "teams": (
        Limit("conversation", 7, 1.0),
        Limit("conversation", 8, 2.0),
        Limit("conversation", 60, 30.0),
        Limit("conversation", 1800, 3600.0),
        Limit("tenant", 50, 1.0),
    ),
}


def _slack_scopes(message: Outbound) -> dict[str, str]:
    recipient = message.recipient
    address = recipient.address if recipient else {}
    channel = (
        message.destination
        or str(address.get("channel") or address.get("channel_id") or "")
        or (recipient.user_id if recipient else "")
    )
    workspace = (recipient.workspace_id if recipient else "") or str(
        address.get("team_id") or address.get("team") or ""
    )
    return {"channel": channel, "workspace": workspace}


def _teams_scopes(message: Outbound) -> dict[str, str]:
    recipient = message.recipient
    address = recipient.address if recipient else {}
    conversation = address.get("conversation")
    conversation = conversation if isinstance(conversation, dict) else {}
    return {
        "conversation": str(conversation.get("id") or "")
        or message.destination
        or (recipient.user_id if recipient else ""),
        "tenant": str(conversation.get("tenantId") or "")
        or (recipient.workspace_id if recipient else ""),
    }


SCOPES: dict[str, Callable[[Outbound], dict[str, str]]] = {
    "slack": _slack_scopes,
    "teams": _teams_scopes,
}


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
        limits: dict[str, tuple[Limit, ...]] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = LIMITS if limits is None else limits
        self.clock = clock
        self.sleep = sleep
        self._buckets: dict[tuple[str, int, str], TokenBucket] = {}

    async def acquire(self, platform: str, message: Outbound) -> float:
        """Wait until the message may be sent.

        Returns:
            How long it waited, in seconds.
        """
        limits = self.limits.get(platform, ())
        scopes = SCOPES[platform](message) if limits and platform in SCOPES else {}
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
