"""Slack payloads → lastmile events (pure translation, from real-shaped fixtures)."""

from __future__ import annotations

import json
from dataclasses import asdict

from adapters.slack.inbound import (
    ReplyContext,
    from_action,
    from_command,
    from_event,
    from_view,
    readable,
)
from bot.events import ChoiceMade, FormSubmitted, MessageReceived, StatusRequested
from bot.platform import Inbound
from tests.fakes.slack_signing import (
    DM_CHANNEL_ID,
    PILOT_USER_ID,
    app_home_opened_payload,
    block_actions_payload,
    load_fixture,
    message_im_payload,
    slash_command_payload,
    view_submission_payload,
)

CHOICE = json.dumps({"t": "checkin:12:first", "v": "partly"})


def reply(translated: Inbound) -> ReplyContext:
    """Where and how the Slack sender will answer this payload."""
    return ReplyContext.from_dict(translated.context)


def test_a_dm_becomes_a_message_with_its_event_id_and_address() -> None:
    payload = message_im_payload(text="mydata", event_id="Ev0TEST0001")

    translated = from_event(payload)

    assert translated is not None
    event = translated.event
    assert isinstance(event, MessageReceived)
    assert (event.text, event.event_id, event.is_command) == ("mydata", "Ev0TEST0001", False)
    assert event.actor.identity == f"slack:{PILOT_USER_ID}"
    assert event.actor.workspace_id == "T0LASTMILE"
    assert event.address.data == {
        "team": "T0LASTMILE",
        "user": PILOT_USER_ID,
        "channel": DM_CHANNEL_ID,
    }
    where = reply(translated).where
    assert where.channel == DM_CHANNEL_ID and not where.response_url
    assert (translated.event_id, translated.person_key) == ("Ev0TEST0001", f"slack:{PILOT_USER_ID}")


def test_edits_bot_posts_and_channel_messages_are_ignored() -> None:
    edited = message_im_payload()
    edited["event"]["subtype"] = "message_changed"
    from_bot = message_im_payload()
    from_bot["event"]["bot_id"] = "B0LASTBOT"
    in_channel = message_im_payload()
    in_channel["event"]["channel_type"] = "channel"

    assert [from_event(p) for p in (edited, from_bot, in_channel)] == [None, None, None]


def test_only_the_home_tab_is_published() -> None:
    home = from_event(app_home_opened_payload())
    messages_tab = from_event(app_home_opened_payload(tab="messages"))

    assert home is not None and isinstance(home.event, StatusRequested)
    assert messages_tab is None


def test_a_click_becomes_a_choice_unique_per_click() -> None:
    payload = block_actions_payload(
        action_id="lastmile.choice.1",
        value=CHOICE,
        message_ts="1718035300.000300",
        action_ts="1718035310.5",
    )
    again = block_actions_payload(
        action_id="lastmile.choice.1",
        value=CHOICE,
        message_ts="1718035300.000300",
        action_ts="1718035399.9",
    )

    translated, second = from_action(payload), from_action(again)

    assert translated is not None and second is not None
    event = translated.event
    assert isinstance(event, ChoiceMade)
    assert (event.token, event.value) == ("checkin:12:first", "partly")
    assert event.event_id == "action:1718035300.000300:lastmile.choice.1:1718035310.5"
    assert second.event is not None and second.event.event_id != event.event_id
    clicked = reply(translated).clicked
    assert clicked is not None
    assert (clicked.channel, clicked.ts) == (DM_CHANNEL_ID, "1718035300.000300")
    assert clicked.token == "checkin:12:first"
    assert reply(translated).trigger_id == payload["trigger_id"]
    assert not reply(translated).opens_form


def test_a_free_text_option_opens_a_form_and_write_it_opens_one_at_once() -> None:
    free = from_action(block_actions_payload(action_id="lastmile.form.3", value=CHOICE))
    write_value = json.dumps(
        {"t": "checkin:12:workaround_text", "l": "Your answer", "s": "Send", "m": 2000}
    )
    write = from_action(block_actions_payload(action_id="lastmile.write", value=write_value))

    assert free is not None and reply(free).opens_form
    assert write is not None and write.event is None
    for translated in (free, write):  # what the outbox keeps: asdict's shape, JSON-safe
        assert translated.context == asdict(reply(translated))
        assert json.loads(json.dumps(translated.context)) == translated.context
    form = reply(write).form
    assert form is not None and write.event_id.startswith("action:")
    assert (form.token, form.label, form.max_length) == (
        "checkin:12:workaround_text",
        "Your answer",
        2000,
    )


