"""Pure rules on whether a person may be asked at a moment: participation, quiet hours, caps."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import CohortConfig
from bot.participation import can_be_asked
from bot.scheduling.plan import quiet_reason
from storage.models import Person

CAPPED_KINDS = ("scheduled", "triggered", "day30")
"""Check-in kinds that count towards a person's weekly cap (the bot asked them)."""


def participation_reason(person: Person, at: datetime) -> str | None:
    """Why the person may not be asked at `at` (pause, stop, unreachable), or None."""
    if can_be_asked(person, at):
        return None
    if person.unreachable:
        return "unreachable"
    if person.cohort_id is None:
        return "not_enrolled"
    return person.status if person.status in ("paused", "stopped") else "not_active"


def skip_reason(
    person: Person,
    cohort: CohortConfig,
    zone: ZoneInfo,
    at: datetime,
    asked_this_week: int,
) -> str | None:
    """Why a check-in for the person at `at` must not go out, or None when it may.

    Args:
        person: who would be asked.
        cohort: their cohort (quiet hours, weekly cap).
        zone: their time zone (platform's, else the cohort's).
        at: when the check-in would reach them.
        asked_this_week: check-ins already sent or queued in their local ISO week of `at`.

    Returns:
        "unreachable", "not_enrolled", "paused", "stopped", "weekend",
        "quiet_hours" or "weekly_cap"; None when the check-in may go out.
    """
    return (
        participation_reason(person, at)
        or quiet_reason(cohort, zone, at)
        or ("weekly_cap" if asked_this_week >= cohort.max_per_week else None)
    )
