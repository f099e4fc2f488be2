"""The outage report's markdown turned into what a channel shows: plain text (Slack, a mail's
subject) and HTML (a mail's HTML part), with raw HTML off so log text stays text."""

from __future__ import annotations

from markdown_it import MarkdownIt

# As the dashboard renders reports: CommonMark with tables, raw HTML disabled.
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def plain(markdown: str) -> str:
    """Return one line of markdown as the text it reads as: no markup, escapes undone."""
    parts: list[str] = []
    for block in _markdown.parseInline(markdown):
        for token in block.children or ():
            if token.type in ("text", "code_inline"):
                parts.append(token.content)
            elif token.type in ("softbreak", "hardbreak"):
                parts.append(" ")
    return "".join(parts)


def html(markdown: str) -> str:
    """Return a markdown document as HTML: its text escaped, no raw HTML, no unsafe links."""
    return str(_markdown.render(markdown))


def inline_html(markdown: str) -> str:
    """Return one line of markdown as inline HTML, escaped the same way."""
    return str(_markdown.renderInline(markdown))
