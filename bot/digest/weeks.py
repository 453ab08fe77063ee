"""ISO weeks in a programme's time zone, turned into UTC ranges for the queries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.reports import Window

_LABEL = re.compile(r"^(\d{4})-?W(\d{2})$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO 8601 week such as 2026-W47 (Monday to Sunday)."""

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek | None:
        """Read "2026-W47" (or "2026W47"); None when it is not a real ISO week."""
        match = _LABEL.match(text.strip())
        if not match:
            return None
        try:
            date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError:
            return None
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def containing(cls, moment: datetime, zone: ZoneInfo) -> IsoWeek:
        """The week that `moment` falls in, read in `zone`."""
        year, week, _day = moment.astimezone(zone).isocalendar()
        return cls(year, week)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        """The week's first day."""
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        """The week's last day."""
        return self.monday + timedelta(days=6)

    def shifted(self, weeks: int) -> IsoWeek:
        """The week `weeks` later (negative: earlier)."""
        year, week, _day = (self.monday + timedelta(weeks=weeks)).isocalendar()
        return IsoWeek(year, week)

    def window(self, zone: ZoneInfo) -> Window:
        """Local Monday 00:00 to the next Monday 00:00, in UTC (DST-correct)."""
        return Window(
            _midnight(self.monday, zone), _midnight(self.monday + timedelta(weeks=1), zone)
        )


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)


def last_complete_week(now: datetime, zone: ZoneInfo) -> IsoWeek:
    """The most recent week that has ended by `now` in `zone`."""
    return IsoWeek.containing(now, zone).shifted(-1)


def weeks_ending(last: IsoWeek, count: int) -> list[IsoWeek]:
    """`count` consecutive weeks, oldest first, ending with `last`."""
    return [last.shifted(offset) for offset in range(1 - count, 1)]
