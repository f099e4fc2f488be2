"""Bytes in, log records out: framing, line headers, normalisation, redaction, traceback assembly.

Pure functions only: nothing here touches the database or the web.
"""
