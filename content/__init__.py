"""Campaigns, posts, approval and per-platform rendering."""
