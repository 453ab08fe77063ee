"""Whether a person may be asked anything right now (pause, stop, unreachable)."""

from __future__ import annotations

from datetime import datetime

from storage.models import Person


def can_be_asked(person: Person, now: datetime) -> bool:
    """True when the person is taking part and reachable at `now`.

    A pause ends by itself at `paused_until`; a stop lasts until they resume.
    """
    if person.unreachable or person.cohort_id is None:
        return False
    if person.status == "active":
        return True
    return (
        person.status == "paused" and person.paused_until is not None and person.paused_until <= now
    )
