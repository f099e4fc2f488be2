"""Outage reports: built from an incident's evidence and its signature's knowledge, rendered to
markdown (and, by the web layer, to HTML). Deterministic: same input, same bytes.
"""
