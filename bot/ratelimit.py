"""Send rate limits as token buckets: each platform plugin names its limits and their scopes."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from storage.ratebuckets import Balance, Draw

MAX_BUCKETS = 10_000
"""Full, idle buckets are forgotten past this many, so per-conversation state stays small."""
MAX_KEY = 255
"""The longest bucket key the shared table stores; longer scope values are hashed."""


@dataclass(frozen=True)
class Limit:
    """At most `count` messages per `per` seconds in one scope, with bursts up to `burst`.

    `follows_retry_after`: a platform's 429 pauses this scope (Slack's workspace); False
    for a scope one conversation's throttling says nothing about (a Teams tenant).
    """

    scope: str
    count: float
    per: float
    burst: float | None = None
    follows_retry_after: bool = True

    @property
    def capacity(self) -> float:
        """The most tokens the bucket holds."""
        return self.burst if self.burst is not None else self.count

    @property
    def rate(self) -> float:
        """Tokens a second."""
        return self.count / self.per


RateLimits = Mapping[tuple[str, str], tuple[Limit, ...]]
"""Configured limits by (platform, scope), in place of the plugin's for that scope."""

_ENTRY = re.compile(r"^(?P<platform>[a-z][a-z0-9_-]*)\.(?P<scope>[a-z][a-z0-9_-]*)=(?P<value>.+)$")
_FIGURES = re.compile(r"^(?P<count>\d+(?:\.\d+)?)/(?P<per>\d+(?:\.\d+)?)(?::(?P<burst>\d+))?$")


def parse_rate_limits(text: str) -> dict[tuple[str, str], tuple[Limit, ...]]:
    """Read LASTMILE_RATE_LIMITS: `platform.scope=COUNT/SECONDS[:BURST]`, comma-separated.

    Several limits on one scope are joined with `+` (`teams.conversation=7/1+60/30`);
    `off` lifts a scope's limits. Example: `slack.workspace=600/60:30,slack.channel=1/1`.

    Raises:
        ValueError: naming the entry that cannot be read and the form it should take.
    """
    limits: dict[tuple[str, str], tuple[Limit, ...]] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        matched = _ENTRY.match(entry.replace(" ", ""))
        if matched is None:
            raise ValueError(
                f"rate limit {entry!r} is not platform.scope=COUNT/SECONDS "
                "(for example slack.workspace=600/60, or slack.channel=off)"
            )
        scope = matched["scope"]
        value = matched["value"]
        found: list[Limit] = []
        for figures in [] if value == "off" else value.split("+"):
            numbers = _FIGURES.match(figures)
            if numbers is None or float(numbers["count"]) <= 0 or float(numbers["per"]) <= 0:
                raise ValueError(
                    f"rate limit {entry!r}: {figures!r} is not COUNT/SECONDS[:BURST] "
                    "with numbers above zero (for example 600/60 or 600/60:30), nor off"
                )
            burst = float(numbers["burst"]) if numbers["burst"] else None
            found.append(Limit(scope, float(numbers["count"]), float(numbers["per"]), burst))
        limits[(matched["platform"], scope)] = tuple(found)
    return limits


def effective_limits(
    platform: str, limits: Sequence[Limit], config: RateLimits
) -> tuple[Limit, ...]:
    """The plugin's limits with the configured ones in place of theirs, scope by scope."""
    configured = {scope: extra for (name, scope), extra in config.items() if name == platform}
    if not configured:
        return tuple(limits)
    kept = [limit for limit in limits if limit.scope not in configured]
    for scope, extra in configured.items():
        plugin_own = [limit for limit in limits if limit.scope == scope]
        follows = any(limit.follows_retry_after for limit in plugin_own) or not plugin_own
        kept.extend(replace(limit, follows_retry_after=follows) for limit in extra)
    return tuple(kept)


@dataclass(frozen=True)
class Request:
    """One message's claim on its platform's limits: the limits and its value of each scope."""

    platform: str
    limits: Sequence[Limit]
    scopes: Mapping[str, str]


def bucket_key(platform: str, limit: Limit, value: str) -> str:
    """platform|scope|value|count/per:burst — other figures count in another bucket."""
    figures = f"{limit.count:g}/{limit.per:g}:{limit.capacity:g}"
    key = f"{platform}|{limit.scope}|{value}|{figures}"
    if len(key) > MAX_KEY:
        digest = hashlib.sha256(value.encode()).hexdigest()
        key = f"{platform}|{limit.scope}|#{digest}|{figures}"
    return key


class TokenBucket:
    """A bucket that refills at `count / per` tokens a second up to its burst size."""

    def __init__(self, limit: Limit, now: float) -> None:
        self.capacity = limit.capacity
        self.rate = limit.rate
        self.tokens = self.capacity
        self.stamp = now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + max(now - self.stamp, 0.0) * self.rate)
        self.stamp = max(now, self.stamp)

    def take(self, count: int, now: float) -> float:
        """Take `count` tokens, possibly on credit; the tokens left (negative: in debt)."""
        self._refill(now)
        self.tokens -= count
        return self.tokens

    def is_full(self, now: float) -> bool:
        """True when the bucket has refilled completely (it can be forgotten)."""
        self._refill(now)
        return self.tokens >= self.capacity


