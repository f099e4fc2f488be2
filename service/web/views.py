"""JSON and page views of signatures, shared by the API and the dashboard."""

from __future__ import annotations

from typing import Any

from service.signatures.model import Signature


def signature_json(signature: Signature, disabled_reason: str | None = None) -> dict[str, Any]:
    """Return a signature as the API lists it."""
    return {
        "id": signature.id,
        "title": signature.title,
        "severity": signature.severity,
        "kind": signature.kind,
        "description": signature.description,
        "references": list(signature.references),
        "group_by": list(signature.group_by),
        "priority": signature.priority,
        "quiet_minutes": signature.quiet_minutes,
        "examples": sum(1 for e in signature.examples if e.matches),
        "disabled": disabled_reason,
    }
