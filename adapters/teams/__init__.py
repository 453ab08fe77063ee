"""Microsoft Teams (botbuilder CloudAdapter): the only place botbuilder is imported."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from adapters.teams.auth import build_adapter
from adapters.teams.cards import (
    answered_card,
    card_for,
    invoke_card_response,
    invoke_message_response,
)
from adapters.teams.endpoint import MESSAGES_PATH, MessagesEndpoint
from adapters.teams.inbound import PLATFORM, translate
from adapters.teams.package import WORDING_KEYS, package_command
from adapters.teams.profiles import TeamsProfiles
from adapters.teams.sender import TeamsSender
from adapters.teams.settings import TeamsSettings
from bot.config import ConfigError
from bot.delivery import Outbound
from bot.platform import Connection, Inbound
from bot.ratelimit import Limit
from bot.replies import Answered, Replace, Reply, Text
from bot.runtime import Runtime
from bot.sent import SentCopies

logger = logging.getLogger(__name__)


def served_tenants(
    settings: TeamsSettings, configured: Sequence[str], app_id: str
) -> frozenset[str] | None:
    """MICROSOFT_APP_TENANT_ID and `[settings] teams_tenants`; None: any (loopback only).

    Raises:
        ConfigError: a bot with an app id, so reachable from the internet, names no tenant.
    """
    tenants = frozenset(
        tenant.strip() for tenant in (settings.tenant_id or "", *configured) if tenant.strip()
    )
    if tenants:
        return tenants
    if app_id:
        raise ConfigError(
            "Teams: MICROSOFT_APP_ID is set but no tenant is: set MICROSOFT_APP_TENANT_ID "
            "or list your tenants in [settings] teams_tenants (lastmile serves only its "
            "organisation's own tenants)"
        )
    return None


class TeamsPlugin:
    """Microsoft Teams as a lastmile platform."""

    name = PLATFORM
    wording_keys: tuple[str, ...] = WORDING_KEYS
    # 7 messages a second per conversation (8 per 2 s, 60 per 30 s, 1800 an hour), and
    # 50 a second per app in a tenant. A 429 names one conversation's throttling: it
    # pauses that conversation, not the whole tenant.
    limits: tuple[Limit, ...] = (
        Limit("conversation", 7, 1.0),
        Limit("conversation", 8, 2.0),
        Limit("conversation", 60, 30.0),
        Limit("conversation", 1800, 3600.0),
        Limit("tenant", 50, 1.0, follows_retry_after=False),
    )

    def __init__(self, settings: TeamsSettings | None = None) -> None:
        self.settings = settings

    def translate(self, payload: Mapping[str, Any]) -> Inbound | None:
        """What a Teams activity means (`adapters.teams.inbound`)."""
        return translate(payload)

    def rate_scopes(self, message: Outbound) -> dict[str, str]:
        """A message's conversation and tenant."""
        recipient = message.recipient
        address = message.context.get("reference") or (recipient.address if recipient else {})
        conversation = address.get("conversation")
        conversation = conversation if isinstance(conversation, dict) else {}
        return {
            "conversation": str(conversation.get("id") or "")
            or message.destination
            or (recipient.user_id if recipient else ""),
            "tenant": str(conversation.get("tenantId") or "")
            or (recipient.workspace_id if recipient else ""),
        }

    def answer_now(
        self, inbound: Inbound, replies: Sequence[Reply]
    ) -> tuple[dict[str, Any], list[Reply]]:
        """An Action.Execute's invoke response: the tapped card refreshed with the answer,
        or a short notice (such as "already answered"); the rest goes through the outbox."""
        token = str(inbound.context.get("token") or "")
        version = next(
            (reply for reply in replies if isinstance(reply, Replace) and reply.token == token),
            None,
        )
        if version is not None and not version.resend:
            # The tapped card becomes the check-in's next step (or its receipt) at once.
            return invoke_card_response(card_for([version.reply])), list(replies)
        answered = next(
            (reply for reply in replies if isinstance(reply, Answered) and reply.token == token),
            None,
        )
        if answered is not None:
            return invoke_card_response(answered_card(answered.summary)), list(replies)
        notice = next((reply for reply in replies if isinstance(reply, Text)), None)
        rest = [reply for reply in replies if reply is not notice]
        return invoke_message_response(notice.text if notice is not None else ""), rest

    def mount(self, app: web.Application | None, runtime: Runtime) -> Connection:
        """Always connected: with MICROSOFT_APP_ID every request's token is checked; without
        it (the Agents Playground, the Emulator) only this machine may post."""
        settings = self.settings or TeamsSettings()
        app_id = settings.id or ""
        try:
            adapter = build_adapter(settings)
        except Exception as error:
            # botbuilder says e.g. "Property 'APP_PASSWORD' is expected" for SingleTenant.
            raise ConfigError(f"Teams settings (MICROSOFT_APP_*): {error}") from error
        copies = SentCopies(runtime.db, runtime.clock, PLATFORM)
        sender = TeamsSender(runtime, adapter, copies, app_id)
        directory = runtime.engine.directory
        profiles = TeamsProfiles(adapter, app_id, lambda identity: directory.knows(identity))
        if app is not None:
            tenants = served_tenants(settings, runtime.config.settings.teams_tenants, app_id)
            endpoint = MessagesEndpoint(runtime, adapter, loopback_only=not app_id, tenants=tenants)
            app.router.add_post(MESSAGES_PATH, endpoint.handle)
        if app_id:
            description = f"{MESSAGES_PATH}, Bot Framework tokens checked for app {app_id}"
        else:
            description = f"{MESSAGES_PATH}, loopback only: MICROSOFT_APP_ID is not set"
            if app is not None:
                logger.warning(
                    "Teams: MICROSOFT_APP_ID is not set, so %s accepts requests from loopback "
                    "addresses only (not relayed by a proxy), without authentication "
                    "(Agents Playground, Emulator)",
                    MESSAGES_PATH,
                )
        return Connection(self, sender, profiles.enrich, description, trial=not app_id)

    def add_commands(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """`lastmile teams package`: the app package to upload to Teams."""
        teams = commands.add_parser("teams", help="Microsoft Teams").add_subparsers(
            dest="teams_command", required=True, metavar="ACTION"
        )
        package = teams.add_parser(
            "package", help="build the Teams app package (manifest, icons) zip"
        )
        package.add_argument("--out", default="lastmile-teams.zip", help="zip file to write")
        package.add_argument(
            "--app-id", help="the bot's Microsoft app id (default: MICROSOFT_APP_ID)"
        )
        package.add_argument("--app-version", help="app version Teams shows (raise it for updates)")
        package.add_argument("--developer", default="lastmile", help="publisher name Teams shows")
        package.add_argument(
            "--website-url", default="https://www.example.com/lastmile", help="publisher website"
        )
        package.add_argument("--privacy-url", help="privacy statement (default: WEBSITE/privacy)")
        package.add_argument("--terms-url", help="terms of use (default: WEBSITE/terms)")
        package.set_defaults(handler=package_command)


plugin = TeamsPlugin()
