"""Check-ins, answers, modals, slash commands and App Home over HTTP and over Socket Mode."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from adapters.slack.blocks import escape
from storage.models import Answer, Note, Override, Person, SentMessage, Workaround
from tests.conftest import FakeClock
from tests.fakes.slack_api import RecordedCall
from tests.fakes.slack_signing import app_home_opened_payload
from tests.slack_support import (
    DANA,
    ERIN,
    LEAD,
    Harness,
    another_process,
    button_for,
    buttons,
    running,
    texts,
)

NASTY = "Phoned dispatch <!channel> & asked <@U123> *bold* again"


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    """lastmile with Slack over HTTP (Socket Mode runs the same listeners: see
    tests/test_slack_security.py)."""
    async with running(database_url, clock) as harness:
        yield harness


def updates(harness: Harness, ts: str) -> list[dict[str, Any]]:
    return [c.params for c in harness.fake.calls("chat.update") if c.params["ts"] == ts]


def now_showing(harness: Harness, question: RecordedCall) -> RecordedCall:
    """The question's message as it reads now (each step updates it in place)."""
    assert question.response is not None
    message = harness.fake.messages[(question.response["channel"], question.response["ts"])]
    return replace(question, params={**question.params, "blocks": message["blocks"]})


def section_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [block["text"]["text"] for block in blocks if block["type"] == "section"]


def context_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        element["text"]
        for block in blocks
        if block["type"] == "context"
        for element in block["elements"]
    ]


async def test_checkin_arrives_as_a_dm_with_buttons_and_a_click_stores_the_answer(
    slack: Harness,
) -> None:
    question = await slack.checkin_message(DANA)

    dm = slack.fake.dm_channel_for(DANA)
    # Posted to Dana's id, which lands in the bot's DM with her: no conversations.open.
    assert question.params["channel"] == DANA
    assert question.response is not None and question.response["channel"] == dm
    assert slack.fake.calls("conversations.open") == []
    labels = [b["text"]["text"] for b in buttons(question.params["blocks"])]
    assert labels == ["Yes, it helped", "Partly", "No", "Didn't use it", "Not now"]
    assert len({b["action_id"] for b in buttons(question.params["blocks"])}) == 5

    delivered = await slack.click(question, "helped")

    assert delivered.status == 200
    assert [a.outcome for a in await slack.rows(Answer)] == ["helped"]
    [update] = updates(slack, question.response["ts"])  # type: ignore[index]
    assert update["channel"] == dm
    assert buttons(update["blocks"]) == []  # nothing left to tap twice
    [receipt] = section_texts(update["blocks"])
    assert receipt.startswith("Did RoutePilot help you this afternoon?\n✓ RoutePilot helped\n")
    assert "Thank you" in receipt
    assert slack.last_post(DANA) == question  # the same message, no new one


async def test_partly_then_something_else_opens_a_modal_that_stores_the_workaround(
    slack: Harness,
) -> None:
    question = await slack.checkin_message(DANA)
    await slack.click(question, "partly")
    workaround_question = now_showing(slack, question)
    assert section_texts(workaround_question.params["blocks"])[-1].endswith(
        "What did you do instead?"
    )
    something_else = button_for(workaround_question.params["blocks"], "other")
    assert something_else["text"]["text"] == "Something else…"

    click = slack.click_payload(workaround_question, "other")
    await slack.send("interactive", click)

    opened = slack.fake.last_call("views.open")
    assert opened.params["trigger_id"] == click["trigger_id"]
    modal = opened.params["view"]
    assert modal["type"] == "modal" and modal["callback_id"] == "lastmile.form"
    text_request = now_showing(slack, question)
    assert "✓ Partly — did something else" in section_texts(text_request.params["blocks"])[0]
    assert [b["text"]["text"] for b in buttons(text_request.params["blocks"])] == [
        "Write it…",
        "Skip",
    ]

    view_id = opened.response["view"]["id"]  # type: ignore[index]
    submitted = await slack.send("interactive", slack.submit_payload(view_id, "Rang the depot"))

    assert submitted.status == 200
    [workaround] = await slack.rows(Workaround)
    assert (workaround.kind, workaround.text) == ("other", "Rang the depot")
    after = section_texts(now_showing(slack, question).params["blocks"])[0]
    assert "✓ Partly — did something else — “Rang the depot”" in after
    assert after.endswith("Did you override or ignore a suggestion from RoutePilot? If so, why?")
    assert slack.posts_to(DANA)[-1] == question  # still one message


