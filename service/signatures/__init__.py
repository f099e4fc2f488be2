"""Signatures: the TOML files in `patterns/`, loaded, validated and compiled into a matcher.

Imports nothing from the database or the web; depends only on `service.ingest`.
"""
