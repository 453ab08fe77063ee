"""Renders engine replies as Teams messages: Adaptive Cards 1.5, or markdown text."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from PIL import Image as PILImage

from bot.replies import (
    Answered,
    Choices,
    Confirm,
    File,
    Image,
    Option,
    Replace,
    Reply,
    Report,
    Status,
    Text,
    TextRequest,
    as_plain_text,
)

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
VERB = "lastmile"
"""The Action.Execute verb of every lastmile button; the data says the rest."""
TEXT_INPUT_ID = "text"
"""The Input.Text id: its value arrives as data["text"] next to the token."""
MESSAGE_LIMIT_BYTES = 80 * 1024
"""Teams refuses bot messages over about 100 KB; stay well under it."""
ACTIONS_PER_SET = 6
"""Teams shows at most six buttons in a row before it hides the rest in a menu."""

Element = dict[str, Any]
Activity = dict[str, Any]

# Adaptive Card TextBlocks and Teams text messages both read markdown; user text must
# show verbatim, so every character that could start formatting is escaped.
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]()~#|])")
_LINE_START = re.compile(r"(?m)^(\s*)([-+])")
_ORDERED_ITEM = re.compile(r"(?m)^(\s*\d+)\.")


def escape_markdown(text: str) -> str:
    """Make text show literally in Teams markdown: no emphasis, links, lists, HTML or mentions.

    ``<at>…</at>`` becomes ``&lt;at&gt;…`` and no mention entity is ever attached,
    so user text can never ping anyone.
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN_INLINE.sub(r"\\\1", text)
    text = _LINE_START.sub(r"\1\\\2", text)
    return _ORDERED_ITEM.sub(r"\1\\.", text)


def text_block(text: str, **style: Any) -> Element:
    """A wrapping TextBlock showing ``text`` literally."""
    return {"type": "TextBlock", "text": escape_markdown(text), "wrap": True, **style}


def _paragraphs(text: str) -> list[Element]:
    # One block per line: hosts disagree on how a bare newline renders inside a block.
    blocks: list[Element] = []
    gap = False
    for line in text.split("\n"):
        if not line.strip():
            gap = True
            continue
        block = text_block(line)
        if blocks:
            block["spacing"] = "Medium" if gap else "None"
        blocks.append(block)
        gap = False
    return blocks


def action_data(token: str, value: str | None = None) -> dict[str, str]:
    """What a button sends back: the routing token, and the option's value if any."""
    return {"token": token} if value is None else {"token": token, "value": value}


def execute_action(title: str, data: dict[str, str], *, with_inputs: bool = False) -> Element:
    """An Action.Execute (Universal Actions) that falls back to Action.Submit on old clients."""
    inputs = {"associatedInputs": "auto" if with_inputs else "none"}
    fallback = {"type": "Action.Submit", "title": title, "data": data, **inputs}
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": VERB,
        "data": data,
        **inputs,
        "fallback": fallback,
    }


def _action_sets(token: str, options: Sequence[Option]) -> list[Element]:
    actions = [execute_action(option.label, action_data(token, option.value)) for option in options]
    return [
        {"type": "ActionSet", "actions": actions[start : start + ACTIONS_PER_SET]}
        for start in range(0, len(actions), ACTIONS_PER_SET)
    ]


def _text(reply: Text) -> list[Element]:
    return _paragraphs(reply.text)


def _choices(reply: Choices) -> list[Element]:
    return [*_paragraphs(reply.text), *_action_sets(reply.token, reply.options)]


def _confirm(reply: Confirm) -> list[Element]:
    return [*_paragraphs(reply.text), *_action_sets(reply.token, (reply.yes, reply.no))]


def _text_request(reply: TextRequest) -> list[Element]:
    text_input = {
        "type": "Input.Text",
        "id": TEXT_INPUT_ID,
        "label": reply.label,
        "isMultiline": True,
        "maxLength": reply.max_length,
    }
    if reply.optional:
        text_input["placeholder"] = reply.label
    actions = [execute_action(reply.submit_label, action_data(reply.token), with_inputs=True)]
    if reply.skip_label:
        actions.append(execute_action(reply.skip_label, action_data(reply.token, "skip")))
    return [*_paragraphs(reply.prompt), text_input, {"type": "ActionSet", "actions": actions}]


def _image_element(image: Image) -> Element:
    data = base64.b64encode(image.png).decode("ascii")
    return {
        "type": "Image",
        "url": f"data:image/png;base64,{data}",
        "altText": image.alt_text,
        "size": "Stretch",
    }


def _image(reply: Image) -> list[Element]:
    return [text_block(reply.title, weight="Bolder"), _image_element(reply)]


def _report(reply: Report, *, with_chart: bool = True) -> list[Element]:
    body: list[Element] = [text_block(reply.title, size="Medium", weight="Bolder")]
    for section in reply.sections:
        body.append(text_block(section.heading, weight="Bolder", spacing="Medium"))
        if section.facts:
            facts = [
                {"title": escape_markdown(label), "value": escape_markdown(value)}
                for label, value in section.facts
            ]
            body.append({"type": "FactSet", "facts": facts})
        body.extend(text_block(f"• {line.strip()}", spacing="Small") for line in section.lines)
    if reply.chart is not None:
        if with_chart:
            body.append(_image_element(reply.chart))
        else:
            body.append(text_block(reply.chart.alt_text, isSubtle=True))
    if reply.footer:
        body.append(text_block(reply.footer, isSubtle=True, spacing="Medium"))
    return body


def _answered(reply: Answered) -> list[Element]:
    return [text_block(f"✓ {reply.summary}", isSubtle=True)]


def _replace(reply: Replace) -> list[Element]:
    return _ELEMENTS[type(reply.reply)](reply.reply)