class RateLimiter:
    """Says, before each send, how long to wait until every limit of its platform allows it.

    This one keeps its buckets in memory, for one process (tests, a single SQLite
    process); `SharedRateLimiter` keeps them in the database for every replica.
    Reservations are taken on credit: each one's debt pushes the next one's wait
    further out, so waiting callers go in the order they reserved.
    """

    def __init__(
        self,
        config: RateLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config: RateLimits = config or {}
        self.clock = clock
        self.sleep = sleep
        self._buckets: dict[str, TokenBucket] = {}
        self._paused: dict[str, float] = {}

    def limits_for(self, platform: str, limits: Sequence[Limit]) -> tuple[Limit, ...]:
        """A platform's limits as configured here."""
        return effective_limits(platform, limits, self.config)

    async def reserve(self, requests: Sequence[Request]) -> list[float]:
        """Reserve one send for each request, in order, in one go.

        Returns:
            Seconds from now each must wait before its send.
        """
        now = self.clock()
        keyed = [self._keys(request) for request in requests]
        counts = Counter(key for keys in keyed for key, _ in keys)
        limits = {key: limit for keys in keyed for key, limit in keys}
        draws = [
            Draw(key, limits[key].capacity, limits[key].rate, count)
            for key, count in counts.items()
        ]
        balances = await self._draw(draws, now)
        for key, balance in balances.items():
            if balance.paused_until > now:
                self._paused[key] = max(self._paused.get(key, 0.0), balance.paused_until)
        seen: Counter[str] = Counter()
        waits = []
        for keys in keyed:
            wait = 0.0
            for key, limit in keys:
                # The i-th of n reservations on a bucket left with T tokens waits until
                # the bucket would have held i + 1 of them: (i + 1 - n - T) / rate.
                short = seen[key] + 1 - counts[key] - balances[key].tokens
                seen[key] += 1
                wait = max(wait, short / limit.rate, self._paused.get(key, 0.0) - now)
            waits.append(max(wait, 0.0))
        return waits

    async def acquire(
        self, platform: str, limits: Sequence[Limit], scopes: Mapping[str, str]
    ) -> float:
        """Wait until one message may be sent.

        Args:
            platform: whose limits these are.
            limits: the platform's limits.
            scopes: the message's value for each limit's scope (its channel, workspace…).

        Returns:
            How long it waited, in seconds.
        """
        [wait] = await self.reserve([Request(platform, limits, scopes)])
        if wait > 0:
            await self.sleep(wait)
        return wait

    def paused_for(self, request: Request) -> float:
        """Seconds left of a pause this process knows of on the request's scopes."""
        now = self.clock()
        until = max((self._paused.get(key, 0.0) for key, _ in self._keys(request)), default=0.0)
        return max(until - now, 0.0)

    async def pause(self, request: Request, seconds: float) -> None:
        """The platform asked for a pause (a 429's Retry-After): hold the request's scopes
        that follow it for `seconds` from now."""
        await self._hold(self.hold_here(request, seconds), self.clock() + seconds)

    def hold_here(self, request: Request, seconds: float) -> list[str]:
        """Hold the scopes in this process at once (`pause` tells the others); their keys."""
        until = self.clock() + seconds
        keys = [key for key, limit in self._keys(request) if limit.follows_retry_after]
        for key in keys:
            self._paused[key] = max(self._paused.get(key, 0.0), until)
        return keys

    async def look_for_pauses(self) -> None:
        """Learn the pauses other processes heard of (nothing to learn in memory)."""

    def _keys(self, request: Request) -> list[tuple[str, Limit]]:
        limits = self.limits_for(request.platform, request.limits)
        return [
            (bucket_key(request.platform, limit, request.scopes.get(limit.scope, "")), limit)
            for limit in limits
        ]

    async def _draw(self, draws: Sequence[Draw], now: float) -> dict[str, Balance]:
        """Take tokens from each bucket; the balances left."""
        balances = {}
        for draw in draws:
            bucket = self._buckets.get(draw.key)
            if bucket is None:
                limit = Limit("", draw.rate, 1.0, draw.capacity)
                bucket = self._buckets[draw.key] = TokenBucket(limit, now)
            balances[draw.key] = Balance(bucket.take(draw.count, now), 0.0)
        if len(self._buckets) > MAX_BUCKETS:
            self._forget_idle(now)
        return balances

    async def _hold(self, keys: Sequence[str], until: float) -> None:
        """Make a pause known beyond this process (nothing to do in memory)."""

    def _forget_idle(self, now: float) -> None:
        for key in [key for key, bucket in self._buckets.items() if bucket.is_full(now)]:
            del self._buckets[key]
        for key in [key for key, until in self._paused.items() if until <= now]:
            del self._paused[key]
