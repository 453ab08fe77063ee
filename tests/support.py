"""Driving the background jobs by hand: handle the inbox and deliver the outbox until quiet."""

from __future__ import annotations

from typing import Any

from bot.delivery_loop import DeliveryLoop
from bot.ratelimit import RateLimiter
from bot.runtime import Runtime


class VirtualTime:
    """A monotonic clock and sleep for the rate limiter: sleeping moves the clock, instantly."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def delivery_loop(runtime: Runtime, **options: Any) -> DeliveryLoop:
    """The real delivery loop, with the platforms' rate limits on virtual time."""
    virtual = VirtualTime()
    options.setdefault("limiter", RateLimiter(clock=virtual, sleep=virtual.sleep))
    return DeliveryLoop(runtime, **options)


async def settle(runtime: Runtime, *, rounds: int = 50) -> None:
    """Handle what the inbox holds and send what the outbox holds until neither moves.

    The test's clock stands still, so messages due later (a retry, a hold) stay put.
    """
    loop = delivery_loop(runtime)
    for _ in range(rounds):
        handled = await runtime.inbox.worker.handle_due()
        delivered = await loop.deliver_due()
        if not handled and not delivered:
            return
    raise AssertionError(f"still busy after {rounds} rounds")
