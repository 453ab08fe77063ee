"""Teams in-process: real-shaped activities in, the fake Bot Connector out (acceptance 1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.teams.cards import ADAPTIVE_CARD, VERB
from bot.config import Settings
from storage.models import (
    Answer,
    ChannelAddress,
    CheckIn,
    ConversationAddress,
    InboxEvent,
    Note,
    Person,
    SentMessage,
    Workaround,
)
from tests.conftest import FakeClock
from tests.fakes.teams_activities import (
    CHANNEL_ID,
    PERSONAL_CONVERSATION_ID,
    TEAM_ID,
    USER_EMAIL,
    USER_ID,
    PostResult,
)
from tests.helpers import person, rows
from tests.teams_support import (
    TeamsBotUnderTest,
    action_titled,
    card_actions,
    card_texts,
    cards_in,
    teams_bot,
    teams_settings,
)

QUESTION = "Did RoutePilot help you this afternoon?"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return teams_settings(database_url)


@pytest.fixture
async def bot(settings: Settings, clock: FakeClock) -> AsyncIterator[TeamsBotUnderTest]:
    async with teams_bot(settings, clock) as running:
        yield running


async def install(bot: TeamsBotUnderTest) -> None:
    """Megan adds the app: Teams sends installationUpdate and conversationUpdate."""
    assert (await bot.post("installation_update_add_personal")).status == 200
    assert (await bot.post("conversation_update_members_added_personal")).status == 200


async def proactive_checkin(bot: TeamsBotUnderTest) -> tuple[CheckIn, dict[str, Any]]:
    """Install, queue a check-in, run the outbox: the check-in card as Teams received it."""
    await install(bot)
    checkin = await bot.queue_checkin(USER_ID)
    assert await bot.deliver() == 1
    sent = bot.connector.activities(PERSONAL_CONVERSATION_ID)[-1]
    return checkin, sent


def sent_id(bot: TeamsBotUnderTest, activity: dict[str, Any]) -> str:
    """The id the connector gave a sent activity."""
    for call in bot.connector.requests():
        if call.body is activity or call.body == activity:
            return str(call.response["id"])
    raise AssertionError("activity was not sent")


async def execute(
    bot: TeamsBotUnderTest, data: dict[str, Any], reply_to: str = "1715675470021"
) -> PostResult:
    """Press an Action.Execute button: an adaptiveCard/action invoke with the button's data."""
    activity = bot.activity("invoke_adaptive_card_action", reply_to_id=reply_to)
    activity["value"] = {
        "action": {"type": "Action.Execute", "verb": VERB, "data": data},
        "trigger": "manual",
    }
    return await bot.post(activity)


async def submit(bot: TeamsBotUnderTest, data: dict[str, Any], reply_to: str) -> PostResult:
    """Press an Action.Submit button: a message whose value is the button's data."""
    activity = bot.activity("message_submit_action", reply_to_id=reply_to)
    activity["value"] = data
    return await bot.post(activity)


async def say(bot: TeamsBotUnderTest, text: str) -> list[dict[str, Any]]:
    """Megan writes to the bot; the activities it answered with."""
    before = len(bot.connector.activities(PERSONAL_CONVERSATION_ID))
    result = await bot.post("message_personal", text=text)
    assert result.status == 200
    return bot.connector.activities(PERSONAL_CONVERSATION_ID)[before:]


# -- install ---------------------------------------------------------------------------------


async def test_install_stores_the_reference_and_welcomes_once(bot: TeamsBotUnderTest) -> None:
    await install(bot)
    [welcome] = bot.connector.activities(PERSONAL_CONVERSATION_ID)
    assert welcome["text"].startswith("Hi, I'm lastmile.")
    assert "RoutePilot" in welcome["text"] and "totals of 5 or more" in welcome["text"]
    megan = await person(bot.runtime, USER_ID, platform="teams")
    assert (megan.email, megan.cohort_id, megan.timezone) == (
        USER_EMAIL,
        "stores",
        "Europe/London",
    )
    [address] = await rows(bot.runtime, ConversationAddress, person_id=megan.id)
    assert address.platform == "teams"
    assert address.data["conversation"]["id"] == PERSONAL_CONVERSATION_ID
    assert address.data["serviceUrl"] == bot.connector.service_url
    assert address.data["user"]["id"] == USER_ID


async def test_installation_update_alone_keeps_the_reference(bot: TeamsBotUnderTest) -> None:
    assert (await bot.post("installation_update_add_personal")).status == 200
    megan = await person(bot.runtime, USER_ID, platform="teams")
    [address] = await rows(bot.runtime, ConversationAddress, person_id=megan.id)
    assert address.data["conversation"]["id"] == PERSONAL_CONVERSATION_ID
    assert bot.connector.activities() == []


