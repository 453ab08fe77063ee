"""What the quote scrubber finds in a text: the kind of identifier, where it is, its placeholder."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """A kind of thing that identifies or reaches a person."""

    MENTION = "mention"
    LINK = "link"
    EMAIL = "email"
    ADDRESS = "address"
    ID = "id"
    IP = "ip"
    PHONE = "phone"
    HANDLE = "handle"
    NAME = "name"


PLACEHOLDER: dict[Kind, str] = {
    Kind.MENTION: "[someone]",
    Kind.LINK: "[link]",
    Kind.EMAIL: "[email]",
    Kind.ADDRESS: "[address]",
    Kind.ID: "[id]",
    Kind.IP: "[ip]",
    Kind.PHONE: "[phone]",
    # A reader needs to know someone was named, not whether by name, handle or mention.
    Kind.HANDLE: "[someone]",
    Kind.NAME: "[someone]",
}
"""The bracketed word each kind becomes in a quote."""

_PRIORITY = {kind: rank for rank, kind in enumerate(Kind)}


@dataclass(frozen=True)
class Finding:
    """An identifier found at text[start:end]."""

    start: int
    end: int
    kind: Kind

    @property
    def size(self) -> int:
        """How many characters it covers."""
        return self.end - self.start


def merged(findings: Iterable[Finding]) -> list[Finding]:
    """Non-overlapping findings in text order; overlapping ones become their union.

    The union takes the kind of its longest part (an e-mail address inside a
    `<mailto:…>` link is a link; a domain inside an e-mail address is the
    address), ties going to the kind listed first in `Kind`. Taking the union
    rather than dropping the shorter finding means no part of either survives.
    """
    result: list[Finding] = []
    longest: Finding | None = None
    for finding in sorted(findings, key=lambda f: (f.start, -f.size, _PRIORITY[f.kind])):
        if result and finding.start < result[-1].end:
            last = result[-1]
            assert longest is not None
            if finding.size > longest.size:
                longest = finding
            result[-1] = Finding(last.start, max(last.end, finding.end), longest.kind)
        else:
            longest = finding
            result.append(finding)
    return result
