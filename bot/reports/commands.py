"""The `report` command, and the report link at the foot of every digest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.digest.build import cohort_name
from bot.digest.commands import access_of, scopes_for
from bot.replies import Reply, Text
from bot.reports.links import ReportScope, expiry_text
from bot.turn import Turn
from bot.wording import require

if TYPE_CHECKING:
    from bot.runtime import Runtime

require(
    "reports.link",
    "reports.usage",
    "commands.not_allowed",
    "digest.not_your_team",
    "digest.scope_cohort",
)


def _scope_name(turn: Turn, scope: ReportScope) -> str:
    programme = turn.config.programmes[scope.programme_id].name
    if scope.cohort_id is None:
        return programme
    cohort = cohort_name(turn.config, scope.cohort_id)
    return turn.w("digest.scope_cohort", cohort=cohort, programme=programme)


async def report_command(turn: Turn, args: str) -> list[Reply]:
    """`report [team]`: a signed link to the report one may see (owners: a programme or any
    of its teams; leads: their own teams), working for a week."""
    access = access_of(turn)
    if not access.any:
        return [Text(turn.w("commands.not_allowed"))]
    if turn.links is None:
        return [Text(turn.w("reports.usage"))]
    found = scopes_for(turn.config, access, args.strip())
    if found is None:
        return [Text(turn.w("digest.not_your_team", teams=", ".join(access.cohorts)))]
    scopes = [ReportScope(scope.programme_id, scope.cohort_id) for scope in found]
    replies: list[Reply] = []
    for scope in scopes:
        link = await turn.links.link(scope, session=turn.session)
        replies.append(
            Text(
                turn.w(
                    "reports.link",
                    scope=_scope_name(turn, scope),
                    url=link.url,
                    expires=expiry_text(link.expires_at),
                )
            )
        )
    return replies


def install(runtime: Runtime) -> None:
    """Register the `report` command with the engine."""
    runtime.engine.add_command("report", report_command)
