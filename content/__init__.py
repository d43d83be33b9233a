"""Campaigns, posts, approval and per-platform rendering."""

from content.rendering import x_weighted_length

__all__ = ["x_weighted_length"]
