"""Themes: what people wrote, grouped by meaning, kept from week to week."""