async def test_write_it_button_and_typing_in_the_dm_both_answer_a_text_step(
    slack: Harness,
) -> None:
    question = await slack.checkin_message(DANA)
    await slack.click(question, "no")
    await slack.click(now_showing(slack, question), "colleague")
    await slack.click(now_showing(slack, question), "wrong")
    detail = now_showing(slack, question)

    await slack.click(detail, "write")
    opened = slack.fake.last_call("views.open").params["view"]
    assert opened["blocks"][0]["block_id"] == "lastmile.prompt"  # the question, shown again
    assert opened["blocks"][-1]["element"]["max_length"] == 2000

    await slack.send("events", slack.dm_payload("It suggested a closed road"))

    [override] = await slack.rows(Override)
    assert (override.overridden, override.reason, override.text) == (
        True,
        "wrong",
        "It suggested a closed road",
    )
    saved = now_showing(slack, question)
    assert buttons(saved.params["blocks"]) == []
    assert "“It suggested a closed road”" in section_texts(saved.params["blocks"])[0]
    assert await slack.rows(Note) == []  # an answer, not a volunteered note


async def test_an_answer_typed_after_a_restart_replaces_the_question_it_answers(
    slack: Harness,
) -> None:
    question = await slack.checkin_message(DANA)
    await slack.click(question, "partly")
    await slack.send("interactive", slack.click_payload(now_showing(slack, question), "other"))
    posts_before = len(slack.posts_to(DANA))

    async with another_process(slack) as restarted:
        await restarted.send("events", restarted.dm_payload("Rang the depot"))

    [workaround] = await slack.rows(Workaround)
    assert (workaround.kind, workaround.text) == ("other", "Rang the depot")
    saved = slack.fake.calls("chat.update")[-1].params
    assert (saved["channel"], saved["ts"]) == (
        question.response["channel"],  # type: ignore[index]
        question.response["ts"],  # type: ignore[index]
    )
    # The same message shows the next step: its copy came from the database.
    assert section_texts(saved["blocks"])[0].endswith(
        "Did you override or ignore a suggestion from RoutePilot? If so, why?"
    )
    assert len(slack.posts_to(DANA)) == posts_before  # nothing new posted
    assert await slack.rows(SentMessage) != []  # the new step is remembered


async def test_forget_erases_where_the_persons_questions_were_posted(slack: Harness) -> None:
    await slack.checkin_message(DANA)
    [dana] = [p for p in await slack.rows(Person) if p.platform_user_id == DANA]
    assert [m.person_id for m in await slack.rows(SentMessage)] == [dana.id]

    confirm = await slack.command("forget")
    await slack.send("interactive", slack.ephemeral_click_payload(confirm["blocks"], "yes"))

    assert DANA not in {p.platform_user_id for p in await slack.rows(Person)}
    assert await slack.rows(SentMessage) == []


async def test_someone_else_cannot_answer_a_persons_checkin(slack: Harness) -> None:
    question = await slack.checkin_message(DANA)

    await slack.click(question, "no", user="U0OTHER001")

    assert await slack.rows(Answer) == []
    assert slack.fake.calls("chat.update") == []


async def test_slash_commands_help_pause_mydata_and_forget(slack: Harness) -> None:
    help_answer = await slack.command("")
    assert "Here is what you can tell me" in help_answer["text"]
    assert help_answer["response_type"] == "ephemeral"

    paused = await slack.command("pause 1w")
    [person] = [p for p in await slack.rows(Person) if p.platform_user_id == DANA]
    assert "Check-ins are paused. I'll ask again from" in paused["text"]
    assert person.status == "paused"

    mydata = await slack.command("mydata")
    assert mydata["text"].startswith("Here is everything I keep about you.")
    assert "paused until" in mydata["text"]

    confirm = await slack.command("forget")
    assert [b["text"]["text"] for b in buttons(confirm["blocks"])] == [
        "Yes, erase it all",
        "No, keep it",
    ]
    click = slack.ephemeral_click_payload(confirm["blocks"], "yes")
    await slack.send("interactive", click)

    assert DANA not in {p.platform_user_id for p in await slack.rows(Person)}
    replaced = slack.fake.calls("response_url")[-1]
    assert replaced.params["url"] == click["response_url"]
    assert replaced.params["replace_original"] is True
    assert context_texts(replaced.params["blocks"]) == [
        "✓ Done. Everything I kept about you is erased. You are still in the pilot, "
        "so a check-in may come again; type stop if you would rather not."
    ]


