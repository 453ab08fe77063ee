"""What a platform sender is: it takes one outbox message and delivers it, or says why not."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


_retry_after_heard: ContextVar[Callable[[float], None] | None] = ContextVar(
    "lastmile_retry_after_heard", default=None
)


def heard_retry_after(seconds: float) -> None:
    """A sender's platform answered 429 with this Retry-After (even one its client waits
    out in place): the delivery loop pauses the message's scopes for every replica."""
    heard = _retry_after_heard.get()
    if heard is not None:
        heard(seconds)


@contextmanager
def retry_after_heard(heard: Callable[[float], None]) -> Iterator[None]:
    """Call `heard` with each Retry-After a sender reports while this block runs."""
    token = _retry_after_heard.set(heard)
    try:
        yield
    finally:
        _retry_after_heard.reset(token)
