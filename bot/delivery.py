"""What a platform sender is: it takes one outbox message and delivers it, or says why not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.replies import Reply


@dataclass(frozen=True)
class Recipient:
    """A person to message proactively, with what the platform needs to reach them."""

    person_id: int
    platform: str
    user_id: str
    workspace_id: str = ""
    address: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outbound:
    """One outbox message ready to send: to a person, or to a destination (a channel)."""

    message_id: int
    purpose: str
    replies: tuple[Reply, ...]
    recipient: Recipient | None = None
    destination: str = ""
    """A channel id on the sender's own platform (the outbox row names the platform)."""
    checkin_id: int | None = None
    context: dict[str, Any] = field(default_factory=dict)
    """For a reply: where and how to answer, as the platform's `translate` said."""
    locale: str = ""
    """The language the replies are worded in, for the words a platform adds itself."""


class RetryLater(Exception):
    """A passing failure (rate limit, 5xx, connection): try again after `after` seconds.

    `sent` replies went out before the failure; only the rest are sent again.
    """

    def __init__(self, reason: str, after: float | None = None, sent: int = 0) -> None:
        super().__init__(reason)
        self.after = after
        self.sent = sent


class Undeliverable(Exception):
    """The message can never be delivered (the person blocked the bot, left, etc.)."""

    def __init__(self, reason: str, person_unreachable: bool = False) -> None:
        super().__init__(reason)
        self.person_unreachable = person_unreachable


class Sender(Protocol):
    """A platform's outbound side, used by the outbox delivery loop."""

    platform: str

    async def deliver(self, message: Outbound) -> dict[str, Any]:
        """Send the message.

        Returns:
            A reference to the sent message (e.g. Slack channel and ts) kept on the
            check-in so a reminder or expiry can update it.

        Raises:
            RetryLater: for rate limits and transient errors.
            Undeliverable: when retrying cannot help.
        """
        ...
