"""The report pages: a signed link opens a programme's or a team's report, nothing else does.

Every page is built from the chat digest's own functions (`bot.reports.page`), drawn on
this machine (inline SVG) and served with no script, no outside request and no referrer,
so the link in the address bar goes nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from adapters.templates import page_templates
from bot.digest.model import RATE_NAMES, percent, rate_parts, rates
from bot.digest.report import change_line, scope_title
from bot.reports.charts import draw_charts
from bot.reports.export import to_csv, to_json
from bot.reports.links import ReportScope
from bot.reports.page import ReportPage, build_page, page_week
from bot.runtime import Runtime
from bot.wording import require

logger = logging.getLogger(__name__)

require(
    "reports.title",
    "reports.demo",
    "reports.week_of",
    "reports.choose_week",
    "reports.show",
    "reports.contents",
    "reports.this_week",
    "reports.trend",
    "reports.changes",
    "reports.teams",
    "reports.team",
    "reports.team_people",
    "reports.team_page",
    "reports.back",
    "reports.themes",
    "reports.theme_people",
    "reports.no_themes",
    "reports.family.written",
    "reports.family.workaround",
    "reports.family.override",
    "reports.family.not_used",
    "reports.day30",
    "reports.day30_none",
    "reports.timeline",
    "reports.timeline_none",
    "reports.release",
    "reports.update",
    "reports.downloads",
    "reports.download_csv",
    "reports.download_json",
    "reports.downloads_note",
    "reports.footer",
    "reports.forbidden_title",
    "reports.forbidden",
    "reports.no_week",
)

PREFIX = "/reports"
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Inline styles and inline SVG only: no script, no font, nothing from elsewhere.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


class ReportPages:
    """The handlers behind `/reports/…`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.templates = page_templates("reports")

    def _html(self, body: str, status: int = 200) -> web.Response:
        return web.Response(
            text=body,
            status=status,
            content_type="text/html",
            charset="utf-8",
            headers=_SECURITY_HEADERS,
        )

    def forbidden(self) -> web.Response:
        """The one answer for no link, a changed link, an expired link, another team."""
        w = self.runtime.wording
        body = self.templates.get_template("plain.html").render(
            w=w, title=w("reports.forbidden_title"), message=w("reports.forbidden")
        )
        return self._html(body, status=403)

    async def refuse(self, _request: web.Request) -> web.Response:
        """Anything under /reports that is not a valid link's page."""
        return self.forbidden()

    async def _scope(self, request: web.Request) -> tuple[ReportScope, ReportScope] | None:
        """(the link's scope, the page's scope), or None when the link may not open it."""
        links = self.runtime.links
        scope = await links.read(request.match_info["token"], self.runtime.config)
        if scope is None:
            return None
        team = request.match_info.get("cohort")
        if team is None:
            return scope, scope
        if not scope.may_see_team(self.runtime.config, team):
            return None
        return scope, ReportScope(scope.programme_id, team)

    async def _page(self, request: web.Request) -> tuple[ReportScope, ReportPage] | web.Response:
        scopes = await self._scope(request)
        if scopes is None:
            logger.info("report link refused", extra={"path_kind": request.match_info.route.name})
            return self.forbidden()
        link, scope = scopes
        runtime = self.runtime
        now = runtime.clock()
        week = page_week(runtime.config, scope.programme_id, now, request.query.get("week", ""))
        if week is None:
            w = runtime.wording
            body = self.templates.get_template("plain.html").render(
                w=w, title=w("reports.no_week"), message=w("reports.no_week")
            )
            return self._html(body, status=404)
        async with runtime.db.session() as session:
            page = await build_page(session, runtime.config, runtime.wording, scope, week, now)
        return link, page

    async def page(self, request: web.Request) -> web.Response:
        """A report page."""
        built = await self._page(request)
        if isinstance(built, web.Response):
            return built
        link, page = built
        w = self.runtime.wording
        title = w("digest.chart_title", scope=scope_title(page.digest, w))
        charts = await asyncio.to_thread(draw_charts, page, w, title)
        token = request.match_info["token"]
        base = f"{PREFIX}/{token}"
        here = (
            base
            if page.scope.cohort_id is None or link.cohort_id
            else (f"{base}/team/{page.scope.cohort_id}")
        )
        body = self.templates.get_template("report.html").render(
            w=w,
            page=page,
            digest=page.digest,
            charts=charts,
            scope=scope_title(page.digest, w),
            here=here,
            base=base,
            programme_link=link.cohort_id is None,
            week_facts=_week_facts(page),
            changes=[change_line(c, page.digest.k, w) for c in page.digest.changes]
            if page.digest.counts is not None
            else [],
            team_rows=_team_rows(page, w),
            percent=percent,
        )
        return self._html(body)

    async def csv(self, request: web.Request) -> web.Response:
        """The page's figures as CSV."""
        built = await self._page(request)
        if isinstance(built, web.Response):
            return built
        _link, page = built
        return self._download(to_csv(page, self.runtime.wording), page, "csv", "text/csv")

    async def json(self, request: web.Request) -> web.Response:
        """The page's figures as JSON."""
        built = await self._page(request)
        if isinstance(built, web.Response):
            return built
        _link, page = built
        return self._download(to_json(page, self.runtime.wording), page, "json", "application/json")

    def _download(self, text: str, page: ReportPage, extension: str, kind: str) -> web.Response:
        scope = page.scope.cohort_id or page.scope.programme_id
        name = f"lastmile-{scope}-{page.digest.week}.{extension}"
        headers = {**_SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
        return web.Response(text=text, content_type=kind, charset="utf-8", headers=headers)


def _week_facts(page: ReportPage) -> list[dict[str, Any]]:
    counts, previous = page.digest.counts, page.digest.previous
    if counts is None:
        return []
    now, before = rates(counts), rates(previous) if previous is not None else {}
    facts = []
    for name in RATE_NAMES:
        part, whole = rate_parts(counts)[name]
        change = None
        if now[name] is not None and before.get(name) is not None:
            change = round((now[name] or 0) * 100) - round((before[name] or 0) * 100)
        facts.append(
            {
                "name": name,
                "value": percent(now[name]),
                "part": part,
                "whole": whole,
                "change": change,
            }
        )
    return facts


def _team_rows(page: ReportPage, w: Any) -> list[dict[str, Any]]:
    rows = []
    for row in page.digest.cohorts:
        values = rates(row.counts)
        rows.append(
            {
                "id": row.cohort_id,
                "name": row.name if row.cohort_id is not None else w("digest.other_teams"),
                "people": row.counts.respondents,
                "rates": {name: percent(values[name]) for name in RATE_NAMES},
            }
        )
    return rows


def mount_reports(app: web.Application, runtime: Runtime) -> None:
    """Add `/reports/<link>` (and its team pages and downloads) to the app; every other
    path under /reports answers 403."""
    pages = ReportPages(runtime)
    router = app.router
    router.add_get(PREFIX + "/{token}", pages.page, name="report")
    router.add_get(PREFIX + "/{token}/report.csv", pages.csv, name="report_csv")
    router.add_get(PREFIX + "/{token}/report.json", pages.json, name="report_json")
    router.add_get(PREFIX + "/{token}/team/{cohort}", pages.page, name="team")
    router.add_get(PREFIX + "/{token}/team/{cohort}/report.csv", pages.csv, name="team_csv")
    router.add_get(PREFIX + "/{token}/team/{cohort}/report.json", pages.json, name="team_json")
    router.add_route("*", PREFIX, pages.refuse)
    router.add_route("*", PREFIX + "/{tail:.*}", pages.refuse)
