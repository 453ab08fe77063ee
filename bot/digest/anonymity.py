"""The anonymity threshold k; which teams are shown alone is decided in `bot.digest.groups`."""

from __future__ import annotations

MINIMUM_K = 3


def effective_k(configured: int) -> int:
    """The threshold in force: the configured k, never below 3."""
    return max(MINIMUM_K, configured)
