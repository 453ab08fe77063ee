"""The check-in and day-30 flows as pure steps: step(state, input) -> transition."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bot.replies import Answered, Choices, Option, Reply, Text, TextRequest
from bot.wording import Wording

MAX_TEXT = 2000

OUTCOMES = ("helped", "partly", "no", "not_used", "not_now")
WORKAROUNDS = ("by_hand", "old_system", "colleague", "other")
OVERRIDE_REASONS = ("wrong", "didnt_fit", "slower", "distrust", "policy", "other")
NOT_USED_REASONS = ("not_needed", "too_slow", "no_access", "distrust", "forgot", "other")
FEELINGS = ("very", "somewhat", "not", "dont_use")
SKIP = "skip"


@dataclass(frozen=True)
class FlowState:
    """Where a person is in one check-in; persisted between steps."""

    flow: str  # "checkin" or "day30"
    checkin_id: int
    step: str
    tool: str
    context: str = ""
    k: int = 5
    moment: str = "afternoon"  # morning | afternoon | evening, in the person's time
    memory: dict[str, str] = field(default_factory=dict)

    def token(self, step: str | None = None) -> str:
        """The routing token for a step's message: flow:checkin:step."""
        return f"{self.flow}:{self.checkin_id}:{step or self.step}"


@dataclass(frozen=True)
class Pick:
    """A tapped choice for a step."""

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


@dataclass(frozen=True)
class Transition:
    """The result of one step: the next state (None when finished), replies, records."""

    state: FlowState | None
    replies: tuple[Reply, ...] = ()
    records: tuple[Record, ...] = ()
    accepted: bool = True


def _choices(
    state: FlowState, w: Wording, text: str, prefix: str, values: tuple[str, ...]
) -> Choices:
    options = tuple(
        Option(value, w(f"{prefix}.{value}"), free_text=value == "other") for value in values
    )
    return Choices(text=text, token=state.token(), options=options)


def _text_request(state: FlowState, w: Wording, prompt: str, skippable: bool = True) -> TextRequest:
    return TextRequest(
        prompt=prompt,
        token=state.token(),
        label=w("text.free_text_label"),
        submit_label=w("text.submit"),
        skip_label=w("override.skip") if skippable else "",
        max_length=MAX_TEXT,
    )


def question(state: FlowState, w: Wording) -> Reply:
    """The message that asks the current step's question."""
    tool = state.tool
    if state.step == "first":
        text = (
            w("checkin.question_with_context", tool=tool, context=state.context)
            if state.context
            else w("checkin.question", tool=tool, when=w(f"checkin.when_{state.moment}"))
        )
        options = tuple(Option(value, w(f"checkin.{value}")) for value in OUTCOMES)
        return Choices(text=text, token=state.token(), options=options)
    askers: dict[str, Callable[[], Reply]] = {
        "workaround": lambda: _choices(
            state, w, w("workaround.question"), "workaround", WORKAROUNDS
        ),
        "workaround_text": lambda: _text_request(state, w, w("workaround.other_prompt")),
        "override": lambda: _choices(
            state, w, w("override.question", tool=tool), "override", ("no", "yes")
        ),
        "override_reason": lambda: _choices(
            state, w, w("override.reason_question"), "override", OVERRIDE_REASONS
        ),
        "override_text": lambda: _text_request(state, w, w("override.detail_prompt")),
        "not_used_reason": lambda: _choices(
            state, w, w("not_used.question"), "not_used", NOT_USED_REASONS
        ),
        "not_used_text": lambda: _text_request(state, w, w("not_used.other_prompt")),
        "feeling": lambda: _choices(state, w, w("day30.question", tool=tool), "day30", FEELINGS),
        "change": lambda: _text_request(state, w, w("day30.change_question")),
    }
    return askers[state.step]()


def part_of_day(hour: int) -> str:
    """The words for when the person used the tool: morning, afternoon or evening."""
    if hour < 12:
        return "morning"
    return "afternoon" if hour < 18 else "evening"


def start(state: FlowState, w: Wording) -> tuple[Reply, ...]:
    """The first message of a check-in."""
    return (question(state, w),)


def _goto(
    state: FlowState,
    step: str,
    w: Wording,
    *before: Reply,
    records: tuple[Record, ...] = (),
    **memory: str,
) -> Transition:
    following = replace(state, step=step, memory={**state.memory, **memory})
    return Transition(following, (*before, question(following, w)), records)


