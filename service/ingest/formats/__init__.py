"""Parsers of request bodies, one module per format: bytes in, entries out."""
