"""A background loop of passes: one at once when woken, else one every interval, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod

from bot.stopping import cancel_and_wait

logger = logging.getLogger(__name__)


class Passes(ABC):
    """Runs `one_pass` in the background: again at once while it finds work, at once when
    woken, else every `interval` seconds."""

    name = "lastmile-passes"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @abstractmethod
    async def one_pass(self) -> int:
        """Do one pass of work; how much it found (0: wait before the next)."""

    @abstractmethod
    async def on_stop(self) -> None:
        """Release what the passes hold (their leases), once they have stopped."""

    def wake(self) -> None:
        """Look for work now (something was just stored in this process)."""
        self._wake.set()

    def start(self) -> None:
        """Run passes in the background until `stop`."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=self.name)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop, letting the pass in progress finish for up to `grace` seconds.

        Work still in flight after that is abandoned; its lease runs out and this or
        another process picks it up (nothing of it was committed).
        """
        task, self._task = self._task, None
        if task is not None:
            self._stopping = True
            self._wake.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), grace)
            await cancel_and_wait(task)
            self._stopping = False
        await self.on_stop()

    async def run(self) -> None:
        """Passes until stopped."""
        while not self._stopping:
            self._wake.clear()
            try:
                found = await self.one_pass()
            except Exception as error:
                logger.warning(
                    "%s: pass failed (%s); trying again", self.name, type(error).__name__
                )
                found = 0
            if found or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
