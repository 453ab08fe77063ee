"""Who a Slack user is: name, e-mail, time zone and language from users.info, cached per user."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.inbound import bare_actor
from bot.events import Actor

logger = logging.getLogger(__name__)

PROFILE_TTL_SECONDS = 3600.0
FAILED_TTL_SECONDS = 60.0
"""A failed lookup is not tried again for this long (Slack may be rate limiting us)."""
LOOKUP_TIMEOUT_SECONDS = 2.0
"""An interaction must not wait long on a profile: the answer matters more than the name."""
BACKGROUND_LOOKUPS = 4


class SlackProfiles:
    """Builds actors from users.info and keeps them for an hour."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl: float = PROFILE_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        found: Callable[[Actor], Awaitable[None]] | None = None,
    ) -> None:
        self._client = client
        self._found = found
        self._ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, Actor | None]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(BACKGROUND_LOOKUPS)

    async def actor(self, user_id: str, team_id: str, *, wait: bool = True) -> Actor:
        """The person with their display name, e-mail and time zone when Slack gives them.

        A profile fetched in the background is handed to `found` (which stores it).

        Args:
            user_id: the Slack member id.
            team_id: the workspace the payload came from.
            wait: look the profile up now when it is not cached. Without waiting, the
                bare identity is used this time and the profile is fetched in the
                background for the person's next event: for people the config names
                by their Slack id, whose answer need not wait on users.info (which
                Slack rate-limits when a whole team answers at once).

        Returns:
            The actor; the bare identity when users.info fails (tried again later).
        """
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > self._monotonic():
            known = cached[1]
            if known is None:
                return bare_actor(user_id, team_id)
            return replace(known, workspace_id=team_id or known.workspace_id)
        if not wait:
            if user_id not in self._refreshing:
                task = asyncio.get_running_loop().create_task(self._refresh(user_id, team_id))
                self._refreshing[user_id] = task
                task.add_done_callback(lambda _done: self._refreshing.pop(user_id, None))
            return bare_actor(user_id, team_id)
        return await self._lookup(user_id, team_id)

    async def _refresh(self, user_id: str, team_id: str) -> None:
        async with self._slots:
            actor = await self._lookup(user_id, team_id)
        if self._found is not None and actor.timezone:
            try:
                await self._found(actor)
            except Exception as error:
                logger.warning("profile of %s not stored: %s", user_id, type(error).__name__)

    async def _lookup(self, user_id: str, team_id: str) -> Actor:
        bare = bare_actor(user_id, team_id)
        try:
            response = await asyncio.wait_for(
                self._client.users_info(user=user_id, include_locale=True),
                LOOKUP_TIMEOUT_SECONDS,
            )
        except (SlackApiError, ClientError, TimeoutError) as error:
            logger.warning("users.info failed for %s: %s", user_id, type(error).__name__)
            self._cache[user_id] = (self._monotonic() + FAILED_TTL_SECONDS, None)
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
            locale=str(user.get("locale") or ""),
        )
        self._cache[user_id] = (self._monotonic() + self._ttl, actor)
        return actor

    async def close(self) -> None:
        """Stop the lookups still running in the background."""
        for task in list(self._refreshing.values()):
            task.cancel()
        await asyncio.gather(*self._refreshing.values(), return_exceptions=True)
