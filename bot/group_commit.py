"""Group commit: writes that arrive while one transaction commits share the next one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")


class GroupCommit(Generic[Item]):
    """Collects items from concurrent callers and writes them in as few transactions as
    the database's commit time allows.

    A caller's `add` returns once its item is committed. The first item is written at
    once; those that arrive meanwhile wait only for that commit and then go together, so
    nothing waits for a batch to fill and the delivery loop's duplicate window (a send
    accepted but not yet recorded) stays about one commit long.
    """

    def __init__(self, write: Callable[[Sequence[Item]], Awaitable[None]]) -> None:
        self._write = write
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
            batch, self._pending = self._pending, []
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
