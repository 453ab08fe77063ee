"""Which Slack workspaces lastmile serves: the bot token's own (and its Grid org), and the config's.

A Slack app can be installed in other workspaces, and Slack signs their requests
with the same secret; the signature says a request came from Slack, not that it came
from this organisation. So every request's workspace (and Enterprise Grid org) is
checked against the bot token's, learned from `auth.test` at start-up, and those
listed in `[settings] slack_workspaces`, before anything is stored or answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Origin:
    """The workspaces and Grid orgs a request names (the workspace it came from, the
    acting person's, the installation's)."""

    teams: frozenset[str]
    enterprises: frozenset[str]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def origin_of(body: Mapping[str, Any]) -> Origin:
    """Every workspace and Enterprise Grid org id a Slack payload names.

    Events carry `team_id`, `enterprise_id` and the event's `team`/`user_team`;
    interactivity carries `team`, `user.team_id`, `enterprise` and the view's team;
    slash commands carry `team_id` and `enterprise_id`.
    """
    teams: set[str] = set()
    enterprises: set[str] = set()
    team = body.get("team")
    if isinstance(team, Mapping):
        teams.add(_text(team.get("id")))
        enterprises.add(_text(team.get("enterprise_id")))
    else:
        teams.add(_text(team))
    teams.add(_text(body.get("team_id")))
    teams.add(_text(body.get("context_team_id")))
    enterprises.add(_text(body.get("enterprise_id")))
    enterprises.add(_text(body.get("context_enterprise_id")))
    enterprise = body.get("enterprise")
    if isinstance(enterprise, Mapping):
        enterprises.add(_text(enterprise.get("id")))
    for part in ("user", "event", "view"):
        inner = body.get(part)
        if isinstance(inner, Mapping):
            for key in ("team_id", "team", "user_team", "source_team", "app_installed_team_id"):
                teams.add(_text(inner.get(key)))
    for authorization in body.get("authorizations") or ():
        if isinstance(authorization, Mapping):
            teams.add(_text(authorization.get("team_id")))
            enterprises.add(_text(authorization.get("enterprise_id")))
    return Origin(frozenset(teams - {""}), frozenset(enterprises - {""}))


class WorkspaceGate:
    """Admits requests from the bot token's workspace (or Grid org) and the configured ones."""

    def __init__(self, client: AsyncWebClient, configured: Iterable[str]) -> None:
        self.client = client
        listed = {item.strip() for item in configured if item.strip()}
        # Grid org ids start with E, workspace ids with T; the config may list either.
        self.configured_enterprises = frozenset(i for i in listed if i.startswith("E"))
        self.configured_teams = frozenset(listed - self.configured_enterprises)
        self.own_teams: frozenset[str] = frozenset()
        self.own_enterprises: frozenset[str] = frozenset()
        self.learned = False
        self._lock = asyncio.Lock()

    @property
    def teams(self) -> frozenset[str]:
        """Every workspace id served."""
        return self.own_teams | self.configured_teams

    @property
    def enterprises(self) -> frozenset[str]:
        """Every Enterprise Grid org id served (all of its workspaces)."""
        return self.own_enterprises | self.configured_enterprises

    async def learn(self) -> bool:
        """Ask `auth.test` which workspace the bot token belongs to (once it has answered).

        Returns:
            True when the token's workspace is known.
        """
        if self.learned:
            return True
        async with self._lock:
            if self.learned:
                return True
            try:
                answer = await self.client.auth_test()
            except (TimeoutError, SlackApiError, ClientError, OSError) as error:
                logger.warning(
                    "Slack: auth.test failed (%s): requests are accepted only from "
                    "[settings] slack_workspaces until it answers",
                    type(error).__name__,
                )
                return False
            team, enterprise = _text(answer.get("team_id")), _text(answer.get("enterprise_id"))
            self.own_teams = frozenset({team} - {""})
            self.own_enterprises = frozenset({enterprise} - {""})
            self.learned = True
            logger.info(
                "Slack: serving workspace %s%s%s",
                team or "(none)",
                f" of Enterprise Grid org {enterprise}" if enterprise else "",
                f" and {', '.join(sorted(self.configured_teams | self.configured_enterprises))}"
                if self.configured_teams or self.configured_enterprises
                else "",
            )
            return True

    def admits(self, origin: Origin) -> bool:
        """True when the request comes from a workspace lastmile serves.

        Inside a served Grid org every workspace is served; otherwise every workspace
        the request names must be served, and it must name no other Grid org.
        """
        if not origin.teams and not origin.enterprises:
            return False
        if origin.enterprises and origin.enterprises <= self.enterprises:
            return True
        return bool(origin.teams) and origin.teams <= self.teams and not origin.enterprises

    async def check(self, body: Mapping[str, Any]) -> bool | None:
        """Whether to serve a request: True, False (refuse) or None (cannot tell yet).

        A request that the configured workspaces admit is served even before
        `auth.test` has answered; any other waits for it.
        """
        origin = origin_of(body)
        if self.admits(origin):
            return True
        if not self.learned and not await self.learn():
            return None
        if self.admits(origin):
            return True
        logger.warning(
            "Slack: refused a request from workspace %s%s: not one lastmile serves",
            ", ".join(sorted(origin.teams)) or "(none)",
            f" (Grid org {', '.join(sorted(origin.enterprises))})" if origin.enterprises else "",
        )
        return False
