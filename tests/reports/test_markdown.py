"""Log text cannot break out of the markdown it is put into."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from service.reports.markdown import cell, code, escape, fence

HOSTILE = [
    "```\n# Injected heading\n```",
    "<script>alert(1)</script>",
    "[click](javascript:alert(1)) ![img](http://evil/x.png)",
    "a | b | c",
    "**bold** _em_ ~~strike~~",
    "````` five backticks",
]
RENDER = MarkdownIt("commonmark", {"html": False}).enable("table")


@pytest.mark.parametrize("text", HOSTILE)
def test_fence_keeps_text_verbatim_in_one_code_block(text: str) -> None:
    html = RENDER.render(fence(text))
    assert html.count("<pre>") == 1
    assert "<h1>" not in html and "<script>" not in html and "<a " not in html


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_produces_no_markup(text: str) -> None:
    html = RENDER.render(escape(text))
    for tag in ("<script", "<a ", "<img", "<strong>", "<em>", "<h1>", "<code>", "<table"):
        assert tag not in html


@pytest.mark.parametrize("text", HOSTILE)
def test_code_span_is_a_single_inline_code(text: str) -> None:
    html = RENDER.render(code(text))
    assert html.count("<code>") == 1
    assert "<script>" not in html and "<a " not in html


def test_cell_cannot_split_a_table_row() -> None:
    table = f"| a | b |\n|---|---|\n| {cell('x | y | z')} | 2 |\n"
    html = RENDER.render(table)
    assert html.count("<td>") == 2


READS_AS_WRITTEN = [
    "File <module>, line 3",
    "start-up hang (pcls)",
    "[DB_DOWN] op=lead_sync try=1/5 -> 503",
    "#1 app.db-outage: _private_ and *starred*",
    "- a dash, + a plus, 1. a number, 12) another",
    "a & b &lt; c",
    "`code` ~~strike~~ back\\slash",
]


@pytest.mark.parametrize("text", READS_AS_WRITTEN)
def test_escaped_text_renders_back_to_exactly_the_text(text: str) -> None:
    import html as html_module

    rendered = RENDER.render(escape(text)).strip()
    assert rendered.startswith("<p>") and rendered.endswith("</p>")
    assert html_module.unescape(rendered[3:-4]) == text


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("start-up (pcls)", "start-up (pcls)"),
        ("DB_DOWN op=x", "DB_DOWN op=x"),
        ("<module>", "&lt;module&gt;"),
    ],
)
def test_escape_leaves_what_markdown_would_not_act_on(text: str, raw: str) -> None:
    assert escape(text) == raw


def test_cell_renders_a_pipe_back_as_a_pipe() -> None:
    table = f"| a |\n|---|\n| {cell('x | y')} |\n"
    assert "<td>x | y</td>" in RENDER.render(table)
