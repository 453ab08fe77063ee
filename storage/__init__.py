"""Storage: sqlmodel tables and the typed repository functions the engine uses."""
