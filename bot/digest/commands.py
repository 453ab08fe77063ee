"""The digest, trends and update commands, with who may see what."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import LastmileConfig
from bot.digest.anonymity import effective_k
from bot.digest.build import (
    Scope,
    build_digest,
    build_trends,
    programme_cohorts,
    programme_zone,
)
from bot.digest.groups import safe_parts
from bot.digest.report import digest_report, trends_report
from bot.digest.themes import normalise_slug
from bot.digest.updates import current_themes, post_update, resolve_theme
from bot.digest.weeks import IsoWeek, last_complete_week
from bot.replies import Reply, Text
from bot.reports.links import ReportScope, with_report_link
from bot.turn import Turn
from bot.wording import require

if TYPE_CHECKING:
    from bot.runtime import Runtime

require(
    "commands.not_allowed",
    "digest.usage",
    "digest.not_your_team",
    "digest.future_week",
    "trends.usage",
    "trends.not_allowed",
    "updates.usage",
    "updates.not_allowed",
    "updates.unknown_theme",
    "updates.none",
    "updates.ambiguous",
    "updates.posted",
    "updates.posted_some",
)

DEFAULT_TREND_WEEKS = 8
TREND_WEEKS = range(2, 13)


@dataclass(frozen=True)
class Access:
    """What a person may see: whole programmes (owners, admins) and single cohorts (leads)."""

    programmes: tuple[str, ...]
    cohorts: tuple[str, ...]

    @property
    def any(self) -> bool:
        """True when the person may see some digest."""
        return bool(self.programmes or self.cohorts)


def access_of(turn: Turn) -> Access:
    """Admins see every programme, owners theirs, leads only their own cohorts."""
    config = turn.config
    if turn.has_role("admin"):
        programmes = sorted(config.programmes)
    else:
        programmes = sorted(
            scope for role, scope in turn.roles if role == "owner" and scope in config.programmes
        )
    cohorts = {cid for programme in programmes for cid in programme_cohorts(config, programme)}
    cohorts |= {scope for role, scope in turn.roles if role == "lead" and scope in config.cohorts}
    return Access(tuple(programmes), tuple(sorted(cohorts)))


def _find_cohort(config: LastmileConfig, word: str) -> str | None:
    lowered = word.lower()
    for cohort_id, cohort in config.cohorts.items():
        if lowered in (cohort_id.lower(), (cohort.name or "").lower()):
            return cohort_id
    return None


def _find_programme(config: LastmileConfig, word: str) -> str | None:
    lowered = word.lower()
    return next((pid for pid in config.programmes if pid.lower() == lowered), None)


def scopes_for(config: LastmileConfig, access: Access, target: str) -> list[Scope] | None:
    """What `digest` or `report` with `target` (a team, a programme, or nothing) shows.

    Returns:
        The scopes, or None when the target is not one's own: the same answer for someone
        else's team and for no such team, so a refusal never confirms which teams exist.
    """
    if target:
        cohort = _find_cohort(config, target)
        programme = _find_programme(config, target)
        if cohort is not None and cohort in access.cohorts:
            return [Scope(config.cohorts[cohort].programme, cohort)]
        if programme is not None and programme in access.programmes:
            return [Scope(programme)]
        return None
    if access.programmes:
        return [Scope(programme) for programme in access.programmes]
    return [Scope(config.cohorts[c].programme, c) for c in access.cohorts]


async def digest_command(turn: Turn, args: str) -> list[Reply]:
    """`digest [cohort] [week]`: a week's digest for the teams or programmes one may see."""
    access = access_of(turn)
    if not access.any:
        return [Text(turn.w("commands.not_allowed"))]
    week: IsoWeek | None = None
    words: list[str] = []
    for token in args.split():
        parsed = IsoWeek.parse(token)
        if parsed is not None and week is not None:
            return [Text(turn.w("digest.usage"))]
        if parsed is not None:
            week = parsed
        else:
            words.append(token)
    scopes = scopes_for(turn.config, access, " ".join(words))
    if scopes is None:
        return [Text(turn.w("digest.not_your_team", teams=", ".join(access.cohorts)))]
    replies: list[Reply] = []
    for scope in scopes:
        zone = programme_zone(turn.config, scope.programme_id)
        this_week = IsoWeek.containing(turn.now, zone)
        chosen = week or last_complete_week(turn.now, zone)
        if chosen > this_week:
            example = f"{scope.cohort_id or scope.programme_id} {this_week.shifted(-1)}"
            return [Text(turn.w("digest.future_week", week=str(chosen), example=example))]
        digest = await build_digest(turn.session, turn.config, scope, chosen, turn.now)
        # Drawing the chart is CPU work (and imports matplotlib the first time): a thread.
        drawn = await asyncio.to_thread(digest_report, digest, turn.w)
        report = await with_report_link(
            drawn,
            turn.links,
            ReportScope(scope.programme_id, scope.cohort_id),
            turn.w,
            turn.session,
        )
        replies.append(report)
    return replies


