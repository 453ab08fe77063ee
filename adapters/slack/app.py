"""The Slack edge: one Bolt app whose listeners store each payload, then acknowledge it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import ACTION_PREFIX, FORM_CALLBACK
from adapters.slack.delivery import SlackPoster, SlackSender, retry_handlers
from adapters.slack.inbound import PLATFORM, translate
from adapters.slack.people import SlackProfiles
from adapters.slack.settings import SlackSettings
from adapters.slack.workspaces import WorkspaceGate
from bot.events import Actor, MessageReceived
from bot.inbox import InboxUnavailable
from bot.platform import Inbound
from bot.runtime import Runtime
from bot.safe_logs import failure
from bot.sent import SentCopies
from bot.stopping import cancel_and_wait
from storage.checkins import get_checkin
from storage.inbox import NewEvent

logger = logging.getLogger(__name__)

COMMAND = "/lastmile"
MAX_SKEW_SECONDS = 300
"""Slack's own limit on how old a signed request may be."""

Register = Callable[[AsyncApp], Callable[..., Any]]

# What lastmile listens to; `adapters.slack.inbound.translate` reads every kind.
LISTENS: list[Register] = [
    lambda app: app.event("message"),
    lambda app: app.event("app_home_opened"),
    lambda app: app.action(re.compile(rf"^{re.escape(ACTION_PREFIX)}\.")),
    lambda app: app.view(FORM_CALLBACK),
    lambda app: app.command(COMMAND),
]


def _bolt_logger() -> logging.Logger:
    """The logger slack-bolt builds its own from: WARNING and up only, whatever the root's
    level, because at INFO it logs the whole body of a request with a bad signature."""
    bolt = logging.getLogger("slack_bolt")
    bolt.setLevel(max(bolt.level, logging.WARNING))
    return bolt


class MalformedPayload(Exception):
    """A signed payload lastmile cannot read: Slack gets 400, nothing is stored."""


