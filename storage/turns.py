"""Turns at SQLite's one writer within a process, with arrivals to acknowledge served first."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

_Waiter = tuple["asyncio.Future[None]", "asyncio.Task[object] | None"]


class TurnLock:
    """An asyncio lock its holder may take again (a session opened inside a session).

    SQLite lets one transaction write at a time and makes the others wait in its busy
    handler, which sleeps ever longer; within the process transactions take turns here
    instead and hand over at once. An urgent waiter (storing what a platform waits to
    hear is stored) is handed the lock before every other waiter, so an acknowledgement
    waits for at most the transaction in progress, not for a queue of the inbox
    worker's and the delivery loop's.
    """

    def __init__(self) -> None:
        self._locked = False
        self._owner: asyncio.Task[object] | None = None
        self._depth = 0
        self._urgent: deque[_Waiter] = deque()
        self._others: deque[_Waiter] = deque()

    @asynccontextmanager
    async def held(self, *, urgent: bool = False) -> AsyncIterator[None]:
        """Hold the lock for the block (at once when this task holds it already)."""
        task = asyncio.current_task()
        if self._locked and self._owner is task and task is not None:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        await self._acquire(task, urgent)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, task: asyncio.Task[object] | None, urgent: bool) -> None:
        if not self._locked:
            self._locked, self._owner, self._depth = True, task, 1
            return
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._others
        waiter = (handed, task)
        queue.append(waiter)
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self._release()  # handed over just as the waiter was cancelled: pass it on
            elif waiter in queue:
                queue.remove(waiter)
            raise

    def _release(self) -> None:
        for queue in (self._urgent, self._others):
            while queue:
                handed, task = queue.popleft()
                if not handed.done():
                    self._owner, self._depth = task, 1
                    handed.set_result(None)
                    return
        self._locked, self._owner, self._depth = False, None, 0
