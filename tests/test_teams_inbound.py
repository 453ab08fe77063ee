"""Translation of real-shaped Teams activities into lastmile events (pure, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from botbuilder.schema import ConversationReference
from msrest.exceptions import ClientRequestError

from adapters.teams.cards import VERB
from adapters.teams.errors import delivery_failure
from adapters.teams.inbound import translate
from bot.delivery import RetryLater
from bot.events import ChoiceMade, FormSubmitted, MemberJoined, MessageReceived
from tests.fakes.teams_activities import (
    BOT_ID,
    CHANNEL_ID,
    PERSONAL_CONVERSATION_ID,
    TEAM_ID,
    TENANT_ID,
    USER_ID,
    load_activity,
)

SERVICE_URL = "https://smba.trafficmanager.net/emea/"


def activity(name: str, **overrides: Any) -> dict[str, Any]:
    return load_activity(name, SERVICE_URL, **overrides)


def test_personal_install_is_a_member_joined_with_a_usable_reference() -> None:
    incoming = activity("conversation_update_members_added_personal")
    inbound = translate(incoming)
    assert isinstance(inbound.event, MemberJoined)
    assert inbound.event.event_id == incoming["id"]
    actor = inbound.actor
    assert (actor.platform, actor.user_id, actor.workspace_id) == ("teams", USER_ID, TENANT_ID)
    reference = ConversationReference().deserialize(inbound.address.data)
    assert reference.conversation.id == PERSONAL_CONVERSATION_ID
    assert reference.service_url == SERVICE_URL
    assert (reference.bot.id, reference.user.id, reference.channel_id) == (
        BOT_ID,
        USER_ID,
        "msteams",
    )
    assert inbound.channel is None and inbound.is_personal


def test_team_install_welcomes_the_team_and_remembers_the_channel() -> None:
    inbound = translate(activity("conversation_update_members_added_team"))
    assert isinstance(inbound.event, MemberJoined)
    assert inbound.address.data == {}  # never a person's 1:1 address
    assert inbound.channel is not None
    assert inbound.channel.channel_id == CHANNEL_ID
    assert inbound.channel.data["team_id"] == TEAM_ID
    assert inbound.channel.data["tenant_id"] == TENANT_ID
    assert inbound.channel.data["reference"]["conversation"]["id"] == CHANNEL_ID


def test_someone_else_joining_a_team_is_not_an_event() -> None:
    incoming = activity("conversation_update_members_added_team")
    incoming["membersAdded"] = [{"id": "29:1someone-else"}]
    assert translate(incoming).event is None


def test_installation_update_only_keeps_the_reference_with_the_time_zone() -> None:
    inbound = translate(activity("installation_update_add_personal"))
    assert inbound.event is None and inbound.remember_person
    assert inbound.actor.timezone == "Europe/London"
    removed = translate(activity("installation_update_add_personal", action="remove"))
    assert not removed.remember_person


def test_a_message_is_text_for_the_engine() -> None:
    incoming = activity("message_personal", text="  pause 1w ")
    inbound = translate(incoming)
    assert inbound.event == MessageReceived(
        inbound.actor, inbound.address, "pause 1w", incoming["id"], is_command=False
    )
    assert inbound.actor.display_name == "Megan Bowen"
    assert inbound.actor.timezone == "Europe/London" and inbound.actor.locale == "en-GB"


def test_the_bots_mention_is_stripped_and_channel_text_is_a_command() -> None:
    incoming = activity(
        "message_personal",
        text="<at>lastmile</at>&nbsp;digest north",
        conversation={"conversationType": "channel", "id": f"{CHANNEL_ID};messageid=42"},
    )
    incoming["entities"] = [
        {"type": "mention", "text": "<at>lastmile</at>", "mentioned": {"id": BOT_ID}},
        {"type": "mention", "text": "<at>Megan</at>", "mentioned": {"id": USER_ID}},
    ]
    inbound = translate(incoming)
    assert isinstance(inbound.event, MessageReceived)
    assert inbound.event.text == "digest north" and inbound.event.is_command
    assert inbound.channel is not None and inbound.channel.channel_id == CHANNEL_ID


def test_action_submit_is_a_choice_or_a_form_naming_its_card() -> None:
    choice = activity("message_submit_action")
    choice["value"] = {"token": "checkin:4:first", "value": "partly"}
    inbound = translate(choice)
    assert isinstance(inbound.event, ChoiceMade)
    assert (inbound.event.token, inbound.event.value) == ("checkin:4:first", "partly")
    assert (inbound.token, inbound.card_id) == ("checkin:4:first", choice["replyToId"])
    form = activity("message_submit_action")
    form["value"] = {"token": "checkin:4:workaround_text", "text": " By hand "}
    submitted = translate(form).event
    assert isinstance(submitted, FormSubmitted) and submitted.text == "By hand"


def test_someone_elses_card_submit_is_ignored() -> None:
    # The fixture's value is another bot's card data: no token, nothing for lastmile.
    assert translate(activity("message_submit_action")).event is None


def test_action_execute_is_an_invoke_with_a_choice() -> None:
    incoming = activity("invoke_adaptive_card_action")
    assert translate(incoming).event is None  # verb "rate": not a lastmile card
    incoming["value"]["action"] = {
        "type": "Action.Execute",
        "verb": VERB,
        "data": {"token": "forget:3:confirm", "value": "yes"},
    }
    inbound = translate(incoming)
    assert inbound.is_invoke and inbound.card_id == incoming["replyToId"]
    assert isinstance(inbound.event, ChoiceMade)
    assert inbound.event.event_id == incoming["id"] and inbound.event.value == "yes"


def test_an_unknown_time_zone_is_not_kept() -> None:
    incoming = activity("message_personal", local_timezone="Mars/Olympus_Mons")
    incoming["entities"] = [{"type": "clientInfo", "timezone": "America/Chicago"}]
    assert translate(incoming).actor.timezone == "America/Chicago"
    incoming["entities"] = []
    assert translate(incoming).actor.timezone == ""


def test_other_activity_types_are_not_events() -> None:
    assert translate(activity("message_personal", type="typing")).event is None


@pytest.mark.parametrize(
    "error",
    [requests.ConnectionError("refused"), ClientRequestError("retries exhausted"), OSError()],
)
def test_connection_failures_are_retried(error: Exception) -> None:
    assert isinstance(delivery_failure(error, to_person=True), RetryLater)
