"""SQLite's writer taken in turns: arrivals to acknowledge go first, nobody is lost."""

from __future__ import annotations

import asyncio

import pytest

from storage.turns import TurnLock


async def _take(lock: TurnLock, name: str, order: list[str], urgent: bool = False) -> None:
    async with lock.held(urgent=urgent):
        order.append(name)
        await asyncio.sleep(0)


async def test_an_urgent_waiter_goes_before_those_already_waiting() -> None:
    lock, order = TurnLock(), []
    async with lock.held():
        waiting = [asyncio.create_task(_take(lock, f"worker {n}", order)) for n in range(3)]
        await asyncio.sleep(0)
        arrival = asyncio.create_task(_take(lock, "arrival", order, urgent=True))
        await asyncio.sleep(0)
        order.append("first holder")
    await asyncio.gather(*waiting, arrival)
    assert order == ["first holder", "arrival", "worker 0", "worker 1", "worker 2"]


async def test_the_holder_may_take_it_again_inside() -> None:
    lock = TurnLock()
    async with lock.held(), lock.held(urgent=True), lock.held():
        pass
    async with asyncio.timeout(1):
        async with lock.held():  # released: free for the next
            pass


async def test_a_cancelled_waiter_passes_its_turn_on() -> None:
    lock, order = TurnLock(), []
    async with lock.held():
        cancelled = asyncio.create_task(_take(lock, "cancelled", order))
        after = asyncio.create_task(_take(lock, "after", order))
        await asyncio.sleep(0)
        cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    async with asyncio.timeout(1):
        await after
    assert order == ["after"]


async def test_a_waiter_cancelled_just_as_its_turn_came_hands_it_on() -> None:
    lock, order = TurnLock(), []
    async with lock.held():
        first = asyncio.create_task(_take(lock, "first", order))
        second = asyncio.create_task(_take(lock, "second", order))
        await asyncio.sleep(0)
    # The first was handed the lock on release; cancelled before it ran, it passes it on.
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    async with asyncio.timeout(1):
        await second
    assert order == ["second"]
