"""Programme API keys: made at random, stored only as their SHA-256, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from bot.config import LastmileConfig

PREFIX = "lmk_"


def new_key() -> str:
    """A fresh API key (256 random bits)."""
    return PREFIX + secrets.token_urlsafe(32)


def key_sha256(key: str) -> str:
    """The hex SHA-256 of a key: what the config file keeps (`api_key_sha256`)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def programme_for_key(config: LastmileConfig, key: str) -> str | None:
    """The programme whose configured key this is, or None.

    Every programme's hash is compared, in constant time, so the answer's timing
    tells nothing about which programmes exist or how close a guess came.
    """
    if not key:
        return None
    digest = key_sha256(key)
    found = None
    for programme_id, programme in config.programmes.items():
        stored = programme.api_key_sha256.strip().lower()
        if stored and hmac.compare_digest(digest, stored) and found is None:
            found = programme_id
    return found
