"""The usage API: the AI tool tells lastmile that a person used it (`POST /api/v1/usage`)."""

from adapters.usage.api import mount_usage_api

__all__ = ["mount_usage_api"]