async def test_team_install_remembers_the_team_and_welcomes_the_channel(
    bot: TeamsBotUnderTest,
) -> None:
    assert (await bot.post("conversation_update_members_added_team")).status == 200
    [channel] = await rows(bot.runtime, ChannelAddress)
    assert (channel.platform, channel.channel_id) == ("teams", CHANNEL_ID)
    assert channel.data["team_id"] == TEAM_ID
    assert channel.data["reference"]["conversation"]["id"] == CHANNEL_ID
    [welcome] = bot.connector.activities(CHANNEL_ID)
    assert welcome["text"].startswith("Hi, I'm lastmile.")
    # Only what works in a channel: check-ins and personal commands are for the 1:1 chat.
    assert "digest" in welcome["text"] and "1:1 chat" in welcome["text"]
    assert "One tap is enough" not in welcome["text"] and "pause" not in welcome["text"]
    # A channel is not anyone's 1:1 address.
    assert await rows(bot.runtime, ConversationAddress) == []


# -- a proactive check-in and its answers ----------------------------------------------------


async def test_proactive_checkin_arrives_as_an_adaptive_card(bot: TeamsBotUnderTest) -> None:
    checkin, sent = await proactive_checkin(bot)
    [card] = cards_in(sent)
    assert card["version"] == "1.5" and card_texts(card) == [QUESTION]
    labels = [action["title"] for action in card_actions(card)]
    assert labels == ["Yes, it helped", "Partly", "No", "Didn't use it", "Not now"]
    partly = action_titled(card, "Partly")
    data = {"token": f"checkin:{checkin.id}:first", "value": "partly"}
    assert partly["type"] == "Action.Execute" and partly["verb"] == VERB
    assert partly["data"] == data
    assert partly["fallback"]["type"] == "Action.Submit" and partly["fallback"]["data"] == data
    # A new message in the chat, not a reply to the continuation's made-up id.
    [call] = [c for c in bot.connector.requests() if c.body is sent or c.body == sent]
    assert call.operation == "send"
    [stored] = await rows(bot.runtime, CheckIn, id=checkin.id)
    assert stored.status == "sent"
    assert stored.message_ref["activity_id"] == call.response["id"]


async def test_action_execute_answer_is_stored_and_the_card_refreshed(
    bot: TeamsBotUnderTest,
) -> None:
    checkin, card_activity = await proactive_checkin(bot)
    token = f"checkin:{checkin.id}:first"
    result = await execute(bot, {"token": token, "value": "partly"}, sent_id(bot, card_activity))
    assert result.status == 200
    assert result.body["statusCode"] == 200 and result.body["type"] == ADAPTIVE_CARD
    # The tapped card is the check-in's next step at once: one card for the check-in.
    refreshed = result.body["value"]
    assert card_texts(refreshed) == [QUESTION, "✓ Partly", "What did you do instead?"]
    assert [a["title"] for a in card_actions(refreshed)][:2] == [
        "Did it by hand",
        "Used the old system",
    ]
    [answer] = await rows(bot.runtime, Answer, checkin_id=checkin.id)
    assert answer.outcome == "partly"
    assert bot.connector.activities(PERSONAL_CONVERSATION_ID)[-1] == card_activity

    # A second tap on the same button (a new invoke id) stores nothing more.
    again = await execute(bot, {"token": token, "value": "no"}, sent_id(bot, card_activity))
    assert again.body["value"] == "You already answered this one, thank you."
    assert [a.outcome for a in await rows(bot.runtime, Answer)] == ["partly"]


async def test_action_submit_answer_is_stored_and_the_card_replaced(
    bot: TeamsBotUnderTest,
) -> None:
    checkin, card_activity = await proactive_checkin(bot)
    card_id = sent_id(bot, card_activity)
    data = {"token": f"checkin:{checkin.id}:first", "value": "helped"}
    assert (await submit(bot, data, card_id)).status == 200
    [answer] = await rows(bot.runtime, Answer, checkin_id=checkin.id)
    assert answer.outcome == "helped"
    [update] = bot.connector.requests("update")
    assert update.activity_id == card_id and update.status == 200
    [replacement] = cards_in(update.body)
    assert card_texts(replacement)[:2] == [QUESTION, "✓ RoutePilot helped"]
    assert card_texts(replacement)[2].startswith("Thank you. Your answer is shown")
    assert card_actions(replacement) == []
    assert bot.connector.activities(PERSONAL_CONVERSATION_ID)[-1] == card_activity


async def test_typed_answer_replaces_the_card_that_asked(bot: TeamsBotUnderTest) -> None:
    checkin, card_activity = await proactive_checkin(bot)
    card_id = sent_id(bot, card_activity)
    await execute(bot, {"token": f"checkin:{checkin.id}:first", "value": "partly"}, card_id)
    await execute(bot, {"token": f"checkin:{checkin.id}:workaround", "value": "other"}, card_id)
    replies = await say(bot, "Asked Sam at the depot")
    [workaround] = await rows(bot.runtime, Workaround, checkin_id=checkin.id)
    assert workaround.text == "Asked Sam at the depot"
    [update] = [call for call in bot.connector.requests("update") if call.succeeded][-1:]
    assert update.activity_id == card_id
    texts = card_texts(cards_in(update.body)[0])
    assert texts[1] == "✓ Partly — did something else — “Asked Sam at the depot”"
    assert texts[-1].startswith("Did you override")
    assert replies == []  # the card changed; nothing new was posted


