"""The weekly digest job: on each programme's digest schedule, queue its digest."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import Slot
from bot.digest.weekly import queue_weekly_digest
from bot.runtime import Runtime
from bot.scheduling.plan import due_slots

logger = logging.getLogger(__name__)

QueueDigest = Callable[[Runtime, str, datetime], Awaitable[bool]]


async def queue_due_digests(
    runtime: Runtime,
    now: datetime,
    *,
    queue: QueueDigest = queue_weekly_digest,
    done: set[str] | None = None,
) -> int:
    """Ask for each programme's weekly digest when its schedule comes round.

    The digest is asked for with the scheduled moment, not the tick's, so every
    call for the same week (a later tick, another replica) is the same request and
    the digest feature's dedupe key lets one through.

    Args:
        runtime: the runtime.
        now: the current instant.
        queue: what queues one programme's digest (`queue_weekly_digest`).
        done: slot keys this process already handled, so it asks once per week.

    Returns:
        How many digests this call queued.
    """
    asked = 0
    for programme_id, programme in runtime.config.programmes.items():
        slot = Slot.parse(programme.digest_schedule)
        for due in due_slots([slot], ZoneInfo(programme.timezone), now):
            key = f"{programme_id} {due.key}"
            if done is not None and key in done:
                continue
            if await queue(runtime, programme_id, due.at):
                asked += 1
            if done is not None:
                done.add(key)
    return asked
