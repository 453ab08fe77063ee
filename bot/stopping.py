"""Stopping background tasks without leaving work half done or swallowing the stopper's cancel."""

from __future__ import annotations

import asyncio
from collections.abc import Collection


async def cancel_and_wait(task: asyncio.Task[object]) -> None:
    """Cancel `task` and wait until it has finished unwinding (rolled back, released).

    A task that ends on its own cancel is the expected outcome. When the caller is itself
    cancelled while it waits (a second Ctrl-C, the event loop closing), that cancel is
    passed on rather than swallowed, so the caller's own stop is not lost.
    """
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise


async def finish_or_cancel(tasks: Collection[asyncio.Task[object]], grace: float) -> None:
    """Let `tasks` finish for up to `grace` seconds, then cancel what is left and wait for it.

    Waiting matters: a task cancelled in the middle of a database call still has to roll
    back and hand its connection back before the engine is closed under it.
    """
    pending = [task for task in tasks if not task.done()]
    if not pending:
        return
    await asyncio.wait(pending, timeout=grace)
    for task in pending:
        if not task.done():
            await cancel_and_wait(task)
