"""Group commit: writes that arrive while one transaction commits share the next one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")

LINGER = 0.005
"""Seconds the first item waits for others: longer batches more, and widens the window."""


class GroupCommit(Generic[Item]):
    """Collects items from concurrent callers and writes them in as few transactions as
    the database's commit time allows.

    A caller's `add` returns once its item is committed. The first item waits `linger`
    seconds for company; those that arrive while a batch commits go with the next, so
    nothing waits for a batch to fill and the delivery loop's duplicate window (a send
    accepted but not yet recorded) stays a few milliseconds and one commit long.
    """

    def __init__(
        self, write: Callable[[Sequence[Item]], Awaitable[None]], linger: float = LINGER
    ) -> None:
        self._write = write
        self.linger = linger
        self.flushes = 0
        self.items = 0
        self._pending: list[tuple[Item, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def add(self, item: Item) -> None:
        """Write `item` with whatever else is waiting; raises what the write raised."""
        done = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush(), name="lastmile-group-commit")
        await done

    async def _flush(self) -> None:
        while self._pending:
            # Sends that finish within a few milliseconds of each other share a commit.
            await asyncio.sleep(self.linger)
            batch, self._pending = self._pending, []
            self.flushes += 1
            self.items += len(batch)
            try:
                await self._write([item for item, _ in batch])
            except Exception as error:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
