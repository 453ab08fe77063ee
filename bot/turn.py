"""One inbound event being handled: the person, their session, wording and clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LastmileConfig, zone_named
from bot.wording import Wording
from storage.models import Person

if TYPE_CHECKING:
    from bot.reports.links import ReportLinks


@dataclass
class Turn:
    """Everything a handler needs to answer one event, in one transaction."""

    session: AsyncSession
    person: Person
    now: datetime
    w: Wording
    config: LastmileConfig
    roles: frozenset[tuple[str, str]]
    links: ReportLinks | None = None
    """Makes report links (None where no web server shows reports)."""
    forgotten: bool = False
    """Set once the person's data is erased in this turn: replies go to no stored person."""
    greeted: bool = False
    """The person said hello before lastmile ever told them what it is."""

    @property
    def person_id(self) -> int:
        """The person's id (always set once stored)."""
        assert self.person.id is not None
        return self.person.id

    @property
    def timezone(self) -> ZoneInfo:
        """The person's own time zone, else their cohort's, else UTC."""
        return person_timezone(self.person, self.config)

    def has_role(self, role: str, scope: str | None = None) -> bool:
        """True when the person holds `role` (for `scope`, if given)."""
        return any(r == role and (scope is None or s == scope) for r, s in self.roles)


def person_timezone(person: Person, config: LastmileConfig) -> ZoneInfo:
    """A person's time zone: the platform's, else the cohort's, else UTC."""
    fallback = "UTC"
    if person.cohort_id and person.cohort_id in config.cohorts:
        fallback = config.cohort_timezone(person.cohort_id)
    return zone_named(person.timezone, fallback)