async def test_typed_answer_after_a_restart_replaces_the_card_that_asked(
    bot: TeamsBotUnderTest, settings: Settings, clock: FakeClock
) -> None:
    checkin, card_activity = await proactive_checkin(bot)
    card_id = sent_id(bot, card_activity)
    await execute(bot, {"token": f"checkin:{checkin.id}:first", "value": "partly"}, card_id)
    await execute(bot, {"token": f"checkin:{checkin.id}:workaround", "value": "other"}, card_id)
    before = len(bot.connector.activities(PERSONAL_CONVERSATION_ID))

    # Another process (a restart, or a replica) on the same database gets the answer.
    async with teams_bot(settings, clock) as restarted:
        typed = bot.activity("message_personal", text="Asked Sam at the depot")
        assert (await restarted.post(typed)).status == 200

    [workaround] = await rows(bot.runtime, Workaround, checkin_id=checkin.id)
    assert workaround.text == "Asked Sam at the depot"
    [update] = [call for call in bot.connector.requests("update") if call.succeeded][-1:]
    assert update.activity_id == card_id  # found through the database
    texts = card_texts(cards_in(update.body)[0])
    assert texts[1] == "✓ Partly — did something else — “Asked Sam at the depot”"
    assert texts[-1] == "Did you override or ignore a suggestion from RoutePilot? If so, why?"
    assert len(bot.connector.activities(PERSONAL_CONVERSATION_ID)) == before


async def test_forget_erases_where_the_persons_cards_were_sent(bot: TeamsBotUnderTest) -> None:
    await proactive_checkin(bot)
    megan = await person(bot.runtime, USER_ID, platform="teams")
    assert [m.person_id for m in await rows(bot.runtime, SentMessage)] == [megan.id]
    [confirm] = await say(bot, "forget")
    yes = action_titled(cards_in(confirm)[0], "Yes, erase it all")
    await execute(bot, yes["data"], sent_id(bot, confirm))
    assert await rows(bot.runtime, Person, platform="teams", platform_user_id=USER_ID) == []
    assert await rows(bot.runtime, SentMessage) == []


# -- commands and free text ------------------------------------------------------------------


async def test_a_mention_is_stripped_and_personal_commands_stay_personal(
    bot: TeamsBotUnderTest,
) -> None:
    mention = {"type": "mention", "text": "<at>lastmile</at>"}

    def in_channel(text: str) -> dict[str, Any]:
        activity = bot.activity(
            "message_personal",
            text=f"<at>lastmile</at>&nbsp;{text}",
            conversation={"conversationType": "channel", "id": f"{CHANNEL_ID};messageid=17"},
        )
        activity["entities"] = [{**mention, "mentioned": activity["recipient"]}]
        activity["channelData"]["team"] = {"id": TEAM_ID, "name": "Stores North"}
        return activity

    await bot.post(in_channel("help"))
    await bot.post(in_channel("mydata"))
    # Answers go to the thread the mention was written in.
    help_text, refusal = bot.connector.activities(f"{CHANNEL_ID};messageid=17")
    assert help_text["text"].startswith("Here is what you can tell me:")
    assert refusal["text"] == (
        "That one is just for you: write it to me in our personal chat, not here."
    )
    [channel] = await rows(bot.runtime, ChannelAddress)
    assert channel.channel_id == CHANNEL_ID  # the thread's ;messageid= is not part of it


async def test_user_text_shown_back_cannot_format_or_mention(bot: TeamsBotUnderTest) -> None:
    await install(bot)
    note = "*bold* <at>Megan</at> [link](https://evil.example) # heading & more"
    [kept] = await say(bot, note)
    assert card_texts(cards_in(kept)[0])[0] == "Thanks, I've kept that note. Is it about…"
    [mydata] = await say(bot, "mydata")
    shown = mydata["text"]
    assert "\\*bold\\*" in shown and "&lt;at&gt;Megan&lt;/at&gt;" in shown
    assert "\\[link\\]\\(https://evil.example\\)" in shown and "\\# heading &amp; more" in shown
    assert "<at>" not in shown and "entities" not in mydata
    assert [n.text for n in await rows(bot.runtime, Note)] == [note]


async def test_a_redelivered_activity_is_handled_once(bot: TeamsBotUnderTest) -> None:
    await install(bot)
    activity = bot.activity("message_personal", text="The scanner froze again")
    await bot.post(activity)
    await bot.post(activity)
    assert len(await rows(bot.runtime, Note)) == 1
    assert len(bot.connector.activities(PERSONAL_CONVERSATION_ID)) == 2  # welcome + one answer
    assert await rows(bot.runtime, InboxEvent, event_id=activity["id"])
