"""The terminal chat: every conversation on one's own machine, as any person in the config."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from adapters.local.inbound import PLATFORM, translate
from bot.delivery import Outbound
from bot.platform import Connection, Inbound
from bot.ratelimit import Limit
from bot.replies import Reply

if TYPE_CHECKING:
    from aiohttp import web

    from bot.runtime import Runtime


class ChatOnThisMachine:
    """What the terminal and browser chats share as platforms: no send limits, and no
    platform waiting for an immediate answer (every reply goes through the outbox)."""

    limits: tuple[Limit, ...] = ()

    def rate_scopes(self, message: Outbound) -> dict[str, str]:
        """No limits, so no scopes."""
        return {}

    def answer_now(
        self, inbound: Inbound, replies: Sequence[Reply]
    ) -> tuple[dict[str, Any], list[Reply]]:
        """Nothing waits: every reply arrives through the outbox."""
        return {}, list(replies)


class LocalPlugin(ChatOnThisMachine):
    """The terminal chat as a platform: its events go through the inbox like any other's.

    It has no sender: `lastmile chat` shows its person's outbox messages itself, so a
    `serve` sharing the database leaves them for it.
    """

    name = PLATFORM
    wording_keys: tuple[str, ...] = ()

    def translate(self, payload: Mapping[str, Any]) -> Inbound | None:
        """What a terminal payload means."""
        return translate(payload)

    def mount(self, app: web.Application | None, runtime: Runtime) -> Connection:
        """Always connected: the inbox worker handles what the terminal chat stores."""
        return Connection(self, description="terminal chat (lastmile chat)", trial=True)

    def add_commands(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """`lastmile chat` is one of the root's own commands."""


plugin = LocalPlugin()
