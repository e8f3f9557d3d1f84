"""Dedup: canonical URLs, content hashes, MinHash, per-source boilerplate lines."""
