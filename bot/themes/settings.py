"""The grouping thresholds, one set per kind of vector (chosen with bench/themes_quality.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GroupingSettings:
    """How close texts must be: to form a new theme, to join one, to join an owner's theme."""

    form: float
    """Mean cosine similarity (average linkage) under which texts do not form a theme."""
    join: float
    """Cosine similarity to a theme's centre a new text needs to join it."""
    seed_join: float
    """The same for an owner-named theme, whose centre is anchored to its example phrases."""


MINILM = GroupingSettings(form=0.30, join=0.40, seed_join=0.33)
LEXICAL = GroupingSettings(form=0.10, join=0.15, seed_join=0.15)


def settings_for(encoder_name: str) -> GroupingSettings:
    """The thresholds for an encoder's vectors (any sentence model uses MiniLM's)."""
    return LEXICAL if encoder_name == "lexical" else MINILM
