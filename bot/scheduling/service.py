"""The background work of one `serve` process: the scheduler and the outbox delivery loop."""

from __future__ import annotations

import logging

from bot.delivery_loop import DeliveryLoop
from bot.runtime import Runtime
from bot.scheduling.scheduler import CheckinScheduler

logger = logging.getLogger(__name__)


class BackgroundJobs:
    """Starts and stops the scheduler and the delivery loop together.

    What the scheduler queues wakes the delivery loop at once, instead of waiting
    for its next look at the outbox.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.delivery = DeliveryLoop(runtime)
        self.scheduler = CheckinScheduler(runtime, on_queued=self.delivery.wake)

    async def start(self) -> None:
        """Start both."""
        self.delivery.start()
        self.scheduler.start()

    async def stop(self) -> None:
        """Stop both; unsent messages stay in the outbox for the next start."""
        await self.scheduler.stop()
        await self.delivery.stop()

    async def on_startup(self, _app: object) -> None:
        """aiohttp start-up hook."""
        await self.start()

    async def on_cleanup(self, _app: object) -> None:
        """aiohttp clean-up hook."""
        await self.stop()
