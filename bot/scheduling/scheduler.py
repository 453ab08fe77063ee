"""The APScheduler jobs of one `serve` process; the database decides who sends what."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.inbox import purge_handled_events
from bot.retention import daily_retention
from bot.runtime import Runtime
from bot.safe_logs import failure
from bot.scheduling.checkins import expire_checkins, queue_due_checkins, send_reminders
from bot.scheduling.digests import queue_due_digests
from bot.stopping import finish_or_cancel
from bot.themes.jobs import place_new_texts

logger = logging.getLogger(__name__)

Tick = Callable[[Runtime, datetime], Awaitable[int]]

CHECKIN_TICKS: dict[str, Tick] = {
    "checkins": queue_due_checkins,
    "reminders": send_reminders,
    "expiry": expire_checkins,
    "inbox": purge_handled_events,
}


def ticks() -> dict[str, Tick]:
    """Every minute job: check-ins, reminders, expiry, inbox upkeep, weekly digests, new texts,
    and the retention period (which does its work once a day)."""
    return {
        **CHECKIN_TICKS,
        "digests": partial(queue_due_digests, done=set()),
        "themes": place_new_texts,
        "retention": daily_retention(),
    }


class CheckinScheduler:
    """Runs the minute jobs on an in-memory AsyncIOScheduler.

    Each replica has its own scheduler (APScheduler's job stores are not meant to
    be shared between processes); every job is safe to run on all of them at
    once because the database's unique keys and conditional updates let each
    action through once.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        every: timedelta = timedelta(minutes=1),
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.every = every
        self.on_queued = on_queued
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.runs: Counter[str] = Counter()
        """How many times each job has run in this process (finished or failed)."""
        self._ran = asyncio.Event()
        self._running: set[asyncio.Task[object]] = set()

    def start(self) -> None:
        """Add the jobs (the first run at once, to catch up after a restart) and start."""
        first = datetime.now(UTC)
        for name, tick in ticks().items():
            self.scheduler.add_job(
                self._run,
                IntervalTrigger(seconds=self.every.total_seconds(), timezone=UTC),
                args=(name, tick),
                id=name,
                name=name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=int(self.every.total_seconds()),
                next_run_time=first,
            )
        # APScheduler logs every run at INFO (eight lines a minute); this module logs what
        # the jobs did and every failure, so keep only its warnings.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        self.scheduler.start()
        logger.info("scheduler started: %s", ", ".join(self.job_names()))

    def job_names(self) -> list[str]:
        """The ids of the scheduled jobs."""
        return [job.id for job in self.scheduler.get_jobs()]

    async def stop(self, grace: float = 10.0) -> None:
        """Stop firing jobs; a job in progress may finish for up to `grace` seconds, then is
        cancelled, and stop returns once it has rolled back (so the database can close)."""
        if self.scheduler.running:
            # APScheduler's shutdown cancels running jobs without waiting for them; a job
            # cancelled mid-statement must still hand back its connection before the
            # engine closes, or closing the process hangs.
            self.scheduler.pause()
            await finish_or_cancel(set(self._running), grace)
            self.scheduler.shutdown(wait=False)
            # AsyncIOScheduler shuts down on the next turn of the event loop.
            await asyncio.sleep(0)

    async def wait_for_runs(self, count: int = 1) -> None:
        """Return once every job has run at least `count` times."""
        while any(self.runs[name] < count for name in self.job_names()):
            self._ran.clear()
            await self._ran.wait()

    async def _run(self, name: str, tick: Tick) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        now = self.runtime.clock()
        try:
            queued = await tick(self.runtime, now)
        except Exception as error:
            logger.error(
                "scheduled job %s failed; it runs again next minute: %s", name, failure(error)
            )
            queued = 0
        finally:
            self.runs[name] += 1
            self._ran.set()
        if queued:
            logger.info("scheduled job %s queued %d message(s)", name, queued)
            if self.on_queued is not None:
                self.on_queued()
