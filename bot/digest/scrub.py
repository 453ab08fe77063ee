"""Makes free text safe to quote: no names, mentions, handles, contact details, addresses or ids."""

from __future__ import annotations

import functools
import re
import unicodedata

from bot.digest.findings import PLACEHOLDER, Finding, Kind, merged
from bot.digest.scrub_names import KnownNames, NameFinder
from bot.digest.scrub_patterns import FINDERS
from bot.digest.scrub_places import find_places

# Placeholders are bracketed words so a reader sees something was taken out,
# and the theme grouping can drop them before it reads the words.
EMAIL = PLACEHOLDER[Kind.EMAIL]
PHONE = PLACEHOLDER[Kind.PHONE]
LINK = PLACEHOLDER[Kind.LINK]
SOMEONE = PLACEHOLDER[Kind.NAME]
ADDRESS = PLACEHOLDER[Kind.ADDRESS]
ID = PLACEHOLDER[Kind.ID]
IP = PLACEHOLDER[Kind.IP]
PLACEHOLDERS = re.compile(r"\[(?:email|phone|link|someone|address|id|ip)\]")
_SPACES = re.compile(r"\s+")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_characters(text: str) -> str:
    """The text as the scrubber reads it: compatibility forms folded, hidden characters gone.

    Compatibility forms turn full-width digits and letters (＠, １２３) into ordinary
    ones, so they are caught like any other; control and zero-width characters
    could hide a token from the patterns.
    """
    if text.isascii():
        return _ASCII_CONTROL.sub(" ", text)  # most quotes: nothing to fold, nothing hidden
    normal = unicodedata.normalize("NFKC", text)
    return "".join(
        " " if unicodedata.category(character) in ("Cc", "Zl", "Zp") else character
        for character in normal
        if unicodedata.category(character) != "Cf"
    )


class Scrubber:
    """Takes identifying things out of quotes; build one per digest with the names the bot knows.

    Mentions (Slack `<@U…>`, `<!channel>`, `@name`, Teams `<at>`), user handles
    (`jane_doe`, `CORP\\jsmith`, known logins and platform ids) and names (known
    people's, common first names with the surnames after them, people after a
    title) become `[someone]`; e-mail addresses (also "ana at example dot com")
    `[email]`; phone numbers `[phone]`; national ids, badge, staff and vehicle
    numbers `[id]`; street addresses and postcodes `[address]`; IP addresses
    `[ip]`; links `[link]`. Times, dates, versions and counts stay.
    """

    def __init__(self, known: KnownNames | None = None) -> None:
        self.names = NameFinder(known or KnownNames())

    def find(self, cleaned: str) -> list[Finding]:
        """What would be taken out of a text already passed through `clean_characters`."""
        findings = [finding for finder in FINDERS for finding in finder(cleaned)]
        findings += find_places(cleaned)
        findings += self.names.find(cleaned)
        return merged(findings)

    def scrub(self, text: str) -> str:
        """Remove what could identify or ping someone from a quote.

        Args:
            text: words a person wrote.

        Returns:
            The words with each identifying span replaced by its bracketed
            placeholder, on one line, with no `<` or `>` left to open a platform
            token or a link.
        """
        cleaned = clean_characters(text)
        pieces: list[str] = []
        position = 0
        for finding in self.find(cleaned):
            pieces += [cleaned[position : finding.start], PLACEHOLDER[finding.kind]]
            position = finding.end
        pieces.append(cleaned[position:])
        quoted = "".join(pieces).replace("<", "‹").replace(">", "›")
        return _SPACES.sub(" ", quoted).strip()


@functools.cache
def _common() -> Scrubber:
    return Scrubber()


def scrub(text: str) -> str:
    """`Scrubber.scrub` with common names only, for text where no known names are at hand."""
    return _common().scrub(text)


def shorten(text: str, limit: int = 160) -> str:
    """Cut a quote at a word boundary so a digest stays readable."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:.-–")
    return f"{cut}…"