async def test_app_home_shows_status_data_and_pause_resume(slack: Harness) -> None:
    await slack.command("mydata")  # Dana is known
    await slack.send("events", _home_opened(slack, DANA))

    home = slack.fake.home_views[DANA]
    shown = "\n".join(texts(home["blocks"]))
    assert "Check-ins: on" in shown
    assert "Here is everything I keep about you." in shown
    assert [b["text"]["text"] for b in buttons(home["blocks"])] == ["Pause for a week"]

    await slack.send("interactive", slack.home_click_payload(DANA, "pause"))

    [person] = [p for p in await slack.rows(Person) if p.platform_user_id == DANA]
    assert person.status == "paused"
    assert "Check-ins are paused" in slack.last_post(DANA).params["text"]
    republished = slack.fake.home_views[DANA]
    assert [b["text"]["text"] for b in buttons(republished["blocks"])] == ["Resume check-ins"]

    await slack.send("interactive", slack.home_click_payload(DANA, "resume"))
    [person] = [p for p in await slack.rows(Person) if p.platform_user_id == DANA]
    assert person.status == "active"


async def test_app_home_gives_a_lead_a_digest_button(slack: Harness) -> None:
    await slack.send("events", _home_opened(slack, LEAD))
    home = slack.fake.home_views[LEAD]
    assert [b["text"]["text"] for b in buttons(home["blocks"])] == [
        "Pause for a week",
        "My digest",
    ]
    before = len(slack.posts_to(LEAD))

    await slack.send("interactive", slack.home_click_payload(LEAD, "digest"))

    # The engine answers the `digest` command in the lead's DM (its content is the digest's).
    answers = slack.posts_to(LEAD)[before:]
    assert answers and all("didn't get that" not in a.params["text"] for a in answers)
    assert json.loads(button_for(home["blocks"], "digest")["value"]) == {"c": "digest"}


async def test_time_zone_and_email_come_from_users_info(slack: Harness) -> None:
    await slack.send("events", slack.dm_payload("checkin", user=ERIN))
    await slack.send("events", slack.dm_payload("help", user=ERIN))

    [erin] = [p for p in await slack.rows(Person) if p.platform_user_id == ERIN]
    assert (erin.timezone, erin.email, erin.cohort_id) == (
        "Asia/Kolkata",
        "erin@example.com",
        "north",
    )
    assert "Hi, I'm lastmile" in slack.posts_to(ERIN)[0].params["text"]  # first contact
    assert "Did RoutePilot help you" in slack.posts_to(ERIN)[1].params["text"]
    assert [c.params["user"] for c in slack.fake.calls("users.info")].count(ERIN) == 1


async def test_a_worker_text_is_escaped_everywhere_it_is_shown_back(slack: Harness) -> None:
    question = await slack.checkin_message(DANA)
    await slack.click(question, "partly")
    await slack.click(now_showing(slack, question), "other")
    view_id = slack.fake.last_call("views.open").response["view"]["id"]  # type: ignore[index]
    await slack.send("interactive", slack.submit_payload(view_id, NASTY))
    # A volunteered note too, typed in the DM: Slack sends &, <, > typed as entities.
    await slack.send("events", slack.dm_payload(escape(NASTY)))
    await slack.send("events", slack.dm_payload("mydata"))
    await slack.command("mydata")
    await slack.send("events", _home_opened(slack, DANA))

    [workaround] = await slack.rows(Workaround)
    [note] = await slack.rows(Note)
    assert workaround.text == note.text == NASTY  # stored as written
    outbound = [
        call.params
        for call in slack.fake.calls()
        if call.method
        in ("chat.postMessage", "chat.update", "response_url", "views.publish", "views.open")
    ]
    escaped = "Phoned dispatch &lt;!channel&gt; &amp; asked &lt;@U123&gt; *bold* again"
    for params in outbound:
        for text in texts(params):
            assert "<!channel>" not in text and "<@U123>" not in text
    showing = [_text_objects_with(params, "again") for params in outbound]
    shown = [obj for objs in showing for obj in objs]
    surfaces = [params for params, objs in zip(outbound, showing, strict=True) if objs]
    assert len(surfaces) >= 3  # DM mydata, ephemeral mydata, App Home
    assert all(obj["type"] == "plain_text" and escaped in obj["text"] for obj in shown)
    fallbacks = [p["text"] for p in surfaces if "text" in p]
    assert fallbacks and all(escaped in text for text in fallbacks)


def _text_objects_with(value: Any, needle: str) -> list[dict[str, Any]]:
    """Block Kit text objects (plain_text / mrkdwn) whose text contains `needle`."""
    if isinstance(value, list):
        return [obj for item in value for obj in _text_objects_with(item, needle)]
    if not isinstance(value, dict):
        return []
    found = []
    if value.get("type") in ("plain_text", "mrkdwn") and needle in str(value.get("text")):
        found.append(value)
    for item in value.values():
        found.extend(_text_objects_with(item, needle))
    return found


def _home_opened(harness: Harness, user: str) -> dict[str, Any]:
    return app_home_opened_payload(user=user, channel=harness.fake.dm_channel_for(user))
