"""Slack messages for outages: Block Kit sections (title, severity, source, the report's lead
line, the link), every value from the log escaped as Slack requires and cut short."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from service.notify.markup import plain
from service.notify.outage_outbox import ESCALATED, OPENED, RESOLVED

# Slack refuses a section text over 3000 characters; a message is read at a glance anyway.
LEAD_CHARS = 600
EVENT_WORDS = {
    OPENED: "Outage opened",
    ESCALATED: "Outage escalated",
    RESOLVED: "Outage resolved",
}


def slack_text(value: object, limit: int) -> str:
    """Return `value` on one line, at most `limit` characters, with `&`, `<`, `>` escaped."""
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in str(value))
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def lead_for(event: str, lead: Sequence[str]) -> list[str]:
    """Return the lead lines a message of this event quotes (markdown): what broke, and for a
    resolution since when (the downtime) and what resolved it."""
    wanted: tuple[str, ...] = ("**What broke:**",)
    if event == RESOLVED:
        wanted += ("**Since:**", "**Status:**")
    elif event == OPENED:
        wanted += ("**First step:**",)
    return [line for line in lead if line.startswith(wanted)]


def outage_blocks(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return a Slack incoming-webhook message (blocks and fallback text) for an outage payload."""
    outage = payload.get("outage") or {}
    event = str(payload.get("event") or "")
    words = EVENT_WORDS.get(event, slack_text(event, 40))
    severity = slack_text(payload.get("severity") or "unknown", 20).upper()
    title = slack_text(payload.get("title") or outage.get("title") or "outage", 200)
    source = slack_text(outage.get("source") or "?", 100)
    url = slack_text(outage.get("url") or "", 300)
    link = f"<{url}|Outage #{slack_text(outage.get('id'), 20)}: the report>"
    # Built when first sent: an opening may already be over by then (one batch held both).
    over = outage.get("status") == "resolved"
    heading = f"*{words}: [{severity}] {title}*"
    reason = payload.get("reason") or ("already over" if over and event != RESOLVED else "")
    if reason:
        heading += f"\n{slack_text(reason, 200)}"
    facts = [f"*Severity*\n{severity}", f"*Source*\n{source}"]
    duration = payload.get("duration")
    if duration:
        facts.append(f"*{'Downtime' if over else 'So far'}*\n{slack_text(duration, 60)}")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": heading}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in facts]},
    ]
    for line in lead_for(event, payload.get("lead") or ()):
        label, _, rest = plain(line).partition(": ")
        text = f"*{slack_text(label, 40)}:* {slack_text(rest, LEAD_CHARS)}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]})
    return {"text": f"{words}: [{severity}] {title} ({source})", "blocks": blocks}