def test_an_ephemeral_click_answers_through_its_response_url() -> None:
    payload = load_fixture("block_actions_ephemeral.json")

    translated = from_action(payload)

    assert translated is not None
    clicked = reply(translated).clicked
    assert clicked is not None and clicked.ephemeral
    assert reply(translated).where.response_url == payload["response_url"]
    assert translated.event is not None and "channel" not in translated.event.address.data


def test_a_home_button_sends_its_command() -> None:
    translated = from_action(load_fixture("block_actions_home.json"))

    assert translated is not None and translated.show_status
    event = translated.event
    assert isinstance(event, MessageReceived)
    assert (event.text, event.is_command) == ("pause 1w", True)
    assert event.event_id == "action:V0LASTHOME1:lastmile.home.pause:1718035510.654321"


def test_other_apps_buttons_and_broken_values_are_ignored() -> None:
    assert from_action(block_actions_payload(action_id="lastmile_yes", value="yes")) is None
    assert from_action(block_actions_payload(action_id="lastmile.choice.0", value="{oops")) is None


def test_a_modal_submission_becomes_form_text_for_its_step() -> None:
    metadata = json.dumps({"t": "checkin:12:workaround_text", "c": DM_CHANNEL_ID, "r": ""})
    values = {
        "lastmile.answer": {
            "lastmile.text": {"type": "plain_text_input", "value": "Rang the depot"}
        }
    }
    payload = view_submission_payload(
        callback_id="lastmile.form", values=values, private_metadata=metadata, view_id="V0FORM0001"
    )

    translated = from_view(payload)

    assert translated is not None
    event = translated.event
    assert isinstance(event, FormSubmitted)
    assert (event.token, event.text) == ("checkin:12:workaround_text", "Rang the depot")
    assert event.event_id == "view:V0FORM0001:1718035400.Tz1QbL3k"
    assert reply(translated).where.channel == DM_CHANNEL_ID
    assert from_view(view_submission_payload(private_metadata="")) is None


def test_a_slash_command_is_a_command_and_empty_means_help() -> None:
    payload = slash_command_payload(text="", response_url="https://hooks.example/commands/1")

    translated = from_command(payload)

    assert translated is not None
    event = translated.event
    assert isinstance(event, MessageReceived)
    assert (event.text, event.is_command) == ("help", True)
    assert event.event_id == f"command:{payload['trigger_id']}"
    assert reply(translated).where.response_url == "https://hooks.example/commands/1"
    assert "channel" not in event.address.data  # C… is a channel, not the person's DM


def test_long_event_ids_are_hashed_to_fit_storage() -> None:
    long_ts = "1" * 300
    translated = from_action(
        block_actions_payload(action_id="lastmile.choice.0", value=CHOICE, message_ts=long_ts)
    )

    assert translated is not None and translated.event is not None
    assert translated.event.event_id.startswith("sha256:")
    assert len(translated.event.event_id) <= 255


def test_slack_message_encoding_becomes_plain_words() -> None:
    typed = message_im_payload(text="Used &lt;b&gt; &amp; the old map, asked <@U0LEAD0001|lena>")
    mentions = "<!channel> <!here> <!subteam^S0TEAM|@drivers> <#C0PILOTS01|ai-pilot> <@U0OTHER001>"
    links = "see <https://maps.example/x|the map> or <mailto:ops@example.com|ops@example.com>"

    translated = from_event(typed)

    assert translated is not None and isinstance(translated.event, MessageReceived)
    assert translated.event.text == "Used <b> & the old map, asked @lena"
    assert readable(mentions) == "@channel @here @drivers #ai-pilot @U0OTHER001"
    assert readable(links) == "see the map (https://maps.example/x) or ops@example.com"
    assert readable("&amp;lt; stays &lt;") == "&lt; stays <"
