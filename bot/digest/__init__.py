"""Weekly digests, trend summaries and "you said, we did" updates."""
