"""Signed, expiring report links: who may open which report, with nothing on a guessable URL.

A link carries its scope (a programme, or one team of it) and the moment it expires,
signed with the instance's key (LASTMILE_SECRET_KEY, else a random key kept in the
database). Changing any character breaks the signature; a new key retires every link.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LastmileConfig, Settings
from bot.engine import Clock
from bot.replies import Report
from bot.wording import Wording, require
from storage.db import Database
from storage.instance import instance

require("reports.link_footer")

DEFAULT_DAYS = 7
MAX_DAYS = 90
_SALT = "lastmile.report-link"


@dataclass(frozen=True)
class ReportScope:
    """What a link opens: a programme's report, or one team's (what its lead may see)."""

    programme_id: str
    cohort_id: str | None = None

    def may_see_team(self, config: LastmileConfig, cohort_id: str) -> bool:
        """True when this link may open the team's page: its own team, or any team of
        its programme for a programme link."""
        cohort = config.cohorts.get(cohort_id)
        if cohort is None or cohort.programme != self.programme_id:
            return False
        return self.cohort_id is None or self.cohort_id == cohort_id


@dataclass(frozen=True)
class ReportLink:
    """A link as sent to a person."""

    url: str
    token: str
    expires_at: datetime


class ReportLinks:
    """Makes and reads report links for one lastmile (every replica makes the same)."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.base_url = settings.public_url
        self.clock = clock
        self._key: str | None = settings.lastmile_secret_key or None

    async def key(self, session: AsyncSession | None = None) -> str:
        """The signing key: LASTMILE_SECRET_KEY, else the database's own (read once)."""
        if self._key is None:
            if session is not None:
                self._key = (await instance(session, self.clock())).secret
            else:
                async with self.db.session() as own:
                    self._key = (await instance(own, self.clock())).secret
        return self._key

    async def link(
        self,
        scope: ReportScope,
        days: int = DEFAULT_DAYS,
        session: AsyncSession | None = None,
    ) -> ReportLink:
        """A link to the scope's report that works for `days` days from now."""
        days = max(1, min(days, MAX_DAYS))
        expires = (self.clock() + timedelta(days=days)).replace(microsecond=0)
        payload = {
            "p": scope.programme_id,
            "c": scope.cohort_id or "",
            "x": int(expires.timestamp()),
        }
        token = str(URLSafeSerializer(await self.key(session), salt=_SALT).dumps(payload))
        return ReportLink(f"{self.base_url}/reports/{token}", token, expires)

    async def read(self, token: str, config: LastmileConfig) -> ReportScope | None:
        """The scope a link opens, or None: a bad signature, expired, or a scope the
        config no longer has."""
        try:
            payload: Any = URLSafeSerializer(await self.key(), salt=_SALT).loads(token)
        except BadSignature:
            return None
        if not isinstance(payload, dict):
            return None
        programme, cohort, expires = payload.get("p"), payload.get("c"), payload.get("x")
        if not isinstance(programme, str) or not isinstance(cohort, str):
            return None
        if not isinstance(expires, int) or expires <= self.clock().timestamp():
            return None
        if programme not in config.programmes:
            return None
        scope = ReportScope(programme, cohort or None)
        if scope.cohort_id is not None and not scope.may_see_team(config, scope.cohort_id):
            return None
        return scope

    async def pseudonym(self, person_id: int) -> str:
        """A stable id for a person in exports that names nobody (the same in every export
        made with this key)."""
        digest = hmac.new(
            (await self.key()).encode(), f"person:{person_id}".encode(), hashlib.sha256
        )
        return f"p-{digest.hexdigest()[:12]}"


def expiry_text(moment: datetime) -> str:
    """When a link expires, as people read it (UTC)."""
    return moment.astimezone(UTC).strftime("%a %d %b %Y %H:%M UTC")


async def with_report_link(
    report: Report,
    links: ReportLinks | None,
    scope: ReportScope,
    w: Wording,
    session: AsyncSession,
) -> Report:
    """The digest with a link to its full report at its foot (unchanged without links)."""
    if links is None:
        return report
    link = await links.link(scope, session=session)
    line = w("reports.link_footer", url=link.url, days=DEFAULT_DAYS)
    return replace(report, footer=f"{report.footer}\n{line}" if report.footer else line)
