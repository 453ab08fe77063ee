"""Block Kit rendering of the engine's replies, within Slack's limits, with user text escaped."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

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
    Section,
    Status,
    Text,
    TextRequest,
)
from bot.wording import Wording

WORDING_KEYS = (
    "slack.form_title",
    "slack.home_title",
    "slack.home_status",
    "slack.home_pause",
    "slack.home_resume",
    "slack.home_digest",
    "slack.home_stored",
    "slack.home_more",
)
"""The wording keys Slack's rendering uses, beyond the engine's own."""

# Slack's limits (Block Kit reference): blocks per message and per view, characters per
# text object, section fields, button labels and values, view titles and metadata.
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_BUTTONS = 25
MAX_BUTTON_LABEL = 75
MAX_BUTTON_VALUE = 2000
MAX_HEADER = 150
MAX_VIEW_LABEL = 24
MAX_INPUT_LABEL = 2000
MAX_INPUT_LENGTH = 3000
MAX_METADATA = 3000
MAX_CONTEXT_TEXT = 2000

ACTION_PREFIX = "lastmile"
PROMPT_BLOCK = "lastmile.prompt"
OPTIONS_BLOCK = "lastmile.options"
ANSWER_BLOCK = "lastmile.answer"
ANSWER_INPUT = "lastmile.text"
FORM_CALLBACK = "lastmile.form"
DONE_MARK = "✓"

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# mrkdwn has no escape for its formatting characters; text holding any of them is
# shown as plain_text instead, so `*bold*` written by a person stays verbatim.
_MRKDWN_MARKS = frozenset("*_~`")

Block = dict[str, Any]


def escape(text: str) -> str:
    """Replace Slack's control characters (&, <, >) with their HTML entities.

    Slack parses `<!channel>`, `<@U123>` and links out of every text object, plain_text
    included, and decodes only these three entities for display.
    """
    return "".join(_ENTITIES.get(char, char) for char in text)


def _escaped_pieces(text: str, limit: int) -> Iterator[str]:
    """Escape `text` and cut it into pieces of at most `limit`, never inside an entity."""
    piece: list[str] = []
    size = 0
    for char in text:
        out = _ENTITIES.get(char, char)
        if size + len(out) > limit:
            yield "".join(piece)
            piece, size = [], 0
        piece.append(out)
        size += len(out)
    if piece:
        yield "".join(piece)


def fit(text: str, limit: int) -> str:
    """Escape `text` and shorten it to `limit` characters, ending with … when cut."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    return next(_escaped_pieces(text, limit - 1), "") + "…"


