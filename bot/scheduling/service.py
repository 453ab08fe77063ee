"""The background work of one `serve` process: inbox worker, scheduler and delivery loop."""

from __future__ import annotations

import logging

from bot.delivery_loop import DeliveryLoop
from bot.runtime import Runtime
from bot.scheduling.scheduler import CheckinScheduler

logger = logging.getLogger(__name__)


class BackgroundJobs:
    """Starts and stops the inbox worker, the scheduler and the delivery loop together.

    What the inbox worker and the scheduler queue wakes the delivery loop at once,
    instead of waiting for its next look at the outbox.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.delivery = DeliveryLoop(runtime)
        self.inbox = runtime.inbox.worker
        self.inbox.on_replies = self.delivery.wake
        self.scheduler = CheckinScheduler(runtime, on_queued=self.delivery.wake)

    async def start(self) -> None:
        """Start all three."""
        self.inbox.start()
        self.delivery.start()
        self.scheduler.start()

    async def stop(self) -> None:
        """Stop all three; what is unhandled or unsent waits in the database for the next start."""
        await self.scheduler.stop()
        await self.inbox.stop()
        await self.delivery.stop()

    async def on_startup(self, _app: object) -> None:
        """aiohttp start-up hook."""
        await self.start()

    async def on_cleanup(self, _app: object) -> None:
        """aiohttp clean-up hook."""
        await self.stop()
