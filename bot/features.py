"""Wires optional features (digests, trends, updates) into a runtime's engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.runtime import Runtime


def install_features(runtime: Runtime) -> None:
    """Register the commands and jobs that features add to the engine."""
    del runtime  # digests, trends and updates register here
