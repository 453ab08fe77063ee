"""Registers the wording keys the platform adapters use, for the start-up check."""

from __future__ import annotations


def register_wording() -> None:
    """Import the adapter modules that `require()` wording keys."""
    import adapters.slack.blocks
    import adapters.teams.bot
    import adapters.teams.package  # noqa: F401
