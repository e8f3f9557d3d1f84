"""Fetching: one polite, guarded HTTP layer (limits, robots.txt, per-host state, encodings)."""
