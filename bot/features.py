"""Wires optional features (digests, trends, updates) into a runtime's engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.runtime import Runtime


def install_features(runtime: Runtime) -> None:
    """Register the commands and jobs that features add to the engine."""
    from bot.digest.commands import install as install_digest_commands

    install_digest_commands(runtime)
