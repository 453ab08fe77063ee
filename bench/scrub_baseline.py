"""The quote scrubber as it was before issue 12 (mentions, e-mail, phones, links), to compare with.

A verbatim copy of `bot/digest/scrub.py` at that time, without `shorten`; only
`bench/scrub_quality.py` uses it.
"""

from __future__ import annotations

import re
import unicodedata

# Placeholders are bracketed words so a reader sees something was taken out,
# and the theme grouping can drop them before it reads the words.
EMAIL = "[email]"
PHONE = "[phone]"
LINK = "[link]"
SOMEONE = "[someone]"
PLACEHOLDERS = re.compile(r"\[(?:email|phone|link|someone)\]")

_DOT = r"\s*(?:\.|\(dot\)|\[dot\]|\{dot\}|\s+dot\s+)\s*"
_EMAIL = re.compile(
    # ana.b@example.co.uk, ana @ example . com
    r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)*|[\w.+%-]+\s+@\s+[\w-]+(?:\.[\w-]+)+"
    # ana(at)example(dot)com, ana [at] example.com
    rf"|[\w.+%-]+\s*(?:\(at\)|\[at\]|\{{at\}})\s*[\w-]+(?:{_DOT}[\w-]+)+"
    # ana at example dot com (plain words need the "dot" too)
    r"|[\w.+%-]+\s+at\s+[\w-]+(?:\s+dot\s+[\w-]+)+",
    re.IGNORECASE,
)
_URL = re.compile(
    r"\b(?:https?://|ftp://|www\.)[^\s<>\"]+|<(?:https?|mailto|tel):[^>]*>", re.IGNORECASE
)
# Slack's special tokens (<@U…>, <!channel>, <#C…|name>, <!subteam^…>) and Teams' <at>…</at>.
_PLATFORM_MENTION = re.compile(
    r"<[@#!][^>]*>|<at\b[^>]*>.*?</at>|&lt;[@#!].*?&gt;", re.IGNORECASE | re.DOTALL
)
_AT_WORD = re.compile(r"(?<![\w.])[@＠]\s?[\w][\w.\-]*")
# A run of digits with the separators phone numbers are written with; it is a
# phone number when it has at least seven digits (dates are left alone below).
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d\s().\-/–]{5,}\d(?![\w])")
_DATE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
_SPACES = re.compile(r"\s+")


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(character.isdigit() for character in text)
    if digits < 7 or _DATE.match(text.strip()):
        return text
    return PHONE


def _clean_characters(text: str) -> str:
    # Compatibility forms turn full-width digits and letters (＠, １２３) into
    # ordinary ones, so they are caught like any other; control and zero-width
    # characters could hide a token from the patterns.
    normal = unicodedata.normalize("NFKC", text)
    return "".join(
        " " if unicodedata.category(character) in ("Cc", "Zl", "Zp") else character
        for character in normal
        if unicodedata.category(character) != "Cf"
    )


def scrub(text: str) -> str:
    """Remove what could identify or ping someone from a quote.

    Args:
        text: words a person wrote.

    Returns:
        The words with mentions (Slack `<@U…>`, `<!channel>`, `@name`, Teams
        `<at>`), e-mail addresses (also "name at example dot com"), phone numbers
        (seven digits or more, in any common national or international layout) and
        links replaced by bracketed placeholders, on one line.
    """
    cleaned = _clean_characters(text)
    cleaned = _PLATFORM_MENTION.sub(SOMEONE, cleaned)
    cleaned = _URL.sub(LINK, cleaned)
    cleaned = _EMAIL.sub(EMAIL, cleaned)
    cleaned = _AT_WORD.sub(SOMEONE, cleaned)
    cleaned = _PHONE.sub(_phone, cleaned)
    # Whatever markup survives cannot open a platform token or a link.
    cleaned = cleaned.replace("<", "‹").replace(">", "›")
    return _SPACES.sub(" ", cleaned).strip()
