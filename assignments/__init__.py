"""Repost assignments: the ASN inbox actions, tracking-link clicks and reach figures."""
