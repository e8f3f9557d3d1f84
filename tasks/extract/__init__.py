"""Extraction: trafilatura plus normalization, in a killable process pool."""
