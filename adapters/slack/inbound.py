"""Slack payloads → lastmile events and how to answer them: small pure functions, by table."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from adapters.slack.blocks import (
    ACTION_PREFIX,
    ANSWER_BLOCK,
    ANSWER_INPUT,
    PROMPT_BLOCK,
    Block,
    FormRequest,
    decode_value,
)
from bot.events import (
    Actor,
    Address,
    ChoiceMade,
    Event,
    FormSubmitted,
    MessageReceived,
    StatusRequested,
)
from bot.platform import Inbound

PLATFORM = "slack"
MAX_EVENT_ID = 255

Payload = dict[str, Any]


@dataclass(frozen=True)
class Where:
    """Who is talking to the bot and where its replies go.

    Replies go to `response_url` (ephemeral, for slash commands used in any channel)
    when set, else to `channel`, else to the person's DM with the bot.
    """

    user_id: str
    team_id: str
    channel: str = ""
    response_url: str = ""

    def metadata(self) -> dict[str, str]:
        """What a modal carries so its submission replies in the same place."""
        return {"c": self.channel, "r": self.response_url}


@dataclass(frozen=True)
class Clicked:
    """The message a button was clicked on, so it can be replaced once answered."""

    channel: str
    ts: str
    token: str
    blocks: list[Block] = field(default_factory=list)
    ephemeral: bool = False
    response_url: str = ""


@dataclass(frozen=True)
class ReplyContext:
    """How to answer one payload: the `Inbound.context` the Slack sender reads back."""

    where: Where
    clicked: Clicked | None = None
    trigger_id: str = ""
    opens_form: bool = False
    """A free-text option was clicked: the text step that follows opens as a modal."""
    form: FormRequest | None = None
    """A "Write it…" click: open this modal; nothing goes to the engine."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, for the outbox: what `dataclasses.asdict` gives, without its deep
        copy of the card's blocks (JSON already, never changed), which cost more than
        the rest of reading a click."""
        return _fields(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReplyContext:
        """Read back what `to_dict` wrote."""
        clicked, form = data.get("clicked"), data.get("form")
        return cls(
            where=Where(**data["where"]),
            clicked=Clicked(**clicked) if clicked else None,
            trigger_id=str(data.get("trigger_id") or ""),
            opens_form=bool(data.get("opens_form")),
            form=FormRequest(**form) if form else None,
        )


def _fields(value: Any) -> dict[str, Any]:
    fields_of = ((f.name, getattr(value, f.name)) for f in fields(value))
    return {name: _fields(item) if is_dataclass(item) else item for name, item in fields_of}


def _inbound(
    where: Where,
    event: Event | None,
    *,
    event_id: str,
    clicked: Clicked | None = None,
    trigger_id: str = "",
    opens_form: bool = False,
    form: FormRequest | None = None,
    show_status: bool = False,
) -> Inbound:
    context = ReplyContext(where, clicked, trigger_id, opens_form, form)
    return Inbound(
        event_id=event_id,
        person_key=f"{PLATFORM}:{where.user_id}",
        event=event,
        context=context.to_dict(),
        conversation=where.channel or where.user_id,
        show_status=show_status,
    )


def bare_actor(user_id: str, team_id: str) -> Actor:
    """The actor as a payload names them (the profile is added from users.info later)."""
    return Actor(platform=PLATFORM, user_id=user_id, workspace_id=team_id)


def address(user_id: str, team_id: str, channel: str = "") -> Address:
    """Where to reach the person later; only a DM channel (D…) is kept as theirs."""
    data = {"team": team_id, "user": user_id}
    if channel.startswith("D"):
        data["channel"] = channel
    return Address(platform=PLATFORM, data=data)


def event_id(*parts: str) -> str:
    """An event id within the 255 characters storage keeps (hashed when longer)."""
    joined = ":".join(parts)
    if len(joined) <= MAX_EVENT_ID:
        return joined
    return "sha256:" + hashlib.sha256(joined.encode()).hexdigest()


_SEQUENCE = re.compile(r"<([^<>]*)>")


def _readable_sequence(match: re.Match[str]) -> str:
    target, _, label = match.group(1).partition("|")
    if target[:1] in ("@", "#"):  # <@U123>, <@U123|dana>, <#C123|general>
        return target[0] + (label or target[1:])
    if target.startswith("!"):  # <!channel>, <!here>, <!subteam^S1|@team>, <!date^…|fallback>
        return label or "@" + target[1:].split("^")[0]
    if target.startswith("mailto:"):
        return label or target.removeprefix("mailto:")
    return f"{label} ({target})" if label and label != target else target


def readable(text: str) -> str:
    """What a person wrote, from Slack's message encoding.

    Slack sends typed `&`, `<`, `>` as entities and mentions, channels and links as
    `<…>` sequences; lastmile stores plain words (`@dana`, `#general`, `@channel`)
    so no stored text is Slack markup, and escapes it again whenever it is shown.
    """
    plain_text = _SEQUENCE.sub(_readable_sequence, text)
    return plain_text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _team(body: Payload) -> str:
    team = body.get("team")
    if isinstance(team, dict):
        return str(team.get("id") or "")
    return str(body.get("team_id") or team or "")


# -- Events API ---------------------------------------------------------------------------


FILE_SHARE = "file_share"


def _message(body: Payload, event: Payload) -> Inbound | None:
    # Edits, deletions, joins and bot posts carry a subtype or a bot_id: not a person
    # writing. A photo or file they send comes as file_share, its caption as the text.
    subtype = event.get("subtype")
    if (subtype and subtype != FILE_SHARE) or event.get("bot_id"):
        return None
    if event.get("channel_type") != "im":
        return None
    user = str(event.get("user") or "")
    if not user:
        return None
    team = str(event.get("team") or _team(body))
    channel = str(event.get("channel") or "")
    identifier = str(body.get("event_id") or "")
    message = MessageReceived(
        actor=bare_actor(user, team),
        address=address(user, team, channel),
        text=readable(str(event.get("text") or "")),
        event_id=identifier,
        files=tuple(
            str(item.get("name") or item.get("title") or "file")
            for item in event.get("files") or []
            if isinstance(item, dict)
        ),
        raw=body,
    )
    return _inbound(Where(user, team, channel=channel), message, event_id=identifier)


def _home_opened(body: Payload, event: Payload) -> Inbound | None:
    user = str(event.get("user") or "")
    if event.get("tab") != "home" or not user:
        return None
    team = _team(body)
    identifier = str(body.get("event_id") or "") or event_id(
        "home", user, str(event.get("event_ts"))
    )
    opened = StatusRequested(bare_actor(user, team), address(user, team), identifier, body)
    return _inbound(Where(user, team), opened, event_id=identifier)


_EVENTS: dict[str, Callable[[Payload, Payload], Inbound | None]] = {
    "message": _message,
    "app_home_opened": _home_opened,
}


def from_event(body: Payload) -> Inbound | None:
    """An Events API `event_callback` body; None for events lastmile ignores."""
    event = body.get("event") or {}
    route = _EVENTS.get(str(event.get("type")))
    return route(body, event) if route else None


# -- interactivity: block_actions ---------------------------------------------------------


def _clicked(body: Payload, token: str) -> Clicked | None:
    container = body.get("container") or {}
    if container.get("type") != "message":
        return None
    message = body.get("message") or {}
    blocks = message.get("blocks") if isinstance(message.get("blocks"), list) else []
    return Clicked(
        channel=str(container.get("channel_id") or ""),
        ts=str(container.get("message_ts") or ""),
        token=token,
        blocks=list(blocks or []),
        ephemeral=bool(container.get("is_ephemeral")),
        response_url=str(body.get("response_url") or ""),
    )


def _where_clicked(body: Payload, user: str, team: str) -> Where:
    container = body.get("container") or {}
    channel = str(container.get("channel_id") or "")
    response_url = str(body.get("response_url") or "") if container.get("is_ephemeral") else ""
    return Where(user, team, channel=channel, response_url=response_url)


def _click_id(body: Payload, action: Payload) -> str:
    container = body.get("container") or {}
    where = container.get("message_ts") or container.get("view_id") or ""
    return event_id(
        "action", str(where), str(action.get("action_id")), str(action.get("action_ts"))
    )


def _choice(body: Payload, action: Payload, user: str, team: str) -> Inbound | None:
    value = decode_value(str(action.get("value") or ""))
    token, choice = str(value.get("t") or ""), str(value.get("v") or "")
    if not token or not choice:
        return None
    where = _where_clicked(body, user, team)
    kind = str(action.get("action_id")).split(".")[1]
    identifier = _click_id(body, action)
    chosen = ChoiceMade(
        actor=bare_actor(user, team),
        address=address(user, team, where.channel),
        token=token,
        value=choice,
        event_id=identifier,
        raw=body,
    )
    return _inbound(
        where,
        chosen,
        event_id=identifier,
        clicked=_clicked(body, token),
        trigger_id=str(body.get("trigger_id") or ""),
        opens_form=kind == "form",
    )


def _prompt_block(body: Payload) -> Block | None:
    # The prompt section as it was sent (already escaped), shown again in the modal.
    message = body.get("message") or {}
    for block in message.get("blocks") or []:
        if isinstance(block, dict) and block.get("block_id") == PROMPT_BLOCK:
            return block
    return None


def _write(body: Payload, action: Payload, user: str, team: str) -> Inbound | None:
    value = decode_value(str(action.get("value") or ""))
    token = str(value.get("t") or "")
    if not token:
        return None
    form = FormRequest(
        token=token,
        prompt="",
        label=str(value.get("l") or ""),
        submit_label=str(value.get("s") or ""),
        max_length=int(value.get("m") or 2000),
        prompt_block=_prompt_block(body),
    )
    return _inbound(
        _where_clicked(body, user, team),
        None,
        event_id=_click_id(body, action),
        trigger_id=str(body.get("trigger_id") or ""),
        form=form,
    )


def _home(body: Payload, action: Payload, user: str, team: str) -> Inbound | None:
    command = str(decode_value(str(action.get("value") or "")).get("c") or "")
    if not command:
        return None
    identifier = _click_id(body, action)
    typed = MessageReceived(
        actor=bare_actor(user, team),
        address=address(user, team),
        text=command,
        event_id=identifier,
        is_command=True,
        raw=body,
    )
    return _inbound(Where(user, team), typed, event_id=identifier, show_status=True)


_ACTIONS: dict[str, Callable[[Payload, Payload, str, str], Inbound | None]] = {
    "choice": _choice,
    "form": _choice,
    "write": _write,
    "home": _home,
}


def from_action(body: Payload) -> Inbound | None:
    """A `block_actions` payload (a button click); None when it is not one of lastmile's."""
    clicked = body.get("actions") or []
    if not clicked:
        return None
    action = clicked[0]
    prefix, _, rest = str(action.get("action_id") or "").partition(".")
    route = _ACTIONS.get(rest.split(".")[0]) if prefix == ACTION_PREFIX else None
    user = str((body.get("user") or {}).get("id") or "")
    if route is None or not user:
        return None
    return route(body, action, user, _team(body))


