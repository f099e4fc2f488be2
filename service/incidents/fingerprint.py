"""Fingerprints: which hits belong to the same incident.

Versioned, so that a change of grouping never silently regroups history.
"""

from __future__ import annotations

import hashlib

FINGERPRINT_VERSION = "v1"


def fingerprint(signature_id: str, group_key: tuple[str, ...], source: str) -> str:
    """Return the stable fingerprint of (signature, grouping field values, source)."""
    parts = [FINGERPRINT_VERSION, signature_id, source, *group_key]
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"{FINGERPRINT_VERSION}:{digest[:40]}"
