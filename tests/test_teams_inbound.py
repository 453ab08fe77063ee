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
from bot.platform import Inbound
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


def read(incoming: dict[str, Any]) -> Inbound:
    inbound = translate(incoming)
    assert inbound is not None, f"{incoming['type']} was ignored"
    return inbound


def test_personal_install_is_a_member_joined_with_a_usable_reference() -> None:
    incoming = activity("conversation_update_members_added_personal")
    inbound = read(incoming)
    assert isinstance(inbound.event, MemberJoined)
    assert inbound.event.greet and not inbound.event.shared
    assert inbound.event_id == inbound.event.event_id == incoming["id"]
    assert inbound.person_key == f"teams:{USER_ID}"
    actor = inbound.event.actor
    assert (actor.platform, actor.user_id, actor.workspace_id) == ("teams", USER_ID, TENANT_ID)
    reference = ConversationReference().deserialize(inbound.event.address.data)
    assert reference.conversation.id == PERSONAL_CONVERSATION_ID
    assert reference.service_url == SERVICE_URL
    assert (reference.bot.id, reference.user.id, reference.channel_id) == (
        BOT_ID,
        USER_ID,
        "msteams",
    )
    assert inbound.channel is None and inbound.context["personal"]
    assert inbound.context["reference"] == inbound.event.address.data


def test_team_install_welcomes_the_team_and_remembers_the_channel() -> None:
    inbound = read(activity("conversation_update_members_added_team"))
    assert isinstance(inbound.event, MemberJoined) and inbound.event.shared
    assert inbound.event.address.data == {}  # never a person's 1:1 address
    assert inbound.channel is not None
    assert inbound.channel.channel_id == CHANNEL_ID
    assert inbound.channel.data["team_id"] == TEAM_ID
    assert inbound.channel.data["tenant_id"] == TENANT_ID
    assert inbound.channel.data["reference"]["conversation"]["id"] == CHANNEL_ID
    assert inbound.conversation == CHANNEL_ID  # the welcome goes to the channel


def test_someone_else_joining_a_team_is_not_an_event() -> None:
    incoming = activity("conversation_update_members_added_team")
    incoming["membersAdded"] = [{"id": "29:1someone-else"}]
    assert translate(incoming) is None


def test_installation_update_only_keeps_the_reference_with_the_time_zone() -> None:
    inbound = read(activity("installation_update_add_personal"))
    assert isinstance(inbound.event, MemberJoined) and not inbound.event.greet
    assert inbound.event.actor.timezone == "Europe/London"
    assert inbound.event.address.data["conversation"]["id"] == PERSONAL_CONVERSATION_ID
    assert translate(activity("installation_update_add_personal", action="remove")) is None


def test_a_message_is_text_for_the_engine() -> None:
    incoming = activity("message_personal", text="  pause 1w ")
    inbound = read(incoming)
    event = inbound.event
    assert isinstance(event, MessageReceived)
    assert (event.text, event.event_id, event.is_command, event.shared) == (
        "pause 1w",
        incoming["id"],
        False,
        False,
    )
    assert event.actor.display_name == "Megan Bowen"
    assert event.actor.timezone == "Europe/London" and event.actor.locale == "en-GB"
    assert not inbound.answer_now


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
    inbound = read(incoming)
    assert isinstance(inbound.event, MessageReceived)
    assert inbound.event.text == "digest north"
    assert inbound.event.is_command and inbound.event.shared
    assert inbound.channel is not None and inbound.channel.channel_id == CHANNEL_ID


def test_action_submit_is_a_choice_or_a_form_naming_its_card() -> None:
    choice = activity("message_submit_action")
    choice["value"] = {"token": "checkin:4:first", "value": "partly"}
    inbound = read(choice)
    assert isinstance(inbound.event, ChoiceMade)
    assert (inbound.event.token, inbound.event.value) == ("checkin:4:first", "partly")
    context = inbound.context
    assert (context["token"], context["card_id"]) == ("checkin:4:first", choice["replyToId"])
    assert not inbound.answer_now  # Action.Submit is a message: nothing to answer at once
    form = activity("message_submit_action")
    form["value"] = {"token": "checkin:4:workaround_text", "text": " By hand "}
    submitted = read(form).event
    assert isinstance(submitted, FormSubmitted) and submitted.text == "By hand"


def test_someone_elses_card_submit_is_ignored() -> None:
    # The fixture's value is another bot's card data: no token, nothing for lastmile.
    assert translate(activity("message_submit_action")) is None


def test_action_execute_is_an_invoke_answered_at_once() -> None:
    incoming = activity("invoke_adaptive_card_action")
    assert translate(incoming) is None  # verb "rate": not a lastmile card
    incoming["value"]["action"] = {
        "type": "Action.Execute",
        "verb": VERB,
        "data": {"token": "forget:3:confirm", "value": "yes"},
    }
    inbound = read(incoming)
    assert inbound.answer_now and inbound.context["invoke"]
    assert inbound.context["card_id"] == incoming["replyToId"]
    assert isinstance(inbound.event, ChoiceMade)
    assert inbound.event.event_id == incoming["id"] and inbound.event.value == "yes"


def test_an_unknown_time_zone_is_not_kept() -> None:
    incoming = activity("message_personal", local_timezone="Mars/Olympus_Mons")
    incoming["entities"] = [{"type": "clientInfo", "timezone": "America/Chicago"}]
    event = read(incoming).event
    assert event is not None and event.actor.timezone == "America/Chicago"
    incoming["entities"] = []
    event = read(incoming).event
    assert event is not None and event.actor.timezone == ""


def test_other_activity_types_are_not_events() -> None:
    assert translate(activity("message_personal", type="typing")) is None


@pytest.mark.parametrize(
    "error",
    [requests.ConnectionError("refused"), ClientRequestError("retries exhausted"), OSError()],
)
def test_connection_failures_are_retried(error: Exception) -> None:
    assert isinstance(delivery_failure(error, to_person=True), RetryLater)
