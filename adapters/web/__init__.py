"""The browser chat: every conversation, as anyone in the config, at / while no chat
platform is configured (`LASTMILE_WEB_CHAT=off` turns it off)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from adapters.local import ChatOnThisMachine
from adapters.web.chat import Conversations, WebSender
from adapters.web.inbound import PEOPLE_PLATFORM, PLATFORM, web_translate
from adapters.web.pages import WORDING_KEYS, WebChatPages, mount_pages
from bot.platform import Connection, Inbound

if TYPE_CHECKING:
    from aiohttp import web

    from bot.runtime import Runtime

logger = logging.getLogger(__name__)


class WebChatPlugin(ChatOnThisMachine):
    """The browser chat as a platform: its events go through the inbox, its replies
    through the outbox, like every platform's."""

    name = PLATFORM
    wording_keys: tuple[str, ...] = WORDING_KEYS

    def translate(self, payload: Mapping[str, Any]) -> Inbound | None:
        """What a browser payload means (the terminal chat's meaning)."""
        return web_translate(payload)

    def mount(self, app: web.Application | None, runtime: Runtime) -> Connection | None:
        """Show the chat at / when serving with no chat platform connected.

        The browser chat speaks as the terminal chat's people, so it also shows what is
        sent to them unasked (check-ins, updates, digests to a `local:` channel).
        """
        # A platform with credentials means people use lastmile there, not here.
        others = [name for name, connection in runtime.platforms.items() if not connection.trial]
        if app is None or others or runtime.settings.lastmile_web_chat.lower() == "off":
            return None
        conversations = Conversations()
        sender = WebSender(conversations)
        mount_pages(app, WebChatPages(runtime, conversations))
        people = runtime.platforms.get(PEOPLE_PLATFORM)
        if people is not None:
            # The terminal chat's people read their messages here while the chat is on.
            people.sender = sender
        url = runtime.settings.public_url
        logger.info("browser chat on %s/ (this machine only; LASTMILE_WEB_CHAT=off hides it)", url)
        return Connection(self, sender, description=f"browser chat at {url}/")

    def add_commands(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """The browser chat has no commands of its own."""


plugin = WebChatPlugin()