async def trends_command(turn: Turn, args: str) -> list[Reply]:
    """`trends [weeks]`: how the rates moved, overall and per team (owners and admins)."""
    access = access_of(turn)
    if not access.programmes:
        key = "trends.not_allowed" if access.cohorts else "commands.not_allowed"
        return [Text(turn.w(key))]
    weeks = DEFAULT_TREND_WEEKS
    programmes = list(access.programmes)
    for token in args.split():
        if token.isdigit() and int(token) in TREND_WEEKS:
            weeks = int(token)
        elif (found := _find_programme(turn.config, token)) in access.programmes:
            assert found is not None
            programmes = [found]
        else:
            return [Text(turn.w("trends.usage"))]
    replies: list[Reply] = []
    for programme in programmes:
        # Complete weeks only: the week under way is no result yet.
        last = last_complete_week(turn.now, programme_zone(turn.config, programme))
        trends = await build_trends(turn.session, turn.config, programme, last, weeks)
        replies.append(await asyncio.to_thread(trends_report, trends, turn.w))
    return replies


async def _theme_list(turn: Turn, programmes: list[str]) -> str:
    slugs: list[str] = []
    for programme in programmes:
        found = await current_themes(turn.session, turn.config, programme, turn.now, turn.w)
        for _window, themes in found:
            slugs.extend(theme.slug for theme in themes if theme.slug not in slugs)
    return ", ".join(slugs) or turn.w("updates.none")


async def update_command(turn: Turn, args: str) -> list[Reply]:
    """`update THEME MESSAGE`: tell the people who raised a theme what was done (owners)."""
    access = access_of(turn)
    if not access.programmes:
        key = "updates.not_allowed" if access.cohorts else "commands.not_allowed"
        return [Text(turn.w(key))]
    token, _, message = args.strip().partition(" ")
    message = message.strip()
    programmes = list(access.programmes)
    named, separator, rest = token.partition(":")
    if separator and _find_programme(turn.config, named) in access.programmes:
        programmes = [str(_find_programme(turn.config, named))]
        token = rest
    slug = normalise_slug(token)
    if not slug or not message:
        return [Text(turn.w("updates.usage", themes=await _theme_list(turn, programmes)))]
    matches = [
        found
        for programme in programmes
        if (
            found := await resolve_theme(
                turn.session, turn.config, programme, slug, turn.now, turn.w
            )
        )
    ]
    if not matches:
        themes = await _theme_list(turn, programmes)
        return [Text(turn.w("updates.unknown_theme", theme=slug, themes=themes))]
    if len(matches) > 1:
        names = ", ".join(match.programme_id for match in matches)
        return [Text(turn.w("updates.ambiguous", theme=slug, programmes=names))]
    notified = await post_update(
        turn.session, turn.config, turn.w, matches[0], message[:2000], turn.person_id, turn.now
    )
    # The theme's people minus those told is how many stopped or cannot be reached:
    # the number is given only when neither it nor the difference singles out < k.
    k = effective_k(turn.config.settings.anonymity_k)
    if safe_parts(len(matches[0].person_ids), {"told": notified}, k):
        return [Text(turn.w("updates.posted", people=notified, theme=slug))]
    return [Text(turn.w("updates.posted_some", theme=slug))]


def install(runtime: Runtime) -> None:
    """Register the digest, trends and update commands with the engine."""
    runtime.engine.add_command("digest", digest_command)
    runtime.engine.add_command("trends", trends_command)
    runtime.engine.add_command("update", update_command)
