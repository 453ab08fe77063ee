"""Adaptive Card and text rendering of engine replies for Teams (pure, no I/O)."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image as PILImage

from adapters.teams.cards import (
    ADAPTIVE_CARD,
    MESSAGE_LIMIT_BYTES,
    VERB,
    answered_card,
    compact_png,
    escape_markdown,
    invoke_card_response,
    render_message,
    size_of,
    tokens_of,
)
from bot.digest.chart import chart_image
from bot.digest.model import WeekPoint
from bot.replies import (
    Answered,
    Choices,
    Confirm,
    Image,
    Option,
    Report,
    Section,
    Text,
    TextRequest,
)
from bot.wording import load_wording
from storage.reports import OutcomeCounts
from tests.teams_support import card_actions, card_texts, cards_in


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("*bold* and **strong**", "\\*bold\\* and \\*\\*strong\\*\\*"),
        ("_italic_ snake_case", "\\_italic\\_ snake\\_case"),
        ("[click](https://evil.example)", "\\[click\\]\\(https://evil.example\\)"),
        ("<at>Megan Bowen</at> hi", "&lt;at&gt;Megan Bowen&lt;/at&gt; hi"),
        ("<b>html</b> & co", "&lt;b&gt;html&lt;/b&gt; &amp; co"),
        ("# Heading", "\\# Heading"),
        ("- not a list\n  + nor this", "\\- not a list\n  \\+ nor this"),
        ("1. not numbered", "1\\. not numbered"),
        ("`code` ~strike~ a|b", "\\`code\\` \\~strike\\~ a\\|b"),
        ("back\\slash", "back\\\\slash"),
        ("well-known 2026-W47, 3.5 km", "well-known 2026-W47, 3.5 km"),
    ],
)
def test_user_text_is_escaped(text: str, shown: str) -> None:
    assert escape_markdown(text) == shown


def only_card(replies: list[object]) -> dict[str, object]:
    message = render_message(replies)  # type: ignore[arg-type]
    assert message is not None
    [card] = cards_in(message)
    return card


def test_choices_are_execute_buttons_with_a_submit_fallback() -> None:
    options = tuple(Option(f"v{number}", f"Option {number}") for number in range(8))
    card = only_card([Choices("Pick *one*", "checkin:7:first", options)])
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card_texts(card) == ["Pick \\*one\\*"]
    action_sets = [e for e in card["body"] if e["type"] == "ActionSet"]  # type: ignore[attr-defined]
    assert [len(s["actions"]) for s in action_sets] == [6, 2]  # Teams shows six in a row
    first = card_actions(card)[0]
    assert first == {
        "type": "Action.Execute",
        "title": "Option 0",
        "verb": VERB,
        "data": {"token": "checkin:7:first", "value": "v0"},
        "associatedInputs": "none",
        "fallback": {
            "type": "Action.Submit",
            "title": "Option 0",
            "data": {"token": "checkin:7:first", "value": "v0"},
            "associatedInputs": "none",
        },
    }


def test_a_text_request_has_an_input_a_send_and_maybe_a_skip() -> None:
    request = TextRequest("What did you do?", "checkin:7:workaround_text", "Your answer", "Send")
    card = only_card([request])
    [text_input] = [e for e in card["body"] if e["type"] == "Input.Text"]  # type: ignore[attr-defined]
    assert text_input == {
        "type": "Input.Text",
        "id": "text",
        "label": "Your answer",
        "isMultiline": True,
        "maxLength": 2000,
    }
    [send] = card_actions(card)
    assert send["data"] == {"token": "checkin:7:workaround_text"}
    assert send["associatedInputs"] == "auto"
    skippable = only_card([TextRequest("Anything?", "t:1:s", "Answer", "Send", skip_label="Skip")])
    assert [a["title"] for a in card_actions(skippable)] == ["Send", "Skip"]
    assert card_actions(skippable)[1]["data"] == {"token": "t:1:s", "value": "skip"}


def test_confirm_has_its_two_answers() -> None:
    confirm = Confirm("Erase it all?", "forget:3:confirm", Option("yes", "Yes"), Option("no", "No"))
    card = only_card([confirm])
    assert [a["data"]["value"] for a in card_actions(card)] == ["yes", "no"]


def test_an_answered_card_has_no_buttons() -> None:
    card = answered_card("You said: it *helped*")
    assert card_texts(card) == ["✓ You said: it \\*helped\\*"]
    assert card_actions(card) == []
    assert invoke_card_response(card) == {
        "statusCode": 200,
        "type": ADAPTIVE_CARD,
        "value": card,
    }


def report(png: bytes) -> Report:
    return Report(
        title="Week 47",
        sections=(
            Section(
                "Rates", facts=(("Help *rate*", "62%"),), lines=("[quote](x) by <at>someone</at>",)
            ),
        ),
        chart=Image(png=png, title="Trend", alt_text="Help rate rose to 62%."),
        footer="Shown only in totals of 5 or more.",
    )


def test_a_report_is_facts_lines_and_an_inline_chart() -> None:
    card = only_card([report(b"\x89PNG small")])
    assert card_texts(card) == [
        "Week 47",
        "Rates",
        "• \\[quote\\]\\(x\\) by &lt;at&gt;someone&lt;/at&gt;",
        "Shown only in totals of 5 or more.",
    ]
    [facts] = [e for e in card["body"] if e["type"] == "FactSet"]  # type: ignore[attr-defined]
    assert facts["facts"] == [{"title": "Help \\*rate\\*", "value": "62%"}]
    [image] = [e for e in card["body"] if e["type"] == "Image"]  # type: ignore[attr-defined]
    assert image["url"].startswith("data:image/png;base64,") and image["altText"]


def test_a_real_trend_chart_is_shown_inline_within_the_limit() -> None:
    outcomes = [(40, 20, 10, 5), (44, 25, 9, 4), (38, 15, 12, 8), (50, 30, 10, 6)] * 3
    points = [
        WeekPoint(
            f"2026-W{30 + week}",
            OutcomeCounts(
                sent=60,
                answered=answered,
                helped=helped,
                partly=partly,
                no=no,
                not_used=answered - helped - partly - no,
                respondents=answered,
            ),
        )
        for week, (answered, helped, partly, no) in enumerate(outcomes)
    ]
    chart = chart_image(points, "Last 12 weeks", load_wording("en"))
    message = render_message([Report("Week 41", (Section("Rates"),), chart=chart)])
    assert message is not None and size_of(message) <= MESSAGE_LIMIT_BYTES
    [image] = [e for e in cards_in(message)[0]["body"] if e["type"] == "Image"]
    shown = base64.b64decode(image["url"].removeprefix("data:image/png;base64,"))
    assert len(shown) <= len(chart.png)
    assert PILImage.open(io.BytesIO(shown)).size == PILImage.open(io.BytesIO(chart.png)).size
    assert compact_png(b"not a picture") == b"not a picture"


def test_a_chart_too_big_for_teams_is_described_instead() -> None:
    message = render_message([report(b"\x00" * MESSAGE_LIMIT_BYTES)])
    assert message is not None and size_of(message) <= MESSAGE_LIMIT_BYTES
    [card] = cards_in(message)
    assert not [e for e in card["body"] if e["type"] == "Image"]
    assert "Help rate rose to 62%." in card_texts(card)


def test_anything_too_big_for_a_card_falls_back_to_text() -> None:
    lines = tuple(f"line {number} " + "x" * 200 for number in range(2000))
    message = render_message([Report("Huge", (Section("All", lines=lines),))])
    assert message is not None and size_of(message) <= MESSAGE_LIMIT_BYTES
    assert message["textFormat"] == "markdown" and message["text"].startswith("Huge")
    assert message["text"].endswith(" …")


def test_plain_texts_are_one_markdown_message_line_by_line() -> None:
    message = render_message([Text("Hello *there*\n• help: this list"), Text("Second")])
    assert message == {
        "type": "message",
        "text": "Hello \\*there\\*\n\n• help: this list\n\nSecond",
        "textFormat": "markdown",
    }


def test_mixed_replies_share_one_card_and_answers_are_left_out() -> None:
    choices = Choices("Did it help?", "checkin:9:first", (Option("helped", "Yes"),))
    replies = [Answered("checkin:8:first", "done"), Text("Still got ten seconds?"), choices]
    card = only_card(replies)
    assert card_texts(card) == ["Still got ten seconds?", "Did it help?"]
    assert tokens_of(replies) == ["checkin:9:first"]
    assert render_message([Answered("checkin:8:first", "done")]) is None
    json.dumps(card)  # what goes on the wire
