"""Pure scheduling arithmetic: due slot moments, quiet hours and local weeks (no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import CohortConfig, Slot

WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
CATCH_UP = timedelta(minutes=10)
"""How late a slot may still be acted on: covers missed ticks and a quick restart,
but a replica down for longer skips the slot rather than asking at a stale moment."""


@dataclass(frozen=True)
class DueSlot:
    """One occurrence of a weekly slot in one time zone.

    `key` names the local moment ("2026-11-17T15:30 Europe/London") and is the
    check-in's slot, so every replica and every restart agrees on it; `at` is
    the same moment in UTC.
    """

    key: str
    at: datetime


def slot_days(slot: Slot) -> frozenset[int]:
    """The weekdays (Monday = 0) a slot such as `tue,thu` or `mon-fri` covers."""
    days: set[int] = set()
    for part in slot.days.split(","):
        first, _, last = part.partition("-")
        start = WEEKDAYS[first]
        end = WEEKDAYS[last] if last else start
        span = (end - start) % 7
        days.update((start + offset) % 7 for offset in range(span + 1))
    return frozenset(days)


def local_moment(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time.

    A wall time skipped by a DST change maps forward by the gap; one that occurs
    twice maps to its first occurrence (fold=0), so a slot fires once either way.
    """
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def due_slots(
    slots: Iterable[Slot], zone: ZoneInfo, now: datetime, window: timedelta = CATCH_UP
) -> list[DueSlot]:
    """The slot moments in `zone` that fell in the last `window` up to `now`.

    Args:
        slots: a cohort's weekly slots (or a programme's digest schedule).
        zone: the person's time zone (their platform's, else the cohort's).
        now: the current instant (aware).
        window: how far back a slot still counts as due.

    Returns:
        The due moments, oldest first, each once.
    """
    start = now - window
    first_day = start.astimezone(zone).date()
    last_day = now.astimezone(zone).date()
    found: dict[str, DueSlot] = {}
    day = first_day
    while day <= last_day:
        for slot in slots:
            if day.weekday() not in slot_days(slot):
                continue
            at = local_moment(day, time(slot.hour, slot.minute), zone)
            if start < at <= now:
                key = f"{day.isoformat()}T{slot.hour:02d}:{slot.minute:02d} {zone.key}"
                found[key] = DueSlot(key, at)
        day += timedelta(days=1)
    return sorted(found.values(), key=lambda due: due.at)


def quiet_reason(cohort: CohortConfig, zone: ZoneInfo, at: datetime) -> str | None:
    """Why `at` is a moment nobody in the cohort is asked anything, or None.

    Returns:
        "off_shift" for a shift cohort outside its shift; else "weekend" or
        "quiet_hours" (read in the person's local time); None when they may be asked.
    """
    local = at.astimezone(zone)
    working = cohort.working
    if working is not None:
        return None if working.contains(local) else "off_shift"
    if cohort.quiet_weekends and local.weekday() >= 5:
        return "weekend"
    if cohort.quiet.contains(local.time()):
        return "quiet_hours"
    return None


def quiet_ends(cohort: CohortConfig, zone: ZoneInfo, at: datetime) -> datetime | None:
    """The first instant at or after `at` outside quiet hours and weekends (or in the shift).

    Returns:
        `at` itself when it is not quiet; None when the cohort is quiet all week.
    """
    if quiet_reason(cohort, zone, at) is None:
        return at
    today = at.astimezone(zone).date()
    working = cohort.working
    openings = (working.hours.start,) if working is not None else (time(0, 0), cohort.quiet.end)
    candidates = sorted(
        local_moment(today + timedelta(days=offset), moment, zone)
        for offset in range(9)
        for moment in openings
    )
    for candidate in candidates:
        if candidate > at and quiet_reason(cohort, zone, candidate) is None:
            return candidate
    return None


def local_week(zone: ZoneInfo, at: datetime) -> tuple[datetime, datetime]:
    """The ISO week (Monday 00:00 to the next Monday 00:00, local) holding `at`, in UTC."""
    local = at.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    return local_moment(monday, time(0, 0), zone), local_moment(
        monday + timedelta(days=7), time(0, 0), zone
    )
