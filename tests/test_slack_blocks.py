"""Block Kit rendering: Slack's limits, escaping, modals and the App Home view (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.slack.blocks import (
    SlackFile,
    SlackMessage,
    answered_blocks,
    chunks,
    escape,
    fit,
    form_request,
    form_view,
    home_view,
    render,
    section,
)
from bot.replies import (
    Answered,
    Choices,
    Confirm,
    Image,
    Option,
    Report,
    Section,
    Status,
    Text,
    TextRequest,
)
from bot.wording import Wording, load_wording

NASTY = "<!channel> & <@U123> *bold* _it_ `code` <https://evil.example|click>"


@pytest.fixture(scope="module")
def w() -> Wording:
    return load_wording("en")


def messages(rendered: list[SlackMessage | SlackFile]) -> list[SlackMessage]:
    return [item for item in rendered if isinstance(item, SlackMessage)]


def text_objects(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [obj for item in value for obj in text_objects(item)]
    if not isinstance(value, dict):
        return []
    found = [value] if value.get("type") in ("plain_text", "mrkdwn") else []
    return found + [obj for item in value.values() for obj in text_objects(item)]


def test_escape_replaces_only_slacks_three_control_characters() -> None:
    assert escape(NASTY) == (
        "&lt;!channel&gt; &amp; &lt;@U123&gt; *bold* _it_ `code` &lt;https://evil.example|click&gt;"
    )


def test_fit_cuts_to_the_limit_without_breaking_an_entity() -> None:
    cut = fit("a" * 5 + "&" * 10, 12)

    assert len(cut) <= 12 and cut.endswith("…")
    assert cut.removesuffix("…").removeprefix("aaaaa") == "&amp;"


def test_chunks_keep_every_piece_within_the_limit_and_lose_nothing() -> None:
    lines = [f"line {n} & more <text>" for n in range(400)]
    text = "\n".join(lines)
    long_line = "&" * 7001

    pieces = chunks(text)
    long_pieces = chunks(long_line)

    assert all(len(piece) <= 3000 for piece in pieces + long_pieces)
    assert "\n".join(pieces) == escape(text)
    assert "".join(long_pieces) == escape(long_line)
    assert all(piece.endswith("&amp;") for piece in long_pieces)


def test_user_text_is_plain_text_escaped_and_verbatim(w: Wording) -> None:
    [message] = messages(render(Text(f"You wrote: {NASTY}"), w))

    objects = text_objects(message.blocks)
    assert [obj["type"] for obj in objects] == ["plain_text"]
    assert objects[0]["text"] == f"You wrote: {escape(NASTY)}"
    assert message.text == f"You wrote: {escape(NASTY)}"


def test_long_text_is_split_into_sections_and_messages_within_limits(w: Wording) -> None:
    long = "\n".join(f"• note {n}: " + "x" * 90 for n in range(2000))

    rendered = messages(render(Text(long), w))

    assert len(rendered) > 1
    assert all(len(message.blocks) <= 50 for message in rendered)
    sections = [block["text"]["text"] for m in rendered for block in m.blocks]
    assert all(len(text) <= 3000 for text in sections)
    assert "\n".join(sections) == escape(long)
    assert all(len(message.text) <= 3000 for message in rendered)


def test_choices_render_as_buttons_within_slacks_limits(w: Wording) -> None:
    options = (
        Option("by_hand", "Did it by hand"),
        Option("long", "L" * 120),
        Option("other", "Something else…", free_text=True),
    )
    [message] = messages(
        render(Choices("What did you do instead?", "checkin:4:workaround", options), w)
    )

    prompt, actions = message.blocks
    assert prompt["block_id"] == "lastmile.prompt"
    elements = actions["elements"]
    assert [e["action_id"] for e in elements] == [
        "lastmile.choice.0",
        "lastmile.choice.1",
        "lastmile.form.2",
    ]
    assert len(elements[1]["text"]["text"]) == 75
    assert all(len(e["value"]) <= 2000 for e in elements)
    assert json.loads(elements[2]["value"]) == {"t": "checkin:4:workaround", "v": "other"}
    assert message.token == "checkin:4:workaround"


def test_confirm_marks_the_irreversible_answer(w: Wording) -> None:
    reply = Confirm(
        "Erase everything?", "forget:3:confirm", Option("yes", "Yes"), Option("no", "No")
    )

    [message] = messages(render(reply, w))

    yes, no = message.blocks[1]["elements"]
    assert yes["style"] == "danger" and "style" not in no


def test_text_request_offers_write_it_and_skip_only_when_skippable(w: Wording) -> None:
    ask = TextRequest("Anything to add?", "checkin:4:override_text", "Your answer", "Send", "Skip")

    [skippable] = messages(render(ask, w))
    [required] = messages(render(TextRequest("Why?", "t:1:x", "Your answer", "Send"), w))

    labels = [e["text"]["text"] for e in skippable.blocks[1]["elements"]]
    assert labels == ["Write it…", "Skip"]
    assert json.loads(skippable.blocks[1]["elements"][1]["value"]) == {
        "t": "checkin:4:override_text",
        "v": "skip",
    }
    assert [e["text"]["text"] for e in required.blocks[1]["elements"]] == ["Write it…"]


def test_answered_replaces_the_buttons_with_the_summary() -> None:
    original = [section("Did it help?", "lastmile.prompt"), {"type": "actions", "elements": []}]

    blocks = answered_blocks(original, "You said: <it> helped")

    assert blocks == [
        original[0],
        {
            "type": "context",
            "elements": [
                {"type": "plain_text", "text": "✓ You said: &lt;it&gt; helped", "emoji": True}
            ],
        },
    ]


def test_answered_without_its_message_is_posted_as_a_record(w: Wording) -> None:
    [message] = messages(render(Answered("checkin:1:first", "Not now. No problem."), w))
    assert message.blocks[0]["type"] == "context"


def test_report_blocks_stay_within_limits_and_headings_never_format_user_text(
    w: Wording,
) -> None:
    facts = tuple((f"Team {n}", f"{n}%") for n in range(23))
    sections = tuple(
        Section(heading=f"*Theme* {n}" if n == 0 else f"Theme {n}", facts=facts, lines=(NASTY,))
        for n in range(12)
    )
    report = Report(
        title="T" * 200,
        sections=sections,
        chart=Image(b"png", "Trend", "Help rate over time"),
        footer="Groups of 5 or more only.",
    )

    rendered = render(report, w)

    blocks = [block for m in messages(rendered) for block in m.blocks]
    assert all(len(m.blocks) <= 50 for m in messages(rendered))
    assert len(messages(rendered)) > 1
    assert len(blocks[0]["text"]["text"]) <= 150
    assert all(len(block["fields"]) <= 10 for block in blocks if "fields" in block)
    assert sum(len(block.get("fields", [])) for block in blocks) == 23 * 12
    headings = [b["text"] for b in blocks if b["type"] == "section" and "Theme" in str(b)]
    assert headings[0] == {"type": "plain_text", "text": "*Theme* 0", "emoji": True}
    assert headings[1] == {"type": "mrkdwn", "text": "*Theme 1*", "verbatim": True}
    quotes = [obj for obj in text_objects(blocks) if "bold" in obj["text"]]
    assert quotes and all(obj["type"] == "plain_text" for obj in quotes)
    assert isinstance(rendered[-1], SlackFile) and rendered[-1].png == b"png"


def test_form_view_carries_the_step_and_respects_view_limits(w: Wording) -> None:
    ask = TextRequest(
        "What happened?",
        "checkin:9:workaround_text",
        "Your answer",
        "Send it now please",
        max_length=9000,
    )

    view = form_view(form_request(ask), w, {"t": ask.token, "c": "D0001", "r": ""})

    assert view["callback_id"] == "lastmile.form"
    assert json.loads(view["private_metadata"]) == {"t": ask.token, "c": "D0001", "r": ""}
    assert all(len(view[key]["text"]) <= 24 for key in ("title", "submit", "close"))
    answer = view["blocks"][-1]
    assert (answer["block_id"], answer["element"]["action_id"]) == (
        "lastmile.answer",
        "lastmile.text",
    )
    assert answer["element"]["max_length"] == 3000


def test_home_view_for_a_worker_and_for_a_lead(w: Wording) -> None:
    stored = "\n".join(f"• note {n}: {NASTY} " + "y" * 200 for n in range(3000))
    worker = home_view(Status("paused until Mon", stored, active=False, can_digest=False), w)
    lead = home_view(Status("on", "nothing", active=True, can_digest=True), w)

    assert len(worker["blocks"]) == 100
    assert worker["blocks"][-1]["elements"][0]["text"].startswith("There is more")
    worker_buttons = worker["blocks"][2]["elements"]
    assert [b["action_id"] for b in worker_buttons] == ["lastmile.home.resume"]
    assert [b["action_id"] for b in lead["blocks"][2]["elements"]] == [
        "lastmile.home.pause",
        "lastmile.home.digest",
    ]
    assert all("<!channel>" not in obj["text"] for obj in text_objects(worker["blocks"]))