def chunks(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Escape `text` and split it into pieces of at most `limit`, at line breaks when possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        escaped = escape(line)
        joined = f"{current}\n{escaped}" if current else escaped
        if len(joined) <= limit:
            current = joined
            continue
        if current:
            pieces.append(current)
        if len(escaped) <= limit:
            current = escaped
            continue
        *whole, current = list(_escaped_pieces(line, limit)) or [""]
        pieces.extend(whole)
    if current or not pieces:
        pieces.append(current)
    return pieces


def plain(text: str, limit: int = MAX_TEXT) -> Block:
    """A plain_text object: escaped, shown verbatim (no mrkdwn), cut to `limit`."""
    return {"type": "plain_text", "text": fit(text, limit) or " ", "emoji": True}


def _bold_or_plain(text: str, limit: int) -> Block:
    """A heading in bold when its text has no mrkdwn marks, else plain_text."""
    if _MRKDWN_MARKS.isdisjoint(text):
        return {"type": "mrkdwn", "text": f"*{fit(text, limit - 2)}*", "verbatim": True}
    return plain(text, limit)


def _fact(label: str, value: str) -> Block:
    if _MRKDWN_MARKS.isdisjoint(label + value):
        text = f"*{fit(label, 200)}*\n{fit(value, MAX_FIELD_TEXT - 210)}"
        return {"type": "mrkdwn", "text": text, "verbatim": True}
    return plain(f"{label}\n{value}", MAX_FIELD_TEXT)


def section(text: str, block_id: str = "") -> Block:
    """A section block showing `text` verbatim (at most 3,000 characters)."""
    block: Block = {"type": "section", "text": plain(text)}
    if block_id:
        block["block_id"] = block_id
    return block


def text_sections(text: str) -> list[Block]:
    """Section blocks for text of any length, 3,000 characters each."""
    return [
        {"type": "section", "text": {"type": "plain_text", "text": piece or " ", "emoji": True}}
        for piece in chunks(text)
    ]


def context(text: str) -> Block:
    """A context block (small grey text)."""
    return {"type": "context", "elements": [plain(text, MAX_CONTEXT_TEXT)]}


def encode_value(data: dict[str, Any]) -> str:
    """A button value: compact JSON within Slack's 2,000 characters.

    Raises:
        ValueError: when the data cannot fit (tokens and option values are short).
    """
    value = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError(f"button value is {len(value)} characters, Slack allows 2000")
    return value


def decode_value(value: str) -> dict[str, Any]:
    """Read a button value written by `encode_value`; {} when it is not one."""
    try:
        data = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def button(label: str, action: str, value: dict[str, Any], style: str = "") -> Block:
    """A button; `action` becomes its action_id under the lastmile prefix."""
    element: Block = {
        "type": "button",
        "action_id": f"{ACTION_PREFIX}.{action}",
        "text": plain(label, MAX_BUTTON_LABEL),
        "value": encode_value(value),
    }
    if style:
        element["style"] = style
    return element


def actions(elements: list[Block], block_id: str = OPTIONS_BLOCK) -> Block:
    """An actions block (at most 25 elements)."""
    return {"type": "actions", "block_id": block_id, "elements": elements[:MAX_BUTTONS]}


@dataclass(frozen=True)
class SlackMessage:
    """One message to post: escaped fallback text, blocks, and the token it carries."""

    text: str
    blocks: list[Block]
    token: str = ""


@dataclass(frozen=True)
class SlackFile:
    """A picture or file to upload with the files v2 flow."""

    content: bytes = field(repr=False)
    title: str
    alt_text: str = ""
    filename: str = ""

    @property
    def png(self) -> bytes:
        """The picture's bytes (charts)."""
        return self.content

    @property
    def name(self) -> str:
        """The file name Slack shows."""
        return self.filename or f"{self.title or 'chart'}.png"


@dataclass(frozen=True)
class FormRequest:
    """What the modal asks for: the step token, its prompt, input label and limits."""

    token: str
    prompt: str
    label: str
    submit_label: str
    max_length: int
    prompt_block: Block | None = None


@dataclass(frozen=True)
class SlackHome:
    """A person's App Home tab, published with views.publish."""

    view: Block


Rendered = SlackMessage | SlackFile | SlackHome


def _option_button(token: str, index: int, option: Option, style: str = "") -> Block:
    # Free-text options open a modal, so they get their own action kind.
    kind = "form" if option.free_text else "choice"
    return button(option.label, f"{kind}.{index}", {"t": token, "v": option.value}, style)


def _messages(blocks: list[Block], text: str, token: str = "") -> list[SlackMessage]:
    """Split blocks into messages of at most 50 blocks."""
    fallback = fit(text, MAX_TEXT)
    return [
        SlackMessage(fallback, blocks[start : start + MAX_MESSAGE_BLOCKS], token)
        for start in range(0, max(len(blocks), 1), MAX_MESSAGE_BLOCKS)
    ]


def _render_text(reply: Text, _w: Wording) -> list[Rendered]:
    return list(_messages(text_sections(reply.text), reply.text))


def _render_choices(reply: Choices, _w: Wording) -> list[Rendered]:
    buttons = [
        _option_button(reply.token, index, option) for index, option in enumerate(reply.options)
    ]
    blocks = [section(reply.text, PROMPT_BLOCK), actions(buttons)]
    return [SlackMessage(fit(reply.text, MAX_TEXT), blocks, reply.token)]


def _render_confirm(reply: Confirm, _w: Wording) -> list[Rendered]:
    # The "yes" of a confirmation is the step that cannot be undone.
    buttons = [
        _option_button(reply.token, 0, reply.yes, style="danger"),
        _option_button(reply.token, 1, reply.no),
    ]
    blocks = [section(reply.text, PROMPT_BLOCK), actions(buttons)]
    return [SlackMessage(fit(reply.text, MAX_TEXT), blocks, reply.token)]


def _render_text_request(reply: TextRequest, w: Wording) -> list[Rendered]:
    write = {"t": reply.token, "l": reply.label, "s": reply.submit_label, "m": reply.max_length}
    label = reply.write_label or w("text.write")
    # An optional note after a complete answer is an offer, not the next thing to do.
    buttons = [button(label, "write", write, style="" if reply.optional else "primary")]
    if reply.skip_label:
        buttons.append(button(reply.skip_label, "choice.skip", {"t": reply.token, "v": "skip"}))
    blocks = [section(reply.prompt, PROMPT_BLOCK), actions(buttons)]
    return [SlackMessage(fit(reply.prompt, MAX_TEXT), blocks, reply.token)]


def _render_image(reply: Image, _w: Wording) -> list[Rendered]:
    return [SlackFile(reply.png, reply.title, reply.alt_text)]


def _render_file(reply: File, _w: Wording) -> list[Rendered]:
    return [SlackFile(reply.content, reply.title, filename=reply.filename)]


def _render_replace(reply: Replace, w: Wording) -> list[Rendered]:
    # Used when the message to replace cannot be found: the new version is posted.
    return render(reply.reply, w)


def _report_section(part: Section) -> list[Block]:
    blocks: list[Block] = [{"type": "section", "text": _bold_or_plain(part.heading, MAX_TEXT)}]
    facts = [_fact(label, value) for label, value in part.facts]
    blocks.extend(
        {"type": "section", "fields": facts[start : start + MAX_FIELDS]}
        for start in range(0, len(facts), MAX_FIELDS)
    )
    if part.lines:
        blocks.extend(text_sections("\n".join(f"• {line}" for line in part.lines)))
    return blocks


def _render_report(reply: Report, _w: Wording) -> list[Rendered]:
    blocks: list[Block] = [{"type": "header", "text": plain(reply.title, MAX_HEADER)}]
    for part in reply.sections:
        blocks.append({"type": "divider"})
        blocks.extend(_report_section(part))
    if reply.footer:
        blocks.extend(
            {"type": "context", "elements": [{"type": "plain_text", "text": piece or " "}]}
            for piece in chunks(reply.footer, MAX_CONTEXT_TEXT)
        )
    rendered: list[Rendered] = list(_messages(blocks, reply.title))
    if reply.chart is not None:
        rendered.append(SlackFile(reply.chart.png, reply.chart.title, reply.chart.alt_text))
    return rendered


def _render_answered(reply: Answered, _w: Wording) -> list[Rendered]:
    # Used only when the answered message cannot be found to update in place.
    return [SlackMessage(fit(reply.summary, MAX_TEXT), [context(f"{DONE_MARK} {reply.summary}")])]


def _render_status(reply: Status, w: Wording) -> list[Rendered]:
    return [SlackHome(home_view(reply, w))]


_RENDERERS: dict[type[Any], Callable[[Any, Wording], list[Rendered]]] = {
    Text: _render_text,
    Choices: _render_choices,
    Confirm: _render_confirm,
    TextRequest: _render_text_request,
    Image: _render_image,
    Report: _render_report,
    Answered: _render_answered,
    Replace: _render_replace,
    File: _render_file,
    Status: _render_status,
}


def render(reply: Reply, w: Wording) -> list[Rendered]:
    """Render one engine reply as Slack messages and files.

    Args:
        reply: a platform-neutral reply.
        w: wording, for the words Slack needs that the reply does not carry.

    Returns:
        Messages (each within 50 blocks), files and the Home tab, in the order to send them.
    """
    return _RENDERERS[type(reply)](reply, w)


def replaced_message(reply: Replace, w: Wording) -> SlackMessage:
    """The new version of a message carrying a question: one message, its new token."""
    [message] = [item for item in render(reply.reply, w) if isinstance(item, SlackMessage)][:1]
    return message


def answered_blocks(original: list[Block], summary: str) -> list[Block]:
    """The answered message: its blocks without buttons, plus the record of the answer."""
    kept = [block for block in original if block.get("type") != "actions"]
    return [*kept, context(f"{DONE_MARK} {summary}")][-MAX_MESSAGE_BLOCKS:]


def form_request(reply: TextRequest) -> FormRequest:
    """What the modal for a text step asks."""
    return FormRequest(
        token=reply.token,
        prompt=reply.prompt,
        label=reply.label,
        submit_label=reply.submit_label,
        max_length=reply.max_length,
    )


def form_view(form: FormRequest, w: Wording, metadata: dict[str, str]) -> Block:
    """The modal that collects free text for a step; `metadata` comes back on submit."""
    private = json.dumps(metadata, separators=(",", ":"))
    if len(private) > MAX_METADATA:
        raise ValueError("modal metadata is over Slack's 3000 characters")
    blocks: list[Block] = []
    if form.prompt_block is not None:
        blocks.append(form.prompt_block)
    elif form.prompt:
        blocks.append(section(form.prompt, PROMPT_BLOCK))
    blocks.append(
        {
            "type": "input",
            "block_id": ANSWER_BLOCK,
            "label": plain(form.label, MAX_INPUT_LABEL),
            "element": {
                "type": "plain_text_input",
                "action_id": ANSWER_INPUT,
                "multiline": True,
                "max_length": max(1, min(form.max_length, MAX_INPUT_LENGTH)),
            },
        }
    )
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "title": plain(w("slack.form_title"), MAX_VIEW_LABEL),
        "submit": plain(form.submit_label, MAX_VIEW_LABEL),
        "close": plain(w("text.cancel"), MAX_VIEW_LABEL),
        "private_metadata": private,
        "blocks": blocks,
    }


HOME_COMMANDS = {"pause": "pause 1w", "resume": "resume", "digest": "digest"}
"""Home tab buttons and the command text each one sends to the engine."""


def home_view(content: Status, w: Wording) -> Block:
    """The App Home tab: status, pause or resume, digest for leads and owners, stored data."""
    toggle = "pause" if content.active else "resume"
    buttons = [button(w(f"slack.home_{toggle}"), f"home.{toggle}", {"c": HOME_COMMANDS[toggle]})]
    if content.can_digest:
        buttons.append(
            button(w("slack.home_digest"), "home.digest", {"c": HOME_COMMANDS["digest"]})
        )
    blocks: list[Block] = [
        {"type": "header", "text": plain(w("slack.home_title"), MAX_HEADER)},
        section(w("slack.home_status", status=content.status)),
        actions(buttons, block_id="lastmile.home"),
        {"type": "divider"},
        {"type": "header", "text": plain(w("slack.home_stored"), MAX_HEADER)},
    ]
    stored = text_sections(content.stored)
    room = MAX_VIEW_BLOCKS - len(blocks)
    if len(stored) > room:
        stored = [*stored[: room - 1], context(w("slack.home_more"))]
    return {"type": "home", "blocks": blocks + stored}
