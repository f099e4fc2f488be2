"""Masking rules for exception messages: each rule on its own, their order, and the bounds."""

from __future__ import annotations

import pytest
import regex

from service.signatures.masks import (
    MASKS,
    MAX_MESSAGE_CHARACTERS,
    UNMASKABLE,
    Mask,
    mask_message,
)

BY_NAME = {mask.name: mask for mask in MASKS}

# (rule, input, expected): each rule applied alone.
SINGLE = [
    ("uuid", "user 3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b gone", "user <uuid> gone"),
    ("uuid", "ID 3F2B8C1E-9A4D-4E5F-8B6A-1C2D3E4F5A6B", "ID <uuid>"),
    ("uuid", "x3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b", "x3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b"),
    ("hex", "object at 0x7f3a2b1c9d80 is gone", "object at <hex> is gone"),
    ("hex", "flags 0XFF", "flags <hex>"),
    ("hex", "a0x12 stays", "a0x12 stays"),
    ("id", "request 5f9c2a1bdeadbeef42 failed", "request <id> failed"),
    ("id", "commit 9f2c1ab0 deployed", "commit <id> deployed"),
    ("id", "1234567890 is a number", "1234567890 is a number"),
    ("id", "abcdefabcdef is a word", "abcdefabcdef is a word"),
    ("id", "short 9f2c1a stays", "short 9f2c1a stays"),
    ("timestamp", "at 2025-10-09T07:44:32.301+00:00 it failed", "at <ts> it failed"),
    ("timestamp", "at 2025-10-09 07:44:32,301 it failed", "at <ts> it failed"),
    ("timestamp", "on 2025-10-09T07:44:32Z", "on <ts>"),
    ("timestamp", "on 2025-10-09, again", "on <ts>, again"),
    ("ip", "connect to 10.201.12.250:5432 refused", "connect to <ip>:5432 refused"),
    ("ip", "from [fe80::1ff:fe23:4567:890a]:443", "from [<ip>]:443"),
    ("ip", "listening on ::1", "listening on <ip>"),
    ("ip", "version 1.2.3.4.5 is not an address", "version 1.2.3.4.5 is not an address"),
    ("ip", "999.1.1.1 is not an address", "999.1.1.1 is not an address"),
    ("url", "GET https://api.example.com/v1/u/42?x=1 gave 502", "GET <url> gave 502"),
    ("url", "dsn postgresql+psycopg://u@db/app failed", "dsn <url> failed"),
    ("single-quoted", "KeyError: 'lead'", "KeyError: '<str>'"),
    ("single-quoted", "can't find 'x' here", "can't find '<str>' here"),
    ("single-quoted", "no quotes at all", "no quotes at all"),
    ("double-quoted", 'constraint "leads_phone_key"', 'constraint "<str>"'),
    ("path", "No such file: /app/data/export-42.csv", "No such file: <path>"),
    ("path", "open ./config/app.toml and ~/x", "open <path> and <path>"),
    ("path", "path C:\\Users\\bob\\file.txt missing", "path <path> missing"),
    ("path", "content type text/plain stays", "content type text/plain stays"),
    (
        "number",
        "timed out after 30.5s waiting for 3 workers",
        "timed out after <num>s waiting for <num> workers",
    ),
    ("number", "retry 3 of 5.", "retry <num> of <num>."),
    ("number", "-42 and +7", "<num> and <num>"),
    ("number", "python3.11 version 1.2.3 H12 utf8", "python3.11 version 1.2.3 H12 utf8"),
]


@pytest.mark.parametrize(("name", "text", "expected"), SINGLE)
def test_each_rule_alone(name: str, text: str, expected: str) -> None:
    assert BY_NAME[name].apply(text) == expected


def test_rules_run_in_a_documented_order() -> None:
    assert [mask.name for mask in MASKS] == [
        "uuid",
        "hex",
        "id",
        "timestamp",
        "ip",
        "url",
        "single-quoted",
        "double-quoted",
        "path",
        "number",
    ]


# (why the order matters, input, expected) through the whole ordered list.
ORDERED = [
    (
        "uuid before id and number: one placeholder, not fragments",
        "lead 3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b missing",
        "lead <uuid> missing",
    ),
    ("hex before id and number", "at 0x7f3a2b1c9d80", "at <hex>"),
    ("id before number: a hex id with digits is one id", "req 5f9c2a1b77 done", "req <id> done"),
    ("timestamp before number", "since 2025-10-09T07:44:32Z", "since <ts>"),
    ("ip before number", "peer 10.0.0.12:5432 reset", "peer <ip>:<num> reset"),
    ("url before path", "fetch https://x.io/a/b failed", "fetch <url> failed"),
    (
        "quoted before path: the value, not its path",
        "open '/app/x.csv' failed",
        "open '<str>' failed",
    ),
    (
        "everything at once",
        "[Errno 2] can't open '/tmp/x' for 3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b at /srv/app.py:42",
        "[Errno <num>] can't open '<str>' for <uuid> at <path>:<num>",
    ),
]


@pytest.mark.parametrize(("why", "text", "expected"), ORDERED, ids=[row[0] for row in ORDERED])
def test_order_matters(why: str, text: str, expected: str) -> None:
    assert mask_message(text) == expected, why


def test_the_reverse_order_would_shred_a_uuid() -> None:
    text = "lead 3f2b8c1e-9a4d-4e5f-8b6a-1c2d3e4f5a6b missing"
    assert mask_message(text, tuple(reversed(MASKS))) != "lead <uuid> missing"


def test_the_same_bug_with_different_values_masks_to_one_message() -> None:
    messages = {
        mask_message(f"order {n} for '{name}' failed at 10.0.{n % 250}.1 after {n / 7:.2f}s")
        for n, name in enumerate(["ann", "bob", "cy"] * 20)
    }
    assert messages == {"order <num> for '<str>' failed at <ip> after <num>s"}


def test_only_the_first_line_counts() -> None:
    assert mask_message("1 validation error for LeadIn\nphone\n  bad input 42") == (
        "<num> validation error for LeadIn"
    )


def test_blank_lines_and_spaces_around_are_dropped() -> None:
    assert mask_message("\n  KeyError 'x'  \nmore") == "KeyError '<str>'"


def test_messages_are_cut_to_a_bounded_size() -> None:
    assert len(mask_message("word " * 1000)) == MAX_MESSAGE_CHARACTERS


def test_a_rule_that_times_out_gives_a_fixed_placeholder() -> None:
    slow = Mask("slow", regex.compile("(a+)+$"), "x")
    assert mask_message("a" * 400 + "!", (slow,)) == UNMASKABLE
