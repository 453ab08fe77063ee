"""The check-in and day-30 flows: one declared table of steps, read by one pure `step()`.

Each step is one entry: its question, its options with the step each leads to, and its
free-text rule. A check-in is one message: every step replaces it with the receipt so
far and the next question, and the last step leaves the whole receipt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import assert_never

from bot.replies import Choices, Option, Replace, Reply, Text, TextRequest
from bot.wording import Wording

MAX_TEXT = 2000
SKIP = "skip"
DONE_MARK = "✓"


class Flow(StrEnum):
    """The conversations a check-in can run."""

    CHECKIN = "checkin"
    DAY30 = "day30"


class Step(StrEnum):
    """Where a person can be in a flow (stored, and part of each button's token)."""

    FIRST = "first"
    WORKAROUND = "workaround"
    WORKAROUND_TEXT = "workaround_text"
    OVERRIDE = "override"
    OVERRIDE_TEXT = "override_text"
    OVERRIDE_NOTE = "override_note"
    NOT_USED_REASON = "not_used_reason"
    NOT_USED_TEXT = "not_used_text"
    NOT_USED_NOTE = "not_used_note"
    FEELING = "feeling"
    CHANGE = "change"
    DONE = "done"


class Fact(StrEnum):
    """What a step finds out; the records stored are built from the facts."""

    OUTCOME = "outcome"
    WORKAROUND = "workaround"
    WORKAROUND_TEXT = "workaround_text"
    OVERRIDE = "override"
    OVERRIDE_TEXT = "override_text"
    NOT_USED = "not_used"
    NOT_USED_TEXT = "not_used_text"
    FEELING = "feeling"
    CHANGE = "change"


class FreeText(StrEnum):
    """What typing means at a step."""

    NONE = "none"
    """Buttons only: a typed number, label or unambiguous prefix picks one."""
    WORDS = "words"
    """The step asks for words ("Something else…"); it can be skipped."""
    NOTE = "note"
    """The check-in is complete; a few words may be added, never required."""


@dataclass(frozen=True)
class Choice:
    """One option of a step: the value stored, the step it leads to, and its close."""

    value: str
    next: Step
    close: str = "close.thanks"
    """The words that end the check-in when `next` is a closing step."""


@dataclass(frozen=True)
class StepSpec:
    """One entry of the table."""

    question: str
    """Wording key of the question ({tool} is filled in)."""
    fact: Fact
    options: tuple[Choice, ...] = ()
    text: FreeText = FreeText.NONE
    next: Step = Step.DONE
    """Where words (or a skip) lead, for a step answered in words."""

    @property
    def closing(self) -> bool:
        """True when the check-in is complete at this step (only words may follow)."""
        return self.text is FreeText.NOTE

    def choice(self, value: str) -> Choice | None:
        """The option with this value, if the step has it."""
        return next((choice for choice in self.options if choice.value == value), None)


def _reasons(values: tuple[str, ...], then: Step, other: Step) -> tuple[Choice, ...]:
    return tuple(Choice(value, other if value == "other" else then) for value in values)


OUTCOMES = ("helped", "partly", "no", "not_used", "not_now")
WORKAROUNDS = ("by_hand", "old_system", "colleague", "other")
OVERRIDE_REASONS = ("wrong", "didnt_fit", "slower", "distrust", "policy", "other")
NOT_USED_REASONS = ("not_needed", "too_slow", "no_access", "distrust", "forgot", "other")
FEELINGS = ("very", "somewhat", "not", "dont_use")

STEPS: dict[Step, StepSpec] = {
    Step.FIRST: StepSpec(
        "checkin.question",
        Fact.OUTCOME,
        (
            Choice("helped", Step.DONE),
            Choice("partly", Step.WORKAROUND),
            Choice("no", Step.WORKAROUND),
            Choice("not_used", Step.NOT_USED_REASON),
            Choice("not_now", Step.DONE, close="close.not_now"),
        ),
    ),
    Step.WORKAROUND: StepSpec(
        "workaround.question",
        Fact.WORKAROUND,
        _reasons(WORKAROUNDS, Step.OVERRIDE, Step.WORKAROUND_TEXT),
    ),
    Step.WORKAROUND_TEXT: StepSpec(
        "workaround.other_prompt", Fact.WORKAROUND_TEXT, text=FreeText.WORDS, next=Step.OVERRIDE
    ),
    Step.OVERRIDE: StepSpec(
        "override.question",
        Fact.OVERRIDE,
        (
            Choice("no", Step.DONE),
            *_reasons(OVERRIDE_REASONS, Step.OVERRIDE_NOTE, Step.OVERRIDE_TEXT),
        ),
    ),
    Step.OVERRIDE_TEXT: StepSpec("override.other_prompt", Fact.OVERRIDE_TEXT, text=FreeText.WORDS),
    Step.OVERRIDE_NOTE: StepSpec("close.note_prompt", Fact.OVERRIDE_TEXT, text=FreeText.NOTE),
    Step.NOT_USED_REASON: StepSpec(
        "not_used.question",
        Fact.NOT_USED,
        _reasons(NOT_USED_REASONS, Step.NOT_USED_NOTE, Step.NOT_USED_TEXT),
    ),
    Step.NOT_USED_TEXT: StepSpec("not_used.other_prompt", Fact.NOT_USED_TEXT, text=FreeText.WORDS),
    Step.NOT_USED_NOTE: StepSpec("close.note_prompt", Fact.NOT_USED_TEXT, text=FreeText.NOTE),
    Step.FEELING: StepSpec(
        "day30.question", Fact.FEELING, tuple(Choice(value, Step.CHANGE) for value in FEELINGS)
    ),
    Step.CHANGE: StepSpec("day30.change_question", Fact.CHANGE, text=FreeText.NOTE),
}
"""The flows' steps; a new question is one entry here plus its wording."""

FIRST_STEP: dict[Flow, Step] = {Flow.CHECKIN: Step.FIRST, Flow.DAY30: Step.FEELING}

TEXT_FACTS: dict[Fact, Fact] = {
    Fact.WORKAROUND_TEXT: Fact.WORKAROUND,
    Fact.OVERRIDE_TEXT: Fact.OVERRIDE,
    Fact.NOT_USED_TEXT: Fact.NOT_USED,
    Fact.CHANGE: Fact.FEELING,
}
"""Words written at a step go with the fact they explain."""


OPTION_FAMILIES: dict[Fact, str] = {
    Fact.OUTCOME: "checkin",
    Fact.WORKAROUND: "workaround",
    Fact.OVERRIDE: "override",
    Fact.NOT_USED: "not_used",
    Fact.FEELING: "day30",
}
"""Where each fact's button labels live in the wording (digests name themes by them too)."""


def option_key(fact: Fact, value: str) -> str:
    """The wording key of an option's button label."""
    return f"{OPTION_FAMILIES[fact]}.{value}"


def receipt_key(fact: Fact, value: str) -> str:
    """The wording key of an option's words in the receipt."""
    return f"receipt.{fact}.{value}"


class Moment(StrEnum):
    """When the person is asked about, in their own local time (or their shift)."""

    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"
    NIGHT = "night"
    SHIFT = "shift"


def wording_keys() -> frozenset[str]:
    """Every wording key the flows build at run time, for the start-up check."""
    keys = {"checkin.question_with_context", "close.thanks", "close.not_now", "text.write"}
    keys |= {"text.free_text_label", "text.submit", "text.note_label", "text.skip", "text.add_note"}
    keys |= {f"checkin.when_{moment}" for moment in Moment}
    for spec in STEPS.values():
        keys.add(spec.question)
        for choice in spec.options:
            keys |= {option_key(spec.fact, choice.value), receipt_key(spec.fact, choice.value)}
            keys.add(choice.close)
    return frozenset(keys)


@dataclass(frozen=True)
class FlowState:
    """Where a person is in one check-in; persisted between steps."""

    flow: Flow
    checkin_id: int
    step: Step
    tool: str
    context: str = ""
    k: int = 5
    moment: Moment = Moment.AFTERNOON
    memory: dict[str, str] = field(default_factory=dict)
    """The facts found so far, by `Fact` value, in the order they were given."""
    close: str = "close.thanks"

    def token(self, step: Step | None = None) -> str:
        """The routing token for a step's message: flow:checkin:step."""
        return f"{self.flow}:{self.checkin_id}:{step or self.step}"

    @property
    def spec(self) -> StepSpec:
        """The step's entry in the table."""
        return STEPS[self.step]

    @property
    def closed(self) -> bool:
        """True once the check-in is complete (words may still be added at a note step)."""
        return self.step is Step.DONE or self.spec.closing


@dataclass(frozen=True)
class Pick:
    """A tapped choice (or a typed one) for a step."""

    step: str
    value: str


@dataclass(frozen=True)
class Typed:
    """Free text written for a step."""

    step: str
    text: str


FlowInput = Pick | Typed


@dataclass(frozen=True)
class SaveAnswer:
    """The first tap."""

    outcome: str


@dataclass(frozen=True)
class SaveNotUsed:
    """Why the tool was not used."""

    reason: str
    text: str = ""


@dataclass(frozen=True)
class SaveWorkaround:
    """What was done instead."""

    kind: str
    text: str = ""


@dataclass(frozen=True)
class SaveOverride:
    """Whether a suggestion was overridden, and why."""

    overridden: bool
    reason: str = ""
    text: str = ""


@dataclass(frozen=True)
class SaveDay30:
    """How the person would feel if the tool went away."""

    feeling: str
    change_first: str = ""


Record = SaveAnswer | SaveNotUsed | SaveWorkaround | SaveOverride | SaveDay30

Memory = Mapping[str, str]

RECORDS: dict[Fact, Callable[[Memory], Record]] = {
    Fact.OUTCOME: lambda m: SaveAnswer(m[Fact.OUTCOME]),
    Fact.WORKAROUND: lambda m: SaveWorkaround(m[Fact.WORKAROUND], m.get(Fact.WORKAROUND_TEXT, "")),
    Fact.OVERRIDE: lambda m: SaveOverride(
        m[Fact.OVERRIDE] != "no",
        "" if m[Fact.OVERRIDE] == "no" else m[Fact.OVERRIDE],
        m.get(Fact.OVERRIDE_TEXT, ""),
    ),
    Fact.NOT_USED: lambda m: SaveNotUsed(m[Fact.NOT_USED], m.get(Fact.NOT_USED_TEXT, "")),
    Fact.FEELING: lambda m: SaveDay30(m[Fact.FEELING], m.get(Fact.CHANGE, "")),
}
"""How the facts found so far become stored rows, by the fact just given."""


@dataclass(frozen=True)
class Transition:
    """The result of one step: the next state (None when finished), replies, records."""

    state: FlowState | None
    replies: tuple[Reply, ...] = ()
    records: tuple[Record, ...] = ()
    accepted: bool = True


def header(state: FlowState, w: Wording) -> str:
    """The check-in's first question, which every later version of its message keeps."""
    first = STEPS[FIRST_STEP[state.flow]]
    if state.flow is Flow.CHECKIN and state.context:
        return w("checkin.question_with_context", tool=state.tool, context=state.context)
    return w(first.question, tool=state.tool, when=w(f"checkin.when_{state.moment}"))


def receipt(state: FlowState, w: Wording) -> str:
    """What the person answered so far, in their words: "Partly — did it by hand — …"."""
    parts: list[str] = []
    for name, value in state.memory.items():
        fact = Fact(name)
        if fact in TEXT_FACTS:
            parts.append(f"“{value}”")
        else:
            parts.append(w(receipt_key(fact, value), tool=state.tool))
    return " — ".join(parts)


def _lines(*parts: str) -> str:
    return "\n".join(part for part in parts if part)


def message(state: FlowState, w: Wording) -> Text | Choices | TextRequest:
    """The check-in's one message as it reads at the person's step."""
    done = receipt(state, w)
    so_far = f"{DONE_MARK} {done}" if done else ""
    if state.step == Step.DONE:
        return Text(_lines(header(state, w), so_far, w(state.close, k=state.k)))
    spec = state.spec
    first = state.step == FIRST_STEP[state.flow]
    asked = "" if first else w(spec.question, tool=state.tool)
    match spec.text:
        case FreeText.NONE:
            options = tuple(
                Option(
                    choice.value,
                    w(option_key(spec.fact, choice.value), tool=state.tool),
                    free_text=choice.value == "other",
                )
                for choice in spec.options
            )
            return Choices(_lines(header(state, w), so_far, asked), state.token(), options)
        case FreeText.WORDS:
            return TextRequest(
                prompt=_lines(header(state, w), so_far, asked),
                token=state.token(),
                label=w("text.free_text_label"),
                submit_label=w("text.submit"),
                skip_label=w("text.skip"),
                max_length=MAX_TEXT,
                write_label=w("text.write"),
            )
        case FreeText.NOTE:
            thanks = w(state.close, k=state.k)
            return TextRequest(
                prompt=_lines(header(state, w), so_far, thanks, asked),
                token=state.token(),
                label=w("text.note_label"),
                submit_label=w("text.submit"),
                max_length=MAX_TEXT,
                write_label=w("text.add_note"),
                optional=True,
            )
        case _:
            assert_never(spec.text)


def start(state: FlowState, w: Wording) -> tuple[Reply, ...]:
    """The first message of a check-in."""
    return (message(state, w),)


def _moved(state: FlowState, to: Step, memory: dict[str, str], close: str) -> FlowState:
    return replace(state, step=to, memory=memory, close=close)


def step(state: FlowState, flow_input: FlowInput, w: Wording) -> Transition:
    """Advance one step, reading the table.

    Args:
        state: where the person is.
        flow_input: what they tapped or wrote, naming the step it answers.
        w: the person's wording.

    Returns:
        The next state (None once nothing more can be added), the check-in's message
        replaced by its next version, and the rows to store. A tap for a step that is
        not the current one (a second tap, an old message) is not accepted and changes
        nothing.
    """
    if flow_input.step != state.step or state.step == Step.DONE:
        return Transition(state, accepted=False)
    spec = state.spec
    memory = dict(state.memory)
    close = state.close
    fact: Fact | None
    match flow_input:
        case Pick(value=value) if spec.text is FreeText.NONE:
            choice = spec.choice(value)
            if choice is None:
                return Transition(state, accepted=False)
            memory[spec.fact] = value
            following, close, fact = choice.next, choice.close, spec.fact
        case Pick(value=value) if spec.text is FreeText.WORDS and value == SKIP:
            following, fact = spec.next, None
        case Typed(text=text) if spec.text is not FreeText.NONE:
            words = text.strip()[:MAX_TEXT]
            fact = TEXT_FACTS[spec.fact] if words else None
            if words:
                memory[spec.fact] = words
            following = spec.next
        case _:
            return Transition(state, accepted=False)
    records = (RECORDS[fact](memory),) if fact is not None else ()
    moved = _moved(state, following, memory, close)
    finished = moved.step == Step.DONE
    shown = Replace(state.token(), message(moved, w))
    return Transition(None if finished else moved, (shown,), records)


def close_now(state: FlowState, w: Wording) -> Replace:
    """The check-in's final receipt, when its time is up: no question left to answer."""
    finished = replace(state, step=Step.DONE)
    return Replace(state.token(), message(finished, w))


def is_text_step(step_name: str) -> bool:
    """True for steps answered in words rather than taps."""
    found = _step_named(step_name)
    return found is not None and STEPS[found].text is not FreeText.NONE


def _step_named(name: str) -> Step | None:
    try:
        found = Step(name)
    except ValueError:
        return None
    return found if found in STEPS else None


def option_labels(state: FlowState, w: Wording) -> list[tuple[str, str]]:
    """(value, label) of the options at the person's step, as the buttons show them."""
    spec = state.spec if state.step in STEPS else None
    if spec is None:
        return []
    return [(c.value, w(option_key(spec.fact, c.value), tool=state.tool)) for c in spec.options]


def parse_token(token: str) -> tuple[str, int, str] | None:
    """Split a `flow:id:step` token; None when it is not one."""
    parts = token.split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[2]
