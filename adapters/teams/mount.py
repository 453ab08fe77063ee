"""Mounts Teams on the lastmile web app: POST /api/messages, and the proactive sender."""

from __future__ import annotations

import json
import logging

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from adapters.teams.auth import (
    AuthUnavailable,
    Unauthorized,
    authenticate,
    build_adapter,
    is_direct_loopback,
)
from adapters.teams.bot import TeamsBot
from adapters.teams.inbound import PLATFORM
from adapters.teams.sender import TeamsSender
from adapters.teams.sent_cards import SentCards
from bot.config import ConfigError
from bot.runtime import Runtime

logger = logging.getLogger(__name__)

MESSAGES_PATH = "/api/messages"


class MessagesEndpoint:
    """``POST /api/messages``: check who is calling, then run the turn through CloudAdapter."""

    def __init__(self, adapter: CloudAdapter, bot: TeamsBot, *, loopback_only: bool) -> None:
        self.adapter = adapter
        self.bot = bot
        self.loopback_only = loopback_only

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer 401/403 before anything is read into the database, else run the turn."""
        if self.loopback_only and not is_direct_loopback(request.remote, request.headers):
            logger.warning(
                "Teams: refused %s from %s: no MICROSOFT_APP_ID, so only this machine may post",
                MESSAGES_PATH,
                request.remote,
            )
            return _error(403, "without MICROSOFT_APP_ID only loopback clients are accepted")
        try:
            body = json.loads(await request.text())
        except ValueError:
            return _error(400, "the body is not JSON")
        if not isinstance(body, dict) or not body.get("type"):
            return _error(400, "the body is not a Bot Framework activity")
        activity = Activity().deserialize(body)
        # With no app id there is nothing to check a token against: any header is ignored.
        header = "" if self.loopback_only else request.headers.get("Authorization", "")
        try:
            authenticated = await authenticate(self.adapter, activity, header)
        except Unauthorized as error:
            logger.warning("Teams: refused an activity with a bad token: %s", error)
            return _error(401, "unauthorized")
        except AuthUnavailable:
            return _error(503, "cannot check the token right now")

        async def logic(turn: TurnContext) -> None:
            await self.bot.on_turn(turn, body)

        try:
            invoke = await self.adapter.process_activity(authenticated, activity, logic)
        except Exception:
            logger.exception("Teams: activity %s of type %s failed", activity.id, activity.type)
            return _error(500, "the bot failed on this activity")
        if invoke is not None:
            return web.json_response(invoke.body, status=invoke.status)
        return web.Response(status=200)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def mount_teams(app: web.Application, runtime: Runtime) -> str:
    """Add /api/messages and register the Teams sender; always mounted.

    With MICROSOFT_APP_ID every request's JWT is validated; without it (the Agents
    Playground, the Emulator) only loopback peers are served.
    """
    settings = runtime.settings
    app_id = settings.microsoft_app_id or ""
    try:
        adapter = build_adapter(settings)
    except Exception as error:
        # botbuilder says e.g. "Property 'APP_PASSWORD' is expected" for SingleTenant.
        raise ConfigError(f"Teams settings (MICROSOFT_APP_*): {error}") from error
    cards = SentCards(runtime.db, runtime.clock)
    bot = TeamsBot(runtime, cards)
    endpoint = MessagesEndpoint(adapter, bot, loopback_only=not app_id)
    app.router.add_post(MESSAGES_PATH, endpoint.handle)
    runtime.senders[PLATFORM] = TeamsSender(runtime, adapter, cards, app_id)
    if app_id:
        logger.info("Teams: %s validates Bot Framework tokens for app %s", MESSAGES_PATH, app_id)
    else:
        logger.warning(
            "Teams: MICROSOFT_APP_ID is not set, so %s accepts requests from loopback "
            "addresses only (not relayed by a proxy), without authentication "
            "(Agents Playground, Emulator)",
            MESSAGES_PATH,
        )
    return PLATFORM
