"""The weekly digest job: on each programme's digest schedule, have the digest feature queue it."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Slot
from bot.runtime import Runtime
from bot.scheduling.plan import due_slots

logger = logging.getLogger(__name__)

QueueDigest = Callable[[Runtime, str, datetime], Awaitable[Any]]


def digest_queuer() -> QueueDigest | None:
    """`bot.digest.weekly.queue_weekly_digest`, when the digest feature is installed."""
    try:
        module = importlib.import_module("bot.digest.weekly")
    except ImportError:
        return None
    queue: QueueDigest | None = getattr(module, "queue_weekly_digest", None)
    return queue


async def queue_due_digests(
    runtime: Runtime,
    now: datetime,
    *,
    queue: QueueDigest,
    done: set[str] | None = None,
) -> int:
    """Ask for each programme's weekly digest when its schedule comes round.

    The digest is asked for with the scheduled moment, not the tick's, so every
    call for the same week (a later tick, another replica) is the same request and
    the digest feature's dedupe key lets one through.

    Args:
        runtime: the runtime.
        now: the current instant.
        queue: the digest feature's `queue_weekly_digest(runtime, programme_id, at)`.
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
