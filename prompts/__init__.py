"""Wording users read, one TOML file per locale."""
