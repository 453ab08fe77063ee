"""Who is writing: the roster's e-mail for people the config names only by e-mail address."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ConversationReference
from msrest.exceptions import HttpOperationError

from adapters.teams.auth import warm_token
from adapters.teams.errors import status_of
from bot.platform import Inbound

logger = logging.getLogger(__name__)

PROFILE_TTL_SECONDS = 3600.0


class TeamsProfiles:
    """Adds the roster's e-mail and name to a person in a 1:1 chat, before the engine runs.

    Teams activities carry a user id, not an e-mail; the config may name people by
    e-mail. Someone it names by their Teams id needs no lookup; anyone else is looked
    up once an hour. A failed lookup raises, so the inbox tries the event again later
    rather than treating a pilot member as a stranger.
    """

    def __init__(
        self,
        adapter: CloudAdapter,
        app_id: str,
        named_by_id: Callable[[str], bool],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.adapter = adapter
        self.app_id = app_id
        self.named_by_id = named_by_id
        self.monotonic = monotonic
        self._cache: dict[str, tuple[float, str, str]] = {}

    async def enrich(self, inbound: Inbound) -> Inbound:
        """The event with its person's e-mail and name, when the config may need them.

        Raises:
            msrest.exceptions.HttpOperationError: or another connector failure, except a
                404 (the roster does not have them): the inbox retries the event.
        """
        event = inbound.event
        if event is None:
            return inbound
        actor = event.actor
        if self.named_by_id(actor.identity):
            return inbound
        email, name = await self._lookup(inbound, actor.user_id)
        actor = replace(actor, email=email, display_name=actor.display_name or name)
        return replace(inbound, event=replace(event, actor=actor))

    async def _lookup(self, inbound: Inbound, user_id: str) -> tuple[str, str]:
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > self.monotonic():
            return cached[1], cached[2]
        reference = ConversationReference().deserialize(inbound.context["reference"])
        found: list[object] = []

        async def logic(turn: TurnContext) -> None:
            await warm_token(turn)
            # A continuation carries no channel data: this is the person's 1:1 chat.
            turn.activity.channel_data = turn.activity.channel_data or {}
            found.append(await TeamsInfo.get_member(turn, user_id))

        try:
            await self.adapter.continue_conversation(reference, logic, self.app_id)
        except HttpOperationError as error:
            if status_of(error) != 404:
                raise  # the inbox tries the event again later
            found.clear()  # not in this chat's roster: no e-mail to match
        member = found[0] if found else None
        email = str(getattr(member, "email", None) or getattr(member, "user_principal_name", ""))
        email = email if "@" in email else ""
        name = str(getattr(member, "name", None) or "")
        self._cache[user_id] = (self.monotonic() + PROFILE_TTL_SECONDS, email, name)
        return email, name