def _close(
    state: FlowState, w: Wording, *before: Reply, records: tuple[Record, ...] = ()
) -> Transition:
    return Transition(None, (*before, Text(w("close.thanks", k=state.k))), records)


def _valid(step: str, flow_input: FlowInput) -> bool:
    allowed: dict[str, tuple[str, ...]] = {
        "first": OUTCOMES,
        "workaround": WORKAROUNDS,
        "override": ("no", "yes"),
        "override_reason": OVERRIDE_REASONS,
        "not_used_reason": NOT_USED_REASONS,
        "feeling": FEELINGS,
    }
    if isinstance(flow_input, Typed):
        return step not in allowed
    return flow_input.value in allowed.get(step, (SKIP,))


def step(state: FlowState, flow_input: FlowInput, w: Wording) -> Transition:
    """Advance one step.

    Args:
        state: where the person is.
        flow_input: what they tapped or wrote, naming the step it answers.
        w: the person's wording.

    Returns:
        The next state and what to say. A tap for a step that is not the current
        one (a second tap, an old message) is not accepted and changes nothing.
    """
    if flow_input.step != state.step or not _valid(state.step, flow_input):
        return Transition(state, accepted=False)
    if isinstance(flow_input, Typed):
        return _typed(state, flow_input.text.strip()[:MAX_TEXT], w)
    return _picked(state, flow_input.value, w)


def _label(w: Wording, prefix: str, value: str) -> str:
    return w(f"{prefix}.{value}").rstrip("…")


def _picked(state: FlowState, value: str, w: Wording) -> Transition:
    token, tool = state.token(), state.tool
    if state.step == "first":
        done = Answered(token, w(f"checkin.answered.{value}", tool=tool))
        record: tuple[Record, ...] = (SaveAnswer(value),)
        if value == "helped":
            return _close(state, w, done, records=record)
        if value == "not_now":
            return Transition(None, (done,), record)
        if value == "not_used":
            return _goto(state, "not_used_reason", w, done, records=record)
        return _goto(state, "workaround", w, done, records=record)
    if state.step == "workaround":
        done = Answered(token, w("workaround.recorded", choice=_label(w, "workaround", value)))
        record = (SaveWorkaround(value),)
        if value == "other":
            return _goto(state, "workaround_text", w, done, records=record)
        return _goto(state, "override", w, done, records=record)
    if state.step == "override":
        if value == "no":
            done = Answered(token, w("override.recorded_no"))
            return _close(state, w, done, records=(SaveOverride(False),))
        done = Answered(token, w("override.yes"))
        return _goto(state, "override_reason", w, done, records=(SaveOverride(True),))
    if state.step == "override_reason":
        done = Answered(token, w("override.recorded", choice=_label(w, "override", value)))
        return _goto(
            state, "override_text", w, done, records=(SaveOverride(True, value),), reason=value
        )
    if state.step == "not_used_reason":
        done = Answered(token, w("not_used.recorded", choice=_label(w, "not_used", value)))
        record = (SaveNotUsed(value),)
        if value == "other":
            return _goto(state, "not_used_text", w, done, records=record)
        return _close(state, w, done, records=record)
    if state.step == "feeling":
        done = Answered(token, w("day30.recorded", choice=_label(w, "day30", value)))
        return _goto(state, "change", w, done, records=(SaveDay30(value),), feeling=value)
    # A skipped free-text step moves on as if nothing was written.
    skipped = Answered(token, w("override.skip"))
    return _after_text(state, w, skipped, ())


def _typed(state: FlowState, text: str, w: Wording) -> Transition:
    done = Answered(state.token(), w("text.saved"))
    records: dict[str, tuple[Record, ...]] = {
        "workaround_text": (SaveWorkaround("other", text),),
        "override_text": (SaveOverride(True, state.memory.get("reason", "other"), text),),
        "not_used_text": (SaveNotUsed("other", text),),
        "change": (SaveDay30(state.memory.get("feeling", ""), text),),
    }
    return _after_text(state, w, done, records[state.step] if text else ())


def _after_text(
    state: FlowState, w: Wording, done: Reply, records: tuple[Record, ...]
) -> Transition:
    if state.step == "workaround_text":
        return _goto(state, "override", w, done, records=records)
    return _close(state, w, done, records=records)


def is_text_step(step_name: str) -> bool:
    """True for steps answered in words rather than taps."""
    return step_name in ("workaround_text", "override_text", "not_used_text", "change")


def parse_token(token: str) -> tuple[str, int, str] | None:
    """Split a `flow:id:step` token; None when it is not one."""
    parts = token.split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[2]
