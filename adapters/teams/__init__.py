"""Microsoft Teams adapter (botbuilder CloudAdapter); the only place botbuilder is imported."""
