"""Outages: incidents of one source that tell one story, joined by cause rules written as data."""