# -- interactivity: view_submission -------------------------------------------------------


def from_view(body: Payload) -> Inbound | None:
    """A `view_submission` of the free-text modal."""
    view = body.get("view") or {}
    user = str((body.get("user") or {}).get("id") or "")
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return None
    token = str(metadata.get("t") or "") if isinstance(metadata, dict) else ""
    values = (view.get("state") or {}).get("values") or {}
    text = ((values.get(ANSWER_BLOCK) or {}).get(ANSWER_INPUT) or {}).get("value")
    if not user or not token or text is None:
        return None
    team = _team(body)
    where = Where(
        user, team, channel=str(metadata.get("c") or ""), response_url=str(metadata.get("r") or "")
    )
    identifier = event_id("view", str(view.get("id")), str(view.get("hash")))
    submitted = FormSubmitted(
        actor=bare_actor(user, team),
        address=address(user, team, where.channel),
        token=token,
        text=str(text),
        event_id=identifier,
        raw=body,
    )
    return _inbound(where, submitted, event_id=identifier)


# -- slash command ------------------------------------------------------------------------


def from_command(body: Payload) -> Inbound | None:
    """A `/lastmile …` slash command: the text is a command for the engine."""
    user = str(body.get("user_id") or "")
    if not user:
        return None
    team = str(body.get("team_id") or "")
    channel = str(body.get("channel_id") or "")
    text = readable(str(body.get("text") or "")).strip() or "help"
    identifier = event_id("command", str(body.get("trigger_id") or ""))
    typed = MessageReceived(
        actor=bare_actor(user, team),
        address=address(user, team, channel),
        text=text,
        event_id=identifier,
        is_command=True,
        raw=body,
    )
    where = Where(user, team, channel=channel, response_url=str(body.get("response_url") or ""))
    return _inbound(where, typed, event_id=identifier)


def translate(body: Payload) -> Inbound | None:
    """Any payload Slack sends lastmile (over HTTP or Socket Mode); None when ignored."""
    if "command" in body:
        return from_command(body)
    route = _KINDS.get(str(body.get("type") or ""))
    return route(body) if route is not None else None


_KINDS: dict[str, Callable[[Payload], Inbound | None]] = {
    "event_callback": from_event,
    "block_actions": from_action,
    "view_submission": from_view,
}


def metadata_of(where: Where, token: str) -> dict[str, str]:
    """The modal's private metadata: the step token and where to reply."""
    return {"t": token, **where.metadata()}
