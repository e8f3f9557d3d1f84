"""Preloaded by the extraction pool's fork server (see ``tasks.extract.make_pool``): trafilatura is
imported there once, so every worker forked from it starts with it loaded."""

from tasks.extract import load_trafilatura

load_trafilatura()
