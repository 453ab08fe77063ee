"""Wording users read: loads prompts/<locale>.toml and checks every key is there."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

REQUIRED_KEYS: frozenset[str] = frozenset(
    [
        "checkin.question",
        "checkin.question_with_context",
        "checkin.when_morning",
        "checkin.when_afternoon",
        "checkin.when_evening",
        "checkin.helped",
        "checkin.partly",
        "checkin.no",
        "checkin.not_used",
        "checkin.not_now",
        "checkin.reminder",
        "checkin.expired",
        "checkin.already_answered",
        "checkin.answered.helped",
        "checkin.answered.partly",
        "checkin.answered.no",
        "checkin.answered.not_used",
        "checkin.answered.not_now",
        "workaround.question",
        "workaround.by_hand",
        "workaround.old_system",
        "workaround.colleague",
        "workaround.other",
        "workaround.other_prompt",
        "workaround.recorded",
        "override.question",
        "override.yes",
        "override.no",
        "override.reason_question",
        "override.wrong",
        "override.didnt_fit",
        "override.slower",
        "override.distrust",
        "override.policy",
        "override.other",
        "override.detail_prompt",
        "override.skip",
        "override.recorded",
        "override.recorded_no",
        "not_used.question",
        "not_used.not_needed",
        "not_used.too_slow",
        "not_used.no_access",
        "not_used.distrust",
        "not_used.forgot",
        "not_used.other",
        "not_used.other_prompt",
        "not_used.recorded",
        "close.thanks",
        "day30.question",
        "day30.very",
        "day30.somewhat",
        "day30.not",
        "day30.dont_use",
        "day30.change_question",
        "day30.recorded",
        "note.kept",
        "note.workaround",
        "note.override",
        "note.idea",
        "note.classified",
        "text.free_text_label",
        "text.submit",
        "text.cancel",
        "text.write",
        "text.saved",
        "text.too_long",
        "commands.help",
        "commands.help_lead",
        "commands.help_owner",
        "commands.unknown",
        "commands.paused",
        "commands.pause_usage",
        "commands.pause_past",
        "commands.resumed",
        "commands.stopped",
        "commands.not_enrolled",
        "commands.personal_only",
        "commands.forget_confirm",
        "commands.forget_yes",
        "commands.forget_no",
        "commands.forgotten",
        "commands.forget_kept",
        "commands.not_allowed",
        "commands.checkin_started",
        "commands.checkin_none",
        "mydata.heading",
        "mydata.profile",
        "mydata.roles",
        "mydata.checkins",
        "mydata.checkin_line",
        "mydata.workarounds",
        "mydata.workaround_line",
        "mydata.overrides",
        "mydata.override_line",
        "mydata.day30",
        "mydata.notes",
        "mydata.note_line",
        "mydata.none",
        "mydata.forget_hint",
        "status.active",
        "status.paused",
        "status.stopped",
        "welcome.text",
    ]
)

EXTRA_KEYS: set[str] = set()
"""Keys later features add; registered with `require()` before start-up checks run."""


def require(*keys: str) -> None:
    """Register wording keys a feature uses, so the start-up check covers them too."""
    EXTRA_KEYS.update(keys)


class WordingError(ValueError):
    """A prompts file is missing a key or cannot be read."""


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


@dataclass(frozen=True)
class Wording:
    """The strings of one locale, looked up by dotted key."""

    locale: str
    strings: dict[str, str]

    def __call__(self, key: str, **values: object) -> str:
        """Return the string for `key` with `{placeholders}` filled from `values`."""
        text = self.strings[key]
        return text.format(**values) if values else text


def load_wording(locale: str = "en", directory: Path | None = None) -> Wording:
    """Load and check one locale's prompts file.

    Args:
        locale: the file's name without `.toml`.
        directory: a folder of prompts files that replaces the shipped `prompts/`.

    Returns:
        The locale's wording.

    Raises:
        WordingError: naming the file and the first missing key.
    """
    if directory is not None:
        path = directory / f"{locale}.toml"
        label = str(path)
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise WordingError(f"cannot read prompts file {label}: {error.strerror}") from None
    else:
        resource = resources.files("prompts") / f"{locale}.toml"
        label = f"prompts/{locale}.toml"
        try:
            raw = resource.read_bytes()
        except FileNotFoundError:
            raise WordingError(f"there is no prompts file for locale {locale!r}") from None
    try:
        strings = _flatten(tomllib.loads(raw.decode("utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise WordingError(f"prompts file {label} is not valid TOML: {error}") from None
    missing = sorted((REQUIRED_KEYS | EXTRA_KEYS) - strings.keys())
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise WordingError(f"prompts file {label} is missing the key {missing[0]!r}{more}")
    return Wording(locale=locale, strings=strings)
