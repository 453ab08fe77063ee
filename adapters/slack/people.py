"""Who a Slack user is: name, e-mail and time zone from users.info, cached per user."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.inbound import bare_actor
from bot.events import Actor

logger = logging.getLogger(__name__)

PROFILE_TTL_SECONDS = 3600.0
# An interaction must not wait long on a profile: the answer matters more than the name.
LOOKUP_TIMEOUT_SECONDS = 2.0


class SlackProfiles:
    """Builds actors from users.info and keeps them for an hour."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl: float = PROFILE_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, Actor]] = {}

    async def actor(self, user_id: str, team_id: str) -> Actor:
        """The person with their display name, e-mail and time zone when Slack gives them.

        The engine stores what the actor carries (the time zone decides when check-ins
        are sent); when users.info fails, the bare identity is used and the lookup is
        tried again next time.
        """
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > self._monotonic():
            return replace(cached[1], workspace_id=team_id or cached[1].workspace_id)
        bare = bare_actor(user_id, team_id)
        try:
            response = await asyncio.wait_for(
                self._client.users_info(user=user_id), LOOKUP_TIMEOUT_SECONDS
            )
        except (SlackApiError, ClientError, TimeoutError) as error:
            logger.warning("users.info failed for %s: %s", user_id, error)
            return bare
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        actor = replace(
            bare,
            display_name=str(
                profile.get("display_name") or profile.get("real_name") or user.get("name") or ""
            ),
            email=str(profile.get("email") or ""),
            timezone=str(user.get("tz") or ""),
        )
        self._cache[user_id] = (self._monotonic() + self._ttl, actor)
        return actor
