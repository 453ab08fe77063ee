"""Conversation flows: pure step functions, no I/O and no clock."""
