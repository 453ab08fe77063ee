"""Local chat adapter: try every conversation in a terminal."""