def _file(reply: File) -> list[Element]:
    # A bot can send a file in Teams only through the user's OneDrive after they accept
    # a consent card; the contents are shown in the message instead, ready to copy.
    return [
        text_block(reply.title, weight="Bolder"),
        text_block(reply.filename, isSubtle=True, spacing="None"),
        {
            "type": "TextBlock",
            "text": reply.content.decode("utf-8", errors="replace"),
            "wrap": True,
            "fontType": "Monospace",
            "size": "Small",
        },
    ]


def _status(reply: Status) -> list[Element]:
    return [text_block(reply.status, weight="Bolder"), *_paragraphs(reply.stored)]


_ELEMENTS: dict[type[Any], Callable[[Any], list[Element]]] = {
    Text: _text,
    Choices: _choices,
    Confirm: _confirm,
    TextRequest: _text_request,
    Image: _image,
    Report: _report,
    Answered: _answered,
    Replace: _replace,
    File: _file,
    Status: _status,
}


def card(body: list[Element]) -> dict[str, Any]:
    """An Adaptive Card 1.5 with ``body``, as wide as the chat allows."""
    return {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }


def card_for(replies: Sequence[Reply]) -> dict[str, Any]:
    """One card showing every reply in order."""
    return card([element for reply in replies for element in _ELEMENTS[type(reply)](reply)])


def answered_card(summary: str) -> dict[str, Any]:
    """The card that replaces an answered question: the summary, no buttons left to tap."""
    return card_for([Answered(token="", summary=summary)])


def size_of(activity: Activity) -> int:
    """Bytes of the activity as sent."""
    return len(json.dumps(activity, ensure_ascii=False).encode("utf-8"))


def card_message(content: dict[str, Any]) -> Activity:
    """A message activity carrying one Adaptive Card."""
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "content": content}],
    }


def text_message(text: str) -> Activity:
    """A markdown text message showing ``text`` literally, line by line."""
    lines = [escape_markdown(line) for line in text.split("\n") if line.strip()]
    # Teams drops single newlines in markdown messages; a blank line keeps each line apart.
    return {"type": "message", "text": "\n\n".join(lines), "textFormat": "markdown"}


def _shorten(text: str) -> str:
    encoded = text.encode("utf-8")
    # Escaping can double a character; keep half the budget for it.
    budget = MESSAGE_LIMIT_BYTES // 2 - 1024
    if len(encoded) <= budget:
        return text
    return encoded[:budget].decode("utf-8", errors="ignore").rstrip() + " …"


def _without_charts(replies: Sequence[Reply]) -> list[Element]:
    elements: list[Element] = []
    for reply in replies:
        if isinstance(reply, Report):
            elements.extend(_report(reply, with_chart=False))
        elif isinstance(reply, Image):
            elements.extend(_paragraphs(as_plain_text(reply)))
        else:
            elements.extend(_ELEMENTS[type(reply)](reply))
    return elements


def compact_png(png: bytes) -> bytes:
    """The picture as a 256-colour palette PNG, or the original when that is not smaller.

    A chart's few flat colours survive the palette, at about a third of the size.
    """
    try:
        with PILImage.open(io.BytesIO(png)) as picture:
            palette = picture.convert("RGB").quantize(colors=256)
    except (OSError, ValueError):
        return png
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return min(out.getvalue(), png, key=len)


def _compact_charts(replies: Sequence[Reply]) -> list[Reply]:
    compacted: list[Reply] = []
    for reply in replies:
        if isinstance(reply, Image):
            reply = replace(reply, png=compact_png(reply.png))
        elif isinstance(reply, Report) and reply.chart is not None:
            reply = replace(reply, chart=replace(reply.chart, png=compact_png(reply.chart.png)))
        compacted.append(reply)
    return compacted


def render_message(replies: Sequence[Reply]) -> Activity | None:
    """One Teams message for the replies (Answered and Replace ones excluded: they update
    cards already sent).

    Plain texts become a markdown text message; anything else an Adaptive Card. A card
    over the size limit gets its charts re-encoded smaller, then loses them (described in
    words), then falls back to plain text.

    Returns:
        The activity as JSON, or None when there is nothing new to show.
    """
    shown = [reply for reply in replies if not isinstance(reply, Answered | Replace)]
    if not shown:
        return None
    if all(isinstance(reply, Text) for reply in shown):
        message = text_message("\n".join(as_plain_text(reply) for reply in shown))
        if size_of(message) <= MESSAGE_LIMIT_BYTES:
            return message
        return text_message(_shorten("\n".join(as_plain_text(reply) for reply in shown)))
    attempts: list[Callable[[], list[Element]]] = [
        lambda: card_for(shown)["body"],
        lambda: card_for(_compact_charts(shown))["body"],
        lambda: _without_charts(shown),
    ]
    for body in attempts:
        message = card_message(card(body()))
        if size_of(message) <= MESSAGE_LIMIT_BYTES:
            return message
    return text_message(_shorten("\n".join(as_plain_text(reply) for reply in shown)))


def tokens_of(replies: Sequence[Reply]) -> list[str]:
    """Routing tokens of the questions among the replies (what a later Answered names)."""
    found: list[str] = []
    for reply in replies:
        shown = reply.reply if isinstance(reply, Replace) else reply
        if isinstance(shown, Choices | Confirm | TextRequest):
            found.append(shown.token)
    return found


def invoke_card_response(content: dict[str, Any]) -> dict[str, Any]:
    """The body of an ``adaptiveCard/action`` invoke response that replaces the card."""
    return {"statusCode": 200, "type": ADAPTIVE_CARD, "value": content}


def invoke_message_response(text: str) -> dict[str, Any]:
    """The body of an ``adaptiveCard/action`` invoke response that only shows a message."""
    return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}
