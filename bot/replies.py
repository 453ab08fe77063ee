"""What the bot says, as data; each adapter renders it natively or as plain text."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any, assert_never


@dataclass(frozen=True)
class Text:
    """Plain words."""

    text: str


@dataclass(frozen=True)
class Option:
    """One tappable answer. `free_text` marks "Something else…" style options."""

    value: str
    label: str
    free_text: bool = False


@dataclass(frozen=True)
class Choices:
    """A question with tappable answers; `token` routes the tap back to its flow step."""

    text: str
    token: str
    options: tuple[Option, ...]


@dataclass(frozen=True)
class TextRequest:
    """A question answered in words; `skip_label` set means it can be skipped."""

    prompt: str
    token: str
    label: str
    submit_label: str
    skip_label: str = ""
    max_length: int = 2000
    write_label: str = ""
    """The button that opens a form for the words, where the platform needs one."""
    optional: bool = False
    """The question is answered already: these words are an extra, never required."""


@dataclass(frozen=True)
class Confirm:
    """A yes/no check before something that cannot be undone."""

    text: str
    token: str
    yes: Option
    no: Option


@dataclass(frozen=True)
class Image:
    """A picture, such as a trend chart."""

    png: bytes = field(repr=False)
    title: str
    alt_text: str


@dataclass(frozen=True)
class Answered:
    """The message carrying `token` is answered: replace its buttons with `summary`."""

    token: str
    summary: str


@dataclass(frozen=True)
class Replace:
    """The message carrying `token` now shows `reply` instead: a check-in's next step, its
    receipt. With `resend`, the old copies go and `reply` is posted anew at the bottom of
    the chat, where the person is notified of it (a reminder, a re-offered check-in)."""

    token: str
    reply: Text | Choices | TextRequest
    resend: bool = False


@dataclass(frozen=True)
class File:
    """A file for the person to keep, such as everything stored about them as JSON."""

    content: bytes = field(repr=False)
    filename: str
    title: str
    mime: str = "application/json"


@dataclass(frozen=True)
class Section:
    """A part of a report: a heading, label/value facts and lines of text."""

    heading: str
    facts: tuple[tuple[str, str], ...] = ()
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    """A structured summary (weekly digest, trends) with an optional chart.

    Every string in it is already anonymised and scrubbed; adapters still escape
    it for their platform.
    """

    title: str
    sections: tuple[Section, ...]
    chart: Image | None = None
    footer: str = ""


@dataclass(frozen=True)
class Status:
    """A person's own page: whether they are asked, everything kept about them, and
    whether they may ask for a digest (Slack shows it as the App Home tab)."""

    status: str
    stored: str
    active: bool
    can_digest: bool


Reply = Text | Choices | TextRequest | Confirm | Image | Answered | Replace | File | Report | Status

_KINDS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (Text, Choices, TextRequest, Confirm, Image, Answered, Replace, File, Report, Status)
}


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    """Serialise a reply for the outbox (JSON-safe)."""
    data = asdict(reply)
    if isinstance(reply, Image):
        data["png"] = base64.b64encode(reply.png).decode("ascii")
    if isinstance(reply, File):
        data["content"] = base64.b64encode(reply.content).decode("ascii")
    if isinstance(reply, Replace):
        data["reply"] = reply_to_dict(reply.reply)
    if isinstance(reply, Report) and reply.chart is not None:
        data["chart"]["png"] = base64.b64encode(reply.chart.png).decode("ascii")
    data["kind"] = type(reply).__name__
    return data


def reply_from_dict(data: dict[str, Any]) -> Reply:
    """Rebuild a reply serialised by `reply_to_dict`."""
    values = {key: value for key, value in data.items() if key != "kind"}
    kind = data["kind"]
    if kind == "Choices":
        values["options"] = tuple(Option(**option) for option in values["options"])
    elif kind == "Confirm":
        values["yes"], values["no"] = Option(**values["yes"]), Option(**values["no"])
    elif kind == "Image":
        values["png"] = base64.b64decode(values["png"])
    elif kind == "File":
        values["content"] = base64.b64decode(values["content"])
    elif kind == "Replace":
        values["reply"] = reply_from_dict(values["reply"])
    elif kind == "Report":
        values["sections"] = tuple(
            Section(
                heading=section["heading"],
                facts=tuple(tuple(fact) for fact in section["facts"]),
                lines=tuple(section["lines"]),
            )
            for section in values["sections"]
        )
        chart = values.get("chart")
        if chart is not None:
            values["chart"] = Image(
                png=base64.b64decode(chart["png"]), title=chart["title"], alt_text=chart["alt_text"]
            )
    reply: Reply = _KINDS[kind](**values)
    return reply


def as_plain_text(reply: Reply) -> str:
    """The plain-text fallback every platform can show."""
    match reply:
        case Text():
            return reply.text
        case Choices():
            return reply.text + "\n" + "\n".join(f"• {option.label}" for option in reply.options)
        case TextRequest():
            return reply.prompt
        case Confirm():
            return f"{reply.text}\n• {reply.yes.label}\n• {reply.no.label}"
        case Image():
            return f"[{reply.title}] {reply.alt_text}"
        case File():
            return f"[{reply.title}: {reply.filename}]"
        case Report():
            parts = [reply.title]
            for section in reply.sections:
                parts.append(f"\n{section.heading}")
                parts.extend(f"• {label}: {value}" for label, value in section.facts)
                parts.extend(f"• {line}" for line in section.lines)
            if reply.footer:
                parts.append(f"\n{reply.footer}")
            return "\n".join(parts)
        case Status():
            return f"{reply.status}\n\n{reply.stored}"
        case Answered():
            return reply.summary
        case Replace():
            return as_plain_text(reply.reply)
        case _:
            assert_never(reply)
