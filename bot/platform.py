"""What a chat platform plugs in: one plugin object per platform, and what it means inbound.

A plugin is registered in one table by the composition root. The inbox worker asks it
what a stored payload means (`translate`, then `Connection.enrich`), the engine
answers, and the delivery loop hands the replies to its `Connection.sender`, within its
`limits`. Nothing here knows a platform's SDK.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.delivery import Outbound, Sender
from bot.events import Event
from bot.ratelimit import Limit
from bot.replies import Reply

if TYPE_CHECKING:
    from aiohttp import web

    from bot.runtime import Runtime

Payload = Mapping[str, Any]


@dataclass(frozen=True)
class ChannelSeen:
    """A shared channel or group chat the bot is in, remembered for digests."""

    platform: str
    channel_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Inbound:
    """What one stored inbound payload means for lastmile."""

    event_id: str
    """The platform's own id for the payload: the inbox stores each id once."""
    person_key: str
    """Whose it is (`platform:user`): a person's payloads are handled in arrival order."""
    event: Event | None = None
    context: dict[str, Any] = field(default_factory=dict)
    """Where and how to answer, in the platform's own terms (JSON-safe). It travels with
    the replies through the outbox back to the platform's sender; with no event, it is a
    platform action the sender performs (opening Slack's form)."""
    conversation: str = ""
    """The conversation replies go to (a channel, a chat, the terminal's user): replies
    to one conversation are sent in order."""
    channel: ChannelSeen | None = None
    show_status: bool = False
    """The platform shows the person their status page and wants it fresh after this
    event (Slack's App Home buttons)."""
    answer_now: bool = False
    """The platform waits for an answer in the response to this very request (a Teams
    `Action.Execute` invoke); see `PlatformPlugin.answer_now`."""


async def as_it_is(inbound: Inbound) -> Inbound:
    """No enrichment: the payload says all there is."""
    return inbound


@dataclass
class Connection:
    """A plugin connected to its platform in this process."""

    plugin: PlatformPlugin
    sender: Sender | None = None
    """Delivers outbox messages; None where another process shows them (the terminal chat)."""
    enrich: Callable[[Inbound], Awaitable[Inbound]] = as_it_is
    """Adds what the payload lacks (a profile, an e-mail) from the platform, before the
    engine's transaction: it may call the network."""
    description: str = ""
    """How it is connected, for the start-up log ("HTTP /slack/events and Socket Mode")."""
    trial: bool = False
    """Connected without credentials, for trying lastmile on one machine (the terminal
    chat; Teams with no app id, for the Agents Playground)."""


class PlatformPlugin(Protocol):
    """One platform: a folder under `adapters/` exporting one of these, and a line in the
    composition root's table."""

    name: str
    """The platform's name, also the identity prefix in the config (`slack:U0123`)."""
    wording_keys: tuple[str, ...]
    """Wording keys its rendering uses, checked at start-up with the engine's."""
    limits: tuple[Limit, ...]
    """How fast it may be sent to, by scope; `rate_scopes` names a message's scopes."""

    def translate(self, payload: Payload) -> Inbound | None:
        """A stored payload's meaning; None for payloads lastmile ignores. Pure."""
        ...

    def rate_scopes(self, message: Outbound) -> dict[str, str]:
        """The scope values (channel, workspace, …) its `limits` are counted in."""
        ...

    def answer_now(
        self, inbound: Inbound, replies: Sequence[Reply]
    ) -> tuple[dict[str, Any], list[Reply]]:
        """For an `answer_now` event: the body of the platform's immediate answer, and
        the replies left for the outbox."""
        ...

    def mount(self, app: web.Application | None, runtime: Runtime) -> Connection | None:
        """Connect: add its routes to `app` (when serving) and return the connection, or
        None when it is not configured."""
        ...

    def add_commands(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add its own `lastmile` subcommands (such as `lastmile teams package`)."""
        ...
