"""Build signed inbound Slack requests (events, interactivity, slash commands) from fixtures."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import string
import time
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.fakes.slack_api import APP_ID, TEAM_DOMAIN, TEAM_ID

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "slack"
PILOT_USER_ID = "U0PILOT001"
DM_CHANNEL_ID = "D0LASTDM01"
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


# -- signing ----------------------------------------------------------------------------------


def sign(secret: str, body: str | bytes, timestamp: int) -> str:
    """Slack's v0 signature: "v0=" + hex HMAC-SHA256 of "v0:{timestamp}:{body}"."""
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: str | bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack sends with a request to /slack/events (Content-Type inferred from body)."""
    ts = int(time.time()) if timestamp is None else timestamp
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    content_type = (
        "application/json" if text.lstrip().startswith("{") else "application/x-www-form-urlencoded"
    )
    return {
        "Content-Type": content_type,
        "User-Agent": USER_AGENT,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(secret, text, ts),
    }


# -- encoders ---------------------------------------------------------------------------------


def event_body(payload: dict[str, Any]) -> str:
    """Events API bodies are plain JSON."""
    return json.dumps(payload)


def interactive_body(payload: dict[str, Any]) -> str:
    """Interactivity bodies are form-encoded with a single `payload` field holding JSON."""
    return urlencode({"payload": json.dumps(payload)})


def command_body(fields: dict[str, str]) -> str:
    """Slash command bodies are flat form-encoded fields."""
    return urlencode(fields)


# -- fixture helpers --------------------------------------------------------------------------


@cache
def _fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def load_fixture(name: str) -> Any:
    """A fresh (mutable) copy of a JSON fixture from tests/fixtures/slack/."""
    return copy.deepcopy(json.loads(_fixture_text(name)))


def new_ts() -> str:
    return f"{time.time():.6f}"


def new_trigger_id() -> str:
    return f"{secrets.randbelow(10**13):013d}.1234567890123.{secrets.token_hex(16)}"


def new_event_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "Ev" + "".join(secrets.choice(alphabet) for _ in range(10))


def _user_name(user_id: str) -> str:
    return "dana.frontline" if user_id == PILOT_USER_ID else f"user.{user_id.lower()}"


def _fill_envelope(
    payload: dict[str, Any],
    *,
    team_id: str,
    api_app_id: str,
    event_id: str | None,
    event_time: int | None,
) -> dict[str, Any]:
    payload["team_id"] = team_id
    payload["context_team_id"] = team_id
    payload["api_app_id"] = api_app_id
    payload["event_id"] = event_id or new_event_id()
    payload["event_time"] = int(time.time()) if event_time is None else event_time
    for authorization in payload["authorizations"]:
        authorization["team_id"] = team_id
    return payload


# -- payload builders -------------------------------------------------------------------------


def message_im_payload(
    *,
    text: str = "It saved me ten minutes on the handover",
    user: str = PILOT_USER_ID,
    channel: str = DM_CHANNEL_ID,
    ts: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    event_id: str | None = None,
    event_time: int | None = None,
) -> dict[str, Any]:
    """event_callback for a `message.im` (a user writing in the app's DM)."""
    payload: dict[str, Any] = load_fixture("event_message_im.json")
    event = payload["event"]
    event_ts = ts or new_ts()
    event.update(
        user=user, text=text, channel=channel, ts=event_ts, event_ts=event_ts, team=team_id
    )
    event["client_msg_id"] = secrets.token_hex(16)
    event["blocks"][0]["elements"][0]["elements"] = [{"type": "text", "text": text}]
    return _fill_envelope(
        payload, team_id=team_id, api_app_id=api_app_id, event_id=event_id, event_time=event_time
    )


def app_home_opened_payload(
    *,
    user: str = PILOT_USER_ID,
    channel: str = DM_CHANNEL_ID,
    tab: str = "home",
    view: dict[str, Any] | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    event_id: str | None = None,
    event_time: int | None = None,
) -> dict[str, Any]:
    """event_callback for `app_home_opened`; pass `view` if a Home was published before."""
    payload: dict[str, Any] = load_fixture("event_app_home_opened.json")
    event = payload["event"]
    event.update(user=user, channel=channel, tab=tab, event_ts=new_ts())
    if view is not None:
        event["view"] = view
    return _fill_envelope(
        payload, team_id=team_id, api_app_id=api_app_id, event_id=event_id, event_time=event_time
    )


def block_actions_payload(
    *,
    action_id: str = "lastmile_yes",
    value: str = "yes",
    block_id: str = "lastmile_vote",
    user: str = PILOT_USER_ID,
    channel: str = DM_CHANNEL_ID,
    message_ts: str | None = None,
    trigger_id: str | None = None,
    response_url: str | None = None,
    action_ts: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
) -> dict[str, Any]:
    """`block_actions` for a button click on a bot message in `channel`."""
    payload: dict[str, Any] = load_fixture("block_actions.json")
    ts = message_ts or new_ts()
    name = _user_name(user)
    payload["user"].update(id=user, username=name, name=name, team_id=team_id)
    payload["team"]["id"] = team_id
    payload["api_app_id"] = api_app_id
    payload["container"].update(message_ts=ts, channel_id=channel)
    payload["channel"]["id"] = channel
    payload["message"].update(ts=ts, team=team_id, app_id=api_app_id)
    payload["trigger_id"] = trigger_id or new_trigger_id()
    if response_url is not None:
        payload["response_url"] = response_url
    action = payload["actions"][0]
    action.update(
        action_id=action_id, block_id=block_id, value=value, action_ts=action_ts or new_ts()
    )
    return payload


def view_submission_payload(
    *,
    callback_id: str = "lastmile_feedback",
    values: dict[str, dict[str, dict[str, Any]]] | None = None,
    private_metadata: str = "",
    user: str = PILOT_USER_ID,
    view_id: str | None = None,
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
) -> dict[str, Any]:
    """`view_submission`; `values` is view.state.values ({block_id: {action_id: {...}}})."""
    payload: dict[str, Any] = load_fixture("view_submission.json")
    name = _user_name(user)
    payload["user"].update(id=user, username=name, name=name, team_id=team_id)
    payload["team"]["id"] = team_id
    payload["api_app_id"] = api_app_id
    payload["trigger_id"] = trigger_id or new_trigger_id()
    view = payload["view"]
    view.update(callback_id=callback_id, private_metadata=private_metadata, team_id=team_id)
    view.update(app_id=api_app_id, app_installed_team_id=team_id)
    if view_id is not None:
        view.update(id=view_id, root_view_id=view_id)
    if values is not None:
        view["state"]["values"] = values
    return payload


def slash_command_payload(
    *,
    text: str = "",
    command: str = "/lastmile",
    user_id: str = PILOT_USER_ID,
    channel_id: str = "C0PILOTS01",
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    response_url: str | None = None,
    api_app_id: str = APP_ID,
) -> dict[str, str]:
    """The form fields of a slash command (also the Socket Mode `slash_commands` payload)."""
    fields: dict[str, str] = load_fixture("slash_command.json")
    fields.update(
        text=text,
        command=command,
        user_id=user_id,
        user_name=_user_name(user_id),
        channel_id=channel_id,
        team_id=team_id,
        team_domain=TEAM_DOMAIN,
        api_app_id=api_app_id,
        trigger_id=trigger_id or new_trigger_id(),
    )
    if response_url is not None:
        fields["response_url"] = response_url
    return fields


# -- body builders (payload builder + encoder) ------------------------------------------------


def message_im_body(**overrides: Any) -> str:
    return event_body(message_im_payload(**overrides))


def app_home_opened_body(**overrides: Any) -> str:
    return event_body(app_home_opened_payload(**overrides))


def block_actions_body(**overrides: Any) -> str:
    return interactive_body(block_actions_payload(**overrides))


def view_submission_body(**overrides: Any) -> str:
    return interactive_body(view_submission_payload(**overrides))


def slash_command_body(**overrides: Any) -> str:
    return command_body(slash_command_payload(**overrides))
