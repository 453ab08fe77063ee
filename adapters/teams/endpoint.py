"""`POST /api/messages`: check who is calling, store the activity, then answer Teams."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from adapters.teams.auth import AuthUnavailable, Unauthorized, authenticate, is_direct_loopback
from adapters.teams.cards import invoke_message_response
from adapters.teams.inbound import PLATFORM, tenants_named, translate
from bot.inbox import InboxUnavailable, Stored
from bot.runtime import Runtime
from storage.inbox import NewEvent

logger = logging.getLogger(__name__)

MESSAGES_PATH = "/api/messages"
INVOKE_TIMEOUT_SECONDS = 10.0
"""How long an Action.Execute waits for its answer; Teams gives up on an invoke at 15 s."""


class MessagesEndpoint:
    """Every activity is stored before Teams hears back; an invoke also waits for its card."""

    def __init__(
        self,
        runtime: Runtime,
        adapter: CloudAdapter,
        *,
        loopback_only: bool,
        tenants: frozenset[str] | None,
    ) -> None:
        self.runtime = runtime
        self.adapter = adapter
        self.loopback_only = loopback_only
        self.tenants = tenants
        """The Microsoft 365 tenants served (None: any, for a loopback-only local bot)."""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer 401/403/400 before anything is stored; 503 when it cannot be stored."""
        if self.loopback_only and not is_direct_loopback(request.remote, request.headers):
            logger.warning(
                "Teams: refused %s from %s: no MICROSOFT_APP_ID, so only this machine may post",
                MESSAGES_PATH,
                request.remote,
            )
            return _error(403, "without MICROSOFT_APP_ID only loopback clients are accepted")
        try:
            body = json.loads(await request.read())
        except (ValueError, RecursionError):
            return _error(400, "the body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            return _error(400, "the body is not a Bot Framework activity")
        try:
            activity = Activity().deserialize(body)
        except Exception:
            return _error(400, "the body is not a Bot Framework activity")
        # With no app id there is nothing to check a token against: any header is ignored.
        header = "" if self.loopback_only else request.headers.get("Authorization", "")
        try:
            await authenticate(self.adapter, activity, header)
        except Unauthorized as error:
            logger.warning("Teams: refused an activity with a bad token: %s", error)
            return _error(401, "unauthorized")
        except AuthUnavailable:
            return _error(503, "cannot check the token right now")
        if not self._served(body):
            # A valid token says the activity came through the Bot Framework, not that it
            # came from this organisation: other tenants can install a multi-tenant bot.
            return _error(403, "this tenant is not served by lastmile")
        try:
            inbound = translate(body)
        except (AttributeError, KeyError, TypeError, ValueError):
            return _error(400, "the activity is not one lastmile can read")
        if inbound is None:
            if body.get("type") == "invoke":
                return web.json_response(invoke_message_response(""))
            return web.Response(status=200)
        event = NewEvent(PLATFORM, inbound.event_id, inbound.person_key, body)
        try:
            stored = await self.runtime.inbox.store(event)
        except InboxUnavailable:
            return _error(503, "lastmile cannot store this now; try again")
        if not inbound.answer_now:
            return web.Response(status=200)
        return await self._answer(request, stored, event)

    def _served(self, body: dict[str, Any]) -> bool:
        if self.tenants is None:
            return True
        named = tenants_named(body)
        if named and named <= self.tenants:
            return True
        logger.warning(
            "Teams: refused an activity from tenant %s: not one lastmile serves",
            ", ".join(sorted(named)) or "(none)",
        )
        return False

    async def _answer(
        self, request: web.Request, stored: Stored, event: NewEvent
    ) -> web.StreamResponse:
        # The refreshed card goes back as soon as the engine's transaction commits; the
        # follow-ups wait in the outbox until this response is out.
        body = await self.runtime.inbox.answer_for(stored, event, INVOKE_TIMEOUT_SECONDS)
        response = web.json_response(body or invoke_message_response(""))
        await response.prepare(request)
        await response.write_eof()
        try:
            await self.runtime.inbox.release_replies(stored.id)
        except Exception as error:
            # They still go when their hold runs out.
            logger.warning("Teams: follow-ups not released early: %s", type(error).__name__)
        return response


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
