"""Slack's environment variables: SLACK_BOT_TOKEN, _SIGNING_SECRET, _APP_TOKEN, _API_URL."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class SlackSettings(BaseSettings):
    """How lastmile reaches Slack (a `.env` file is read too)."""

    model_config = SettingsConfigDict(env_prefix="SLACK_", env_file=".env", extra="ignore")

    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str = "https://slack.com/api/"

    @property
    def http(self) -> bool:
        """HTTP (Events API at /slack/events) is configured."""
        return bool(self.bot_token and self.signing_secret)

    @property
    def socket_mode(self) -> bool:
        """Socket Mode is configured."""
        return bool(self.bot_token and self.app_token)
