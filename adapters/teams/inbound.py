"""Translates Bot Framework activities from Teams into lastmile events: pure functions, a table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.teams.cards import TEXT_INPUT_ID, VERB
from bot.events import (
    Actor,
    Address,
    ChoiceMade,
    Event,
    FormSubmitted,
    MemberJoined,
    MessageReceived,
)

PLATFORM = "teams"
PERSONAL = "personal"
ADD_ACTIONS = frozenset({"add", "add-upgrade"})
CARD_ACTION_INVOKE = "adaptiveCard/action"

Activity = Mapping[str, Any]


@dataclass(frozen=True)
class ChannelRef:
    """A channel, team or group chat the bot is in, to remember as a ChannelAddress."""

    channel_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Inbound:
    """What one activity means for lastmile."""

    actor: Actor
    address: Address
    scope: str
    event: Event | None = None
    channel: ChannelRef | None = None
    remember_person: bool = False
    """The bot was added for this person: keep their reference, even outside the engine."""
    is_invoke: bool = False
    token: str = ""
    """The token of the card action, when the activity is one."""
    card_id: str = ""
    """The id of the message whose card sent the action (Action.Submit's replyToId)."""

    @property
    def is_personal(self) -> bool:
        """True in the person's 1:1 chat with the bot."""
        return self.scope == PERSONAL


def conversation_id_of(activity: Activity) -> str:
    """The conversation id without a channel thread's ``;messageid=`` suffix."""
    conversation = activity.get("conversation") or {}
    return str(conversation.get("id") or "").split(";messageid=", 1)[0]


def tenant_of(activity: Activity) -> str:
    """The Microsoft 365 tenant the activity comes from."""
    conversation = activity.get("conversation") or {}
    tenant = (activity.get("channelData") or {}).get("tenant") or {}
    return str(conversation.get("tenantId") or tenant.get("id") or "")


def timezone_of(activity: Activity) -> str:
    """The person's IANA time zone from the activity or its clientInfo entity, if valid."""
    candidates = [activity.get("localTimezone")]
    candidates += [
        entity.get("timezone")
        for entity in activity.get("entities") or []
        if entity.get("type") == "clientInfo"
    ]
    for name in candidates:
        if isinstance(name, str) and name:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            return name
    return ""


def reference_of(activity: Activity) -> dict[str, Any]:
    """The conversation reference (Bot Framework JSON) to reach this conversation later."""
    conversation = dict(activity.get("conversation") or {})
    conversation["id"] = conversation_id_of(activity)
    reference = {
        "user": activity.get("from"),
        "bot": activity.get("recipient"),
        "conversation": conversation,
        "channelId": activity.get("channelId"),
        "locale": activity.get("locale"),
        "serviceUrl": activity.get("serviceUrl"),
    }
    return {key: value for key, value in reference.items() if value is not None}


def actor_of(activity: Activity) -> Actor:
    """Who sent the activity."""
    sender = activity.get("from") or {}
    return Actor(
        platform=PLATFORM,
        user_id=str(sender.get("id") or ""),
        workspace_id=tenant_of(activity),
        display_name=str(sender.get("name") or ""),
        timezone=timezone_of(activity),
        locale=str(activity.get("locale") or ""),
    )


def scope_of(activity: Activity) -> str:
    """personal, channel or groupChat."""
    conversation = activity.get("conversation") or {}
    return str(conversation.get("conversationType") or PERSONAL)


def text_of(activity: Activity) -> str:
    """The message text without the bot's own @mention."""
    text = str(activity.get("text") or "")
    bot_id = (activity.get("recipient") or {}).get("id")
    for entity in activity.get("entities") or []:
        mentioned = entity.get("mentioned") or {}
        if entity.get("type") == "mention" and mentioned.get("id") == bot_id and entity.get("text"):
            text = text.replace(str(entity["text"]), " ")
    return text.replace("&nbsp;", " ").replace("\xa0", " ").strip()


def _base(activity: Activity) -> Inbound:
    scope = scope_of(activity)
    actor = actor_of(activity)
    if scope == PERSONAL:
        return Inbound(actor, Address(PLATFORM, reference_of(activity)), scope)
    # Only a 1:1 chat is a person's address; a channel is remembered as a channel.
    team = (activity.get("channelData") or {}).get("team") or {}
    channel = ChannelRef(
        conversation_id_of(activity),
        {
            "reference": reference_of(activity),
            "scope": scope,
            "team_id": str(team.get("id") or ""),
            "team_name": str(team.get("name") or ""),
            "tenant_id": tenant_of(activity),
        },
    )
    return Inbound(actor, Address(PLATFORM, {}), scope, channel=channel)


def card_event(base: Inbound, data: Mapping[str, Any], event_id: str, raw: Any) -> Event | None:
    """The event for a card button's data: a choice, or text from the card's input."""
    token = data.get("token")
    if not isinstance(token, str) or not token:
        return None
    if "value" in data:
        return ChoiceMade(base.actor, base.address, token, str(data["value"]), event_id, raw)
    text = data.get(TEXT_INPUT_ID)
    return FormSubmitted(base.actor, base.address, token, str(text or "").strip(), event_id, raw)


def _message(activity: Activity, base: Inbound) -> Inbound:
    event_id = str(activity.get("id") or "")
    value = activity.get("value")
    if isinstance(value, Mapping) and "token" in value:
        # Action.Submit: a message whose value is the button's data (and the inputs).
        event = card_event(base, value, event_id, activity)
        return replace(
            base,
            event=event,
            token=str(value.get("token") or ""),
            card_id=str(activity.get("replyToId") or ""),
        )
    text = text_of(activity)
    if not text:
        return base
    # In a channel or group chat only commands make sense: free text there is not a note.
    event = MessageReceived(
        base.actor, base.address, text, event_id, is_command=not base.is_personal, raw=activity
    )
    return replace(base, event=event)


def _invoke(activity: Activity, base: Inbound) -> Inbound:
    base = replace(base, is_invoke=True)
    if activity.get("name") != CARD_ACTION_INVOKE:
        return base
    action = (activity.get("value") or {}).get("action") or {}
    data = action.get("data")
    if action.get("verb") != VERB or not isinstance(data, Mapping):
        return base
    # Each click is a new invoke with its own id, so a second tap is a second event.
    event = card_event(base, data, str(activity.get("id") or ""), activity)
    return replace(
        base,
        event=event,
        token=str(data.get("token") or ""),
        card_id=str(activity.get("replyToId") or ""),
    )


def _conversation_update(activity: Activity, base: Inbound) -> Inbound:
    bot_id = (activity.get("recipient") or {}).get("id")
    added = {member.get("id") for member in activity.get("membersAdded") or []}
    if bot_id not in added:
        return base
    # The engine welcomes the person (or the team) and keeps the 1:1 reference.
    event = MemberJoined(base.actor, base.address, str(activity.get("id") or ""), activity)
    return replace(base, event=event, remember_person=base.is_personal)


def _installation_update(activity: Activity, base: Inbound) -> Inbound:
    if activity.get("action") not in ADD_ACTIONS:
        return base
    # Teams sends installationUpdate and conversationUpdate for the same install; the
    # welcome comes with the conversationUpdate, this one only keeps the reference.
    return replace(base, remember_person=base.is_personal)


_BY_TYPE: dict[str, Callable[[Activity, Inbound], Inbound]] = {
    "message": _message,
    "invoke": _invoke,
    "conversationUpdate": _conversation_update,
    "installationUpdate": _installation_update,
}


def translate(activity: Activity) -> Inbound:
    """What an activity (Bot Framework JSON, camelCase) means for lastmile.

    Args:
        activity: the activity as Teams posted it.

    Returns:
        The actor, their address, the event for the engine (None when there is
        nothing to handle) and the channel or person reference to remember.
    """
    base = _base(activity)
    handler = _BY_TYPE.get(str(activity.get("type") or ""))
    return handler(activity, base) if handler is not None else base
