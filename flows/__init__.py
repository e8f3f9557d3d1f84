"""Composition: settings, the ingest flow, serving deployments and the CLI."""
