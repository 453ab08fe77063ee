"""What can happen: the small set of inbound events every adapter translates into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Actor:
    """Who did something, as the platform knows them."""

    platform: str
    user_id: str
    workspace_id: str = ""
    display_name: str = ""
    email: str = ""
    timezone: str = ""
    locale: str = ""

    @property
    def identity(self) -> str:
        """The `platform:id` form used in the config file."""
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True)
class Address:
    """Where to reach someone later: a DM channel, a conversation reference."""

    platform: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MessageReceived:
    """A person wrote to the bot (a DM, a typed or slash command)."""

    actor: Actor
    address: Address
    text: str
    event_id: str = ""
    is_command: bool = False
    shared: bool = False
    """Said where others read the answer (a channel or group chat): personal commands
    (mydata, forget, pause…) are refused there."""
    files: tuple[str, ...] = ()
    """Names of the photos or files sent with it (the text is their caption); lastmile
    keeps the words, never the files."""
    raw: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ChoiceMade:
    """A person tapped one of the choices the bot offered."""

    actor: Actor
    address: Address
    token: str
    value: str
    event_id: str = ""
    raw: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FormSubmitted:
    """A person sent free text through a form (Slack modal, card input)."""

    actor: Actor
    address: Address
    token: str
    text: str
    event_id: str = ""
    raw: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class MemberJoined:
    """The bot was added for a person (installed, or a member joined a team)."""

    actor: Actor
    address: Address
    event_id: str = ""
    shared: bool = False
    """Added to a channel or group chat: the welcome is for everyone there."""
    greet: bool = True
    """False when the platform announces the same install twice and this copy only
    refreshes how to reach the person (Teams' installationUpdate)."""
    raw: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StatusRequested:
    """A person opened their own status page (Slack's App Home tab)."""

    actor: Actor
    address: Address
    event_id: str = ""
    raw: Any = field(default=None, compare=False, repr=False)


Event = MessageReceived | ChoiceMade | FormSubmitted | MemberJoined | StatusRequested
