"""The composition root: the only package that imports both the engine (`bot/`) and `adapters/`."""