class SlackAdapter:
    """Stores what Slack sends before acknowledging it; sends through the outbox."""

    def __init__(self, runtime: Runtime, settings: SlackSettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.client = AsyncWebClient(
            token=settings.bot_token,
            base_url=settings.api_url,
            retry_handlers=retry_handlers(),
        )
        # process_before_response: Bolt awaits the listener, which stores the payload in
        # the inbox and only then acknowledges, so a 200 means "stored".
        self.bolt = AsyncApp(
            name="lastmile",
            client=self.client,
            signing_secret=settings.signing_secret or "",
            process_before_response=True,
            logger=_bolt_logger(),
        )
        self.bolt.error(self._refused)
        # After Bolt's own middleware (signature checked), before any listener stores.
        self.gate = WorkspaceGate(self.client, runtime.config.settings.slack_workspaces)
        self.bolt.use(self._only_our_workspaces)
        self.profiles = SlackProfiles(self.client, found=self._keep_profile)
        copies = SentCopies(runtime.db, runtime.clock, PLATFORM)
        self.poster = SlackPoster(self.client, runtime.wording, copies, runtime.wordings)
        self.sender = SlackSender(self.poster, checkin_ref=self._checkin_ref)
        self.socket_mode: AsyncSocketModeHandler | None = None
        self._learning: asyncio.Task[bool] | None = None
        for register in LISTENS:
            register(self.bolt)(self._store)

    async def _store(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        # Slack wants the ack within 3 seconds; the inbox answers well within that or
        # raises, and the error handler turns that into a 5xx (Slack then retries).
        try:
            inbound = translate(body)
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise MalformedPayload(type(error).__name__) from error
        if inbound is not None:
            event = NewEvent(PLATFORM, inbound.event_id, inbound.person_key, body)
            await self.runtime.inbox.store(event)
        await ack()

    async def _only_our_workspaces(
        self, body: dict[str, Any], next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        # Refused before the inbox: nothing is stored, acknowledged or sent to a
        # response_url, and the person's stored workspace is never touched.
        served = await self.gate.check(body)
        if served is None:
            return BoltResponse(status=503, body="lastmile cannot check the workspace now")
        if not served:
            return BoltResponse(status=403, body="this workspace is not served by lastmile")
        return await next()

    async def learn_workspace(self, _app: web.Application) -> None:
        """Ask Slack which workspace the bot token is for (aiohttp start-up hook).

        In the background: an unreachable Slack must not hold up start-up; a request
        that arrives first waits for the same answer.
        """
        self._learning = asyncio.create_task(self.gate.learn())

    async def _refused(self, error: Exception) -> BoltResponse:
        if isinstance(error, InboxUnavailable):
            return BoltResponse(status=503, body="lastmile cannot store this now; try again")
        if isinstance(error, MalformedPayload):
            logger.warning("Slack: refused a payload lastmile cannot read (%s)", error)
            return BoltResponse(status=400, body="lastmile cannot read this payload")
        logger.error("Slack: payload not stored: %s", failure(error))
        return BoltResponse(status=500, body="lastmile failed on this payload")

    async def enrich(self, inbound: Inbound) -> Inbound:
        """The person's name, e-mail and time zone from users.info (cached).

        Someone the config names by e-mail is looked up before the engine runs (the
        e-mail decides who they are); anyone else's profile may follow in the background.
        """
        event = inbound.event
        if event is None:
            return inbound
        actor = event.actor
        named = self.runtime.engine.directory.knows(actor.identity)
        # Taps never wait on users.info (a whole team answering at once would be rate
        # limited); what a person writes may, once, so the answer is in their language.
        typed = isinstance(event, MessageReceived) and not event.is_command
        found = await self.profiles.actor(
            actor.user_id, actor.workspace_id, wait=typed or not named
        )
        return replace(inbound, event=replace(event, actor=found))

    async def _keep_profile(self, actor: Actor) -> None:
        """A profile fetched in the background: keep the person's time zone and e-mail."""
        async with self.runtime.db.session() as session:
            await self.runtime.engine.directory.person_for(session, actor, self.runtime.clock())

    async def _checkin_ref(self, checkin_id: int) -> dict[str, Any]:
        async with self.runtime.db.session() as session:
            checkin = await get_checkin(session, checkin_id)
        return dict(checkin.message_ref) if checkin is not None else {}

    async def events_endpoint(self, request: web.Request) -> web.Response:
        """`POST /slack/events`: Events API, interactivity and slash commands over HTTP."""
        raw = await request.read()
        try:
            bolt_request = AsyncBoltRequest(
                body=raw.decode("utf-8"),
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]
            )
            if not isinstance(bolt_request.body, dict):
                raise ValueError("not an object")
        except (ValueError, TypeError, AttributeError, RecursionError):
            # A body that is not a Slack payload: 401 unless Slack signed it.
            signed = self._signed(raw, request.headers)
            return web.json_response(
                {"error": "not a Slack payload" if signed else "invalid signature"},
                status=400 if signed else 401,
            )
        return await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request))

    def _signed(self, raw: bytes, headers: Mapping[str, str]) -> bool:
        """Slack's v0 signature over the raw bytes (which may not even be UTF-8)."""
        secret = self.settings.signing_secret
        stamp = headers.get("X-Slack-Request-Timestamp", "")
        if not secret or not stamp.isdigit() or abs(time.time() - int(stamp)) > MAX_SKEW_SECONDS:
            return False
        base = b"v0:" + stamp.encode() + b":" + raw
        expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, headers.get("X-Slack-Signature", ""))

    async def start_socket_mode(self, _app: web.Application) -> None:
        """Connect to Slack over Socket Mode (aiohttp start-up hook)."""
        assert self.settings.app_token is not None
        self.socket_mode = AsyncSocketModeHandler(
            self.bolt, self.settings.app_token, web_client=self.client
        )
        await self.socket_mode.connect_async()  # type: ignore[no-untyped-call]
        logger.info("Slack Socket Mode connected")

    async def close(self, _app: web.Application | None = None) -> None:
        """Disconnect Socket Mode and stop background profile lookups."""
        await self.profiles.close()
        if self._learning is not None:
            await cancel_and_wait(self._learning)
        if self.socket_mode is not None:
            await self.socket_mode.close_async()  # type: ignore[no-untyped-call]
            self.socket_mode = None
