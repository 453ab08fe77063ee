"""The usage report's JSON body, checked with pydantic."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PersonRef(BaseModel):
    """Who used the tool: a platform identity, or an e-mail address."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    platform: Literal["slack", "teams", "local"] | None = None
    id: str | None = Field(default=None, min_length=1, max_length=255)
    email: str | None = Field(default=None, max_length=320, pattern=EMAIL.pattern)

    def problem(self) -> tuple[str, str] | None:
        """The field that keeps this from naming one person, with why; None when it does."""
        if self.email is not None:
            return None
        if self.platform is None and self.id is None:
            return ("person", "give platform and id, or email")
        if self.id is None:
            return ("person.id", "id is required with platform")
        if self.platform is None:
            return ("person.platform", "platform is required with id")
        return None


class UsageReport(BaseModel):
    """`{"programme": …, "person": {…}, "used_at": …, "context": …, "version": …}`."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    programme: str = Field(min_length=1, max_length=64)
    person: PersonRef
    used_at: AwareDatetime
    context: str = Field(default="", max_length=200)
    version: str = Field(default="", max_length=64, pattern=r"^[\w.+\-]*$")
    """The tool's version; the first report of a new one marks a release on the timeline."""
