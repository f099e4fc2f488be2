"""Action items: what people will do after an incident, each with a priority and an owner; the
operator's own, or until there are some, the ones a report suggests from the signature."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

Priority = Literal["P1", "P2", "P3"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3")
MAX_ITEMS = 30


class ActionItem(BaseModel):
    """One follow-up: what to do, how urgent (P1 first), who does it, whether it is done."""

    text: str = Field(min_length=1, max_length=500)
    priority: Priority = "P2"
    owner: str = Field(default="", max_length=200)
    done: bool = False


def parse_lines(text: str) -> list[ActionItem]:
    """Return the items of a text box, one a line: `P1 | owner | action`, `[x]` first when done.

    The priority and owner may be left out (`action`, `P2 | action`); blank lines are skipped.
    """
    items: list[ActionItem] = []
    for raw in text.splitlines():
        line = raw.strip()
        done = line.lower().startswith("[x]")
        line = line[3:].strip() if done else line.removeprefix("[ ]").strip()
        if not line:
            continue
        parts = [part.strip() for part in line.split("|")]
        priority: Priority = "P2"
        if parts[0].upper() in PRIORITIES and len(parts) > 1:
            priority = parts.pop(0).upper()  # type: ignore[assignment]
        owner = parts.pop(0) if len(parts) > 1 else ""
        action = " | ".join(parts)
        if action:
            items.append(
                ActionItem(text=action[:500], priority=priority, owner=owner[:200], done=done)
            )
    return items[:MAX_ITEMS]


def format_lines(items: Sequence[ActionItem]) -> str:
    """Return the items as the text box shows them (the inverse of `parse_lines`)."""
    return "\n".join(
        f"{'[x] ' if item.done else ''}{item.priority} | {item.owner} | {item.text}"
        for item in items
    )


def stored_items(raw: Sequence[object]) -> list[ActionItem]:
    """Return the incident's stored items; entries that no longer validate are left out."""
    items = []
    for entry in raw:
        try:
            items.append(ActionItem.model_validate(entry))
        except ValueError:
            continue
    return items
