"""Gaung application shell: settings, database, CLI."""
