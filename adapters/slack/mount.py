"""Mounts Slack on the aiohttp app `lastmile serve` runs, when Slack is configured."""

from __future__ import annotations

import logging

from aiohttp import web

from adapters.slack.app import SlackAdapter
from bot.runtime import Runtime

logger = logging.getLogger(__name__)

PLATFORM = "slack"
EVENTS_PATH = "/slack/events"
SLACK_ADAPTER_KEY: web.AppKey[SlackAdapter] = web.AppKey("slack_adapter", SlackAdapter)


def mount_slack(app: web.Application, runtime: Runtime) -> str | None:
    """Add Slack when its tokens are set, and register its outbox sender.

    HTTP (`POST /slack/events`) needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET; Socket
    Mode needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN. Both can run at once.

    Args:
        app: the web application being built.
        runtime: the built runtime.

    Returns:
        "slack" when mounted, None when Slack is not configured.
    """
    settings = runtime.settings
    http = bool(settings.slack_bot_token and settings.slack_signing_secret)
    socket_mode = bool(settings.slack_bot_token and settings.slack_app_token)
    if not (http or socket_mode):
        if settings.slack_bot_token:
            logger.warning(
                "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP) nor "
                "SLACK_APP_TOKEN (Socket Mode): Slack is not mounted"
            )
        return None
    adapter = SlackAdapter(runtime)
    app[SLACK_ADAPTER_KEY] = adapter
    runtime.senders[PLATFORM] = adapter.sender
    if http:
        app.router.add_post(EVENTS_PATH, adapter.events_endpoint)
    if socket_mode:
        app.on_startup.append(adapter.start_socket_mode)
    app.on_cleanup.append(adapter.close)
    logger.info(
        "Slack mounted: %s (Web API %s)",
        " and ".join(
            name for name, on in (("HTTP " + EVENTS_PATH, http), ("Socket Mode", socket_mode)) if on
        ),
        settings.slack_api_url,
    )
    return PLATFORM
