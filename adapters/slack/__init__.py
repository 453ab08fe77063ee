"""Slack (slack-bolt, async): the Events API over HTTP and Socket Mode, Block Kit, the Web API."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from adapters.slack.app import SlackAdapter
from adapters.slack.blocks import WORDING_KEYS
from adapters.slack.inbound import PLATFORM, translate
from adapters.slack.settings import SlackSettings
from bot.delivery import Outbound
from bot.platform import Connection, Inbound
from bot.ratelimit import Limit
from bot.replies import Reply
from bot.runtime import Runtime

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
SLACK_ADAPTER_KEY: web.AppKey[SlackAdapter] = web.AppKey("slack_adapter", SlackAdapter)


class SlackPlugin:
    """Slack as a lastmile platform."""

    name = PLATFORM
    wording_keys: tuple[str, ...] = WORDING_KEYS
    # chat.postMessage allows about one message a second per channel with short bursts,
    # under a workspace-wide budget Slack does not publish (several hundred a minute).
    # A 429 pauses both the channel and the workspace (LASTMILE_RATE_LIMITS sets others).
    limits: tuple[Limit, ...] = (
        Limit("channel", 1, 1.0),
        Limit("workspace", 300, 60.0, burst=30),
    )

    def __init__(self, settings: SlackSettings | None = None) -> None:
        self.settings = settings

    def translate(self, payload: Mapping[str, Any]) -> Inbound | None:
        """What a Slack payload means (`adapters.slack.inbound`)."""
        return translate(dict(payload))

    def rate_scopes(self, message: Outbound) -> dict[str, str]:
        """A message's channel (its DM, or the channel posted to) and workspace."""
        recipient = message.recipient
        address = recipient.address if recipient else {}
        where = message.context.get("where") or {}
        channel = (
            str(where.get("channel") or "")
            or message.destination
            or str(address.get("channel") or "")
            or (recipient.user_id if recipient else "")
        )
        workspace = str(where.get("team_id") or "") or (
            (recipient.workspace_id if recipient else "") or str(address.get("team") or "")
        )
        return {"channel": channel, "workspace": workspace}

    def answer_now(
        self, inbound: Inbound, replies: Sequence[Reply]
    ) -> tuple[dict[str, Any], list[Reply]]:
        """Slack has its acknowledgement already: every reply goes through the outbox."""
        return {}, list(replies)

    def mount(self, app: web.Application | None, runtime: Runtime) -> Connection | None:
        """Connect when SLACK_BOT_TOKEN and a way in are set.

        HTTP (`POST /slack/events`) needs SLACK_SIGNING_SECRET; Socket Mode needs
        SLACK_APP_TOKEN. Both can run at once.
        """
        settings = self.settings or SlackSettings()
        if not (settings.http or settings.socket_mode):
            if settings.bot_token:
                logger.warning(
                    "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP) nor "
                    "SLACK_APP_TOKEN (Socket Mode): Slack is not connected"
                )
            return None
        adapter = SlackAdapter(runtime, settings)
        ways = [name for name, on in (("HTTP " + EVENTS_PATH, settings.http),) if on]
        if app is not None:
            app[SLACK_ADAPTER_KEY] = adapter
            app.on_startup.append(adapter.learn_workspace)
            if settings.http:
                app.router.add_post(EVENTS_PATH, adapter.events_endpoint)
            if settings.socket_mode:
                app.on_startup.append(adapter.start_socket_mode)
                ways.append("Socket Mode")
            app.on_cleanup.append(adapter.close)
        description = f"{' and '.join(ways) or 'sending only'} (Web API {settings.api_url})"
        return Connection(self, adapter.sender, adapter.enrich, description)

    def add_commands(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Slack needs no commands of its own (the app comes from its manifest)."""


plugin = SlackPlugin()
