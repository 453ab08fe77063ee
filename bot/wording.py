"""Wording users read: loads prompts/<locale>.toml and checks every key is there."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

REQUIRED_KEYS: frozenset[str] = frozenset(
    [
        "checkin.reminder",
        "checkin.still_open",
        "checkin.moved",
        "checkin.expired",
        "checkin.already_answered",
        "note.kept",
        "note.workaround",
        "note.override",
        "note.idea",
        "note.classified",
        "text.cancel",
        "text.too_long",
        "text.file_not_kept",
        "text.file_alone",
        "understand.greetings",
        "understand.thanks",
        "understand.questions",
        "understand.filler",
        "understand.numbers",
        "understand.tomorrow",
        "understand.weeks",
        "understand.days",
        "understand.reply.greeting",
        "understand.reply.thanks",
        "understand.reply.question",
        "words.help",
        "words.pause",
        "words.resume",
        "words.stop",
        "words.mydata",
        "words.forget",
        "words.checkin",
        "words.json",
        "commands.help",
        "commands.help_lead",
        "commands.help_owner",
        "commands.unknown",
        "commands.paused",
        "commands.pause_usage",
        "commands.pause_past",
        "commands.pause_too_long",
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
        "mydata.heading",
        "mydata.file_sent",
        "mydata.filename",
        "mydata.file_title",
        "mydata.json_hint",
        "mydata.forget_hint",
        "mydata.role.lead",
        "mydata.role.owner",
        "mydata.role.admin",
        "mydata.kind.scheduled",
        "mydata.kind.triggered",
        "mydata.kind.self",
        "mydata.kind.day30",
        "mydata.checkin_status.scheduled",
        "mydata.checkin_status.sent",
        "mydata.checkin_status.answered",
        "mydata.checkin_status.expired",
        "status.active",
        "status.paused",
        "status.stopped",
        "welcome.text",
        "welcome.channel",
        "welcome.the_tool",
        "local.skip_hint",
        "local.note_hint",
        "local.file_saved",
    ]
)
"""Keys the engine names; keys built at run time are registered by their modules, and
every locale must have every key the English file has."""

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


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _read(locale: str, directory: Path | None) -> tuple[str, dict[str, str]]:
    """The file's label and its strings: from `directory` when it has the locale, else shipped."""
    if directory is not None and (directory / f"{locale}.toml").is_file():
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
        return label, _flatten(tomllib.loads(raw.decode("utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise WordingError(f"prompts file {label} is not valid TOML: {error}") from None


def _check(label: str, strings: dict[str, str], reference: dict[str, str]) -> None:
    missing = sorted((REQUIRED_KEYS | EXTRA_KEYS | reference.keys()) - strings.keys())
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise WordingError(f"prompts file {label} is missing the key {missing[0]!r}{more}")
    for key, text in sorted(strings.items()):
        unknown = _fields(text) - _fields(reference.get(key, text))
        if unknown:
            raise WordingError(
                f"prompts file {label}: {key} uses {{{sorted(unknown)[0]}}}, which the "
                f"English wording of {key} does not have"
            )


def load_wording(
    locale: str = "en", directory: Path | None = None, reference: Wording | None = None
) -> Wording:
    """Load and check one locale's prompts file.

    Args:
        locale: the file's name without `.toml`.
        directory: a folder of prompts files used before the shipped `prompts/`.
        reference: the English wording: every key it has must be here too (keys built
            at run time included), with no placeholder it does not have.

    Returns:
        The locale's wording.

    Raises:
        WordingError: naming the file and the first missing key.
    """
    label, strings = _read(locale, directory)
    _check(label, strings, reference.strings if reference is not None else {})
    return Wording(locale=locale, strings=strings)


REFERENCE_LOCALE = "en"


def shipped_locales(directory: Path | None = None) -> set[str]:
    """The locales with a prompts file: shipped, and in `directory`."""
    found = {
        entry.name.removesuffix(".toml")
        for entry in resources.files("prompts").iterdir()
        if entry.name.endswith(".toml")
    }
    if directory is not None and directory.is_dir():
        found |= {path.stem for path in directory.glob("*.toml")}
    return found


def language_of(tag: str) -> str:
    """The language part of a locale tag: "es" for es-ES, es_419 or ES."""
    return tag.replace("_", "-").split("-")[0].strip().lower()


@dataclass(frozen=True)
class Wordings:
    """Every locale's wording, checked at start-up; people are spoken to in their own."""

    default: Wording
    by_locale: dict[str, Wording]

    def get(self, *tags: str | None) -> Wording:
        """The wording of the first tag lastmile speaks (es-ES → es), else the default."""
        for tag in tags:
            if not tag:
                continue
            for name in (tag, language_of(tag)):
                if name in self.by_locale:
                    return self.by_locale[name]
        return self.default

    def __iter__(self) -> Iterator[Wording]:
        return iter(self.by_locale.values())


def load_wordings(
    default: str, named: Iterable[str] = (), directory: Path | None = None
) -> Wordings:
    """Load and check every shipped locale and every locale the config names.

    Raises:
        WordingError: naming the file and its first missing (or wrongly filled) key.
    """
    reference = load_wording(REFERENCE_LOCALE, directory)
    by_locale = {REFERENCE_LOCALE: reference}
    for locale in sorted(
        (shipped_locales(directory) | set(named) | {default}) - {REFERENCE_LOCALE}
    ):
        by_locale[locale] = load_wording(locale, directory, reference)
    return Wordings(default=by_locale[default], by_locale=by_locale)
