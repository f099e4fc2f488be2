"""Incidents: hits grouped by fingerprint into incidents with a lifecycle, and their timeline.

Domain functions take a session and flush; whoever started the unit of work commits.
"""
