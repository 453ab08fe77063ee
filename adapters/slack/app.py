"""The Slack adapter: one Bolt app whose handlers serve both HTTP and Socket Mode."""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import inbound
from adapters.slack.blocks import ACTION_PREFIX, FORM_CALLBACK, home_view
from adapters.slack.delivery import PostedMessages, SlackPoster, SlackSender, retry_handlers
from adapters.slack.home import home_content
from adapters.slack.inbound import Inbound
from adapters.slack.people import SlackProfiles
from bot.events import Actor
from bot.runtime import Runtime
from storage.checkins import get_checkin

logger = logging.getLogger(__name__)

COMMAND = "/lastmile"
SHUTDOWN_GRACE_SECONDS = 5.0

Translate = Callable[[dict[str, Any]], Inbound | None]
Register = Callable[[AsyncApp], Callable[..., Any]]

# What lastmile listens to, and the pure function that translates each payload.
ROUTES: list[tuple[Register, Translate]] = [
    (lambda app: app.event("message"), inbound.from_event),
    (lambda app: app.event("app_home_opened"), inbound.from_event),
    (lambda app: app.action(re.compile(rf"^{re.escape(ACTION_PREFIX)}\.")), inbound.from_action),
    (lambda app: app.view(FORM_CALLBACK), inbound.from_view),
    (lambda app: app.command(COMMAND), inbound.from_command),
]


class SlackAdapter:
    """Translates Slack payloads into engine events and renders the engine's replies."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.client = AsyncWebClient(
            token=settings.slack_bot_token,
            base_url=settings.slack_api_url,
            retry_handlers=retry_handlers(),
        )
        # process_before_response: Bolt awaits the listener, which only acknowledges and
        # hands the work to a task this adapter tracks (and awaits on shutdown), so the
        # ack still goes out at once and no work is lost in an untracked future.
        self.bolt = AsyncApp(
            name="lastmile",
            client=self.client,
            signing_secret=settings.slack_signing_secret or "",
            process_before_response=True,
        )
        self.profiles = SlackProfiles(self.client)
        messages = PostedMessages(runtime.db, runtime.clock)
        self.poster = SlackPoster(self.client, runtime.wording, messages)
        self.sender = SlackSender(self.poster, checkin_ref=self._checkin_ref)
        self.socket_mode: AsyncSocketModeHandler | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._turns: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        for register, translate in ROUTES:
            register(self.bolt)(self._listener(translate))

    def _listener(
        self, translate: Translate
    ) -> Callable[[AsyncAck, dict[str, Any]], Coroutine[Any, Any, None]]:
        async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
            # Slack wants the ack within 3 seconds: the engine and the Web API calls
            # run after it, in a task.
            translated = translate(body)
            if translated is not None:
                self._spawn(self.handle(translated))
            await ack()

        return listener

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(self._logged(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _logged(work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            logger.exception("handling a Slack payload failed")

    def _turn_lock(self, user_id: str) -> asyncio.Lock:
        # One person's events are handled in the order they arrived.
        lock = self._turns.get(user_id)
        if lock is None:
            lock = asyncio.Lock()
            self._turns[user_id] = lock
        return lock

    async def handle(self, translated: Inbound) -> None:
        """Handle one translated payload: engine first, then Slack calls.

        Args:
            translated: what `adapters.slack.inbound` made of the payload.
        """
        where = translated.where
        if translated.form is not None:
            await self.poster.open_form(translated.trigger_id, translated.form, where)
            return
        async with self._turn_lock(where.user_id):
            actor = await self.profiles.actor(where.user_id, where.team_id)
            if translated.event is not None:
                event = replace(translated.event, actor=actor)
                replies = await self.runtime.engine.handle(event)
                await self.poster.post(
                    where,
                    replies,
                    clicked=translated.clicked,
                    trigger_id=translated.trigger_id,
                    opens_form=translated.opens_form,
                )
            if translated.show_home:
                await self.publish_home(actor)

    async def _checkin_ref(self, checkin_id: int) -> dict[str, Any]:
        async with self.runtime.db.session() as session:
            checkin = await get_checkin(session, checkin_id)
        return dict(checkin.message_ref) if checkin is not None else {}

    async def publish_home(self, actor: Actor) -> None:
        """Show the person their status, stored data and buttons in the App Home tab."""
        content = await home_content(self.runtime, actor)
        await self.poster.publish_home(actor.user_id, home_view(content, self.runtime.wording))

    async def settle(self) -> None:
        """Wait until every payload received so far is fully handled."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def events_endpoint(self, request: web.Request) -> web.Response:
        """`POST /slack/events`: Events API, interactivity and slash commands over HTTP."""
        response = await self.bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def start_socket_mode(self, _app: web.Application) -> None:
        """Connect to Slack over Socket Mode (aiohttp start-up hook)."""
        app_token = self.runtime.settings.slack_app_token
        assert app_token is not None
        self.socket_mode = AsyncSocketModeHandler(self.bolt, app_token, web_client=self.client)
        await self.socket_mode.connect_async()  # type: ignore[no-untyped-call]
        logger.info("Slack Socket Mode connected")

    async def close(self, _app: web.Application | None = None) -> None:
        """Disconnect Socket Mode and finish (or, after a grace period, cancel) pending work."""
        if self.socket_mode is not None:
            await self.socket_mode.close_async()  # type: ignore[no-untyped-call]
            self.socket_mode = None
        try:
            await asyncio.wait_for(self.settle(), SHUTDOWN_GRACE_SECONDS)
        except TimeoutError:
            logger.warning("%d Slack payload(s) still in progress at shutdown", len(self._tasks))
            for task in list(self._tasks):
                task.cancel()
