"""Loading and validating signature files: every class of error names its file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.signatures.loader import check_directory, load_signatures, load_usable_signatures
from service.signatures.schema import Rule, SignatureError, fill_placeholders

VALID = """\
id = "demo.thing"
title = "Demo thing failed"
severity = "high"
status = "stable"
priority = 10
description = "A demo signature."
references = ["https://example.com/demo"]

[detect]
kind = "single"
keywords = ["DEMO"]
any = ['DEMO failed: (?P<code>\\d+)']
group_by = ["code"]

[resolve]
quiet_minutes = 15

[knowledge]
root_cause = "Code {code} failed."
fix = "Fix code {code}."
verification = ["Check {code} again."]
prevention = ["Prevent it."]

[[examples]]
text = "DEMO failed: 42"
fields = { code = "42" }

[[examples]]
text = "boot: DEMO failed: 7"

[[near_misses]]
text = "DEMO ok"
"""


def write(root: Path, text: str, name: str = "demo.thing", area: str | None = "demo") -> Path:
    folder = root / area if area else root
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_for(tmp_path: Path, text: str, **kwargs: str | None) -> list[str]:
    root = tmp_path / "patterns"
    write(root, text, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(SignatureError) as caught:
        load_signatures([root])
    return caught.value.errors


def test_valid_file_loads_into_a_rule_that_is_a_signature(tmp_path: Path) -> None:
    write(tmp_path / "patterns", VALID)
    library = load_signatures([tmp_path / "patterns"])
    rule = library.get("demo.thing")
    assert isinstance(rule, Rule)
    assert rule.path == "patterns/demo/demo.thing.toml"
    assert (rule.severity, rule.status, rule.kind, rule.priority) == (
        "high",
        "stable",
        "single",
        10,
    )
    assert rule.group_by == ("code",)
    assert rule.quiet_minutes == 15
    assert rule.references == ("https://example.com/demo",)
    assert rule.detection.keywords == ("DEMO",)
    assert [case.label for case in rule.cases] == ["example-1", "example-2", "near-miss-1"]
    assert [example.matches for example in rule.examples] == [True, True, False]
    assert rule.examples[0].fields == {"code": "42"}
    assert library.example_count == 3


def test_resolve_table_is_optional(tmp_path: Path) -> None:
    write(tmp_path / "p", VALID.replace("[resolve]\nquiet_minutes = 15\n", ""))
    rule = load_signatures([tmp_path / "p"]).get("demo.thing")
    assert rule is not None and rule.quiet_minutes == 60


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "priority = 10\n",
            'priority = 10\ncolour = "red"\n',
            "demo.thing.toml: colour: unknown key",
        ),
        ('kind = "single"\n', 'kind = "single"\nregexes = []\n', ": detect.regexes: unknown key"),
        (
            'prevention = ["Prevent it."]\n',
            'prevention = ["x"]\nwhy = "x"\n',
            ": knowledge.why: unknown key",
        ),
        (
            'text = "DEMO failed: 42"\n',
            'text = "DEMO failed: 42"\nnote = "x"\n',
            ": examples[0].note: unknown key",
        ),
        ('title = "Demo thing failed"\n', "", ": title: required key is missing"),
        ("any = ['DEMO failed: (?P<code>\\d+)']\n", "", ": detect.any: required key is missing"),
        ('fix = "Fix code {code}."\n', "", ": knowledge.fix: required key is missing"),
        ("priority = 10\n", 'priority = "10"\n', ": priority: expected an integer, got a string"),
        (
            'keywords = ["DEMO"]',
            'keywords = "DEMO"',
            ": detect.keywords: expected an array, got a string",
        ),
        (
            'keywords = ["DEMO"]',
            'keywords = ["DEMO", 3]',
            ": detect.keywords[1]: expected a string",
        ),
        ('keywords = ["DEMO"]', "keywords = []", ": detect.keywords: must not be empty"),
        ('title = "Demo thing failed"', 'title = ""', ": title: must not be empty"),
        ('severity = "high"', 'severity = "urgent"', ": severity: must be one of critical, high"),
        ('status = "stable"', 'status = "beta"', ": status: must be one of stable, experimental"),
        (
            'kind = "single"',
            'kind = "burst"',
            ": detect.kind: must be one of single, pair, threshold, absence",
        ),
        ('kind = "single"', 'kind = "threshold"', ": detect.threshold: required key is missing"),
        (
            'references = ["https://example.com/demo"]',
            'references = ["example.com"]',
            ": references[0]: must be an http(s) URL",
        ),
        ("quiet_minutes = 15", "quiet_minutes = 0", ": resolve.quiet_minutes: must be at least 1"),
    ],
)
def test_structural_errors_name_the_file_and_key(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in VALID
    errors = errors_for(tmp_path, VALID.replace(old, new, 1))
    assert any(expected in error for error in errors), errors
    assert all(error.startswith("patterns/demo/demo.thing.toml: ") for error in errors)


def test_id_must_equal_the_file_stem(tmp_path: Path) -> None:
    errors = errors_for(tmp_path, VALID, name="demo.other")
    assert errors == [
        "patterns/demo/demo.other.toml: id: 'demo.thing' must equal the file name stem 'demo.other'"
    ]


def test_id_must_look_like_area_dot_name(tmp_path: Path) -> None:
    errors = errors_for(tmp_path, VALID.replace('"demo.thing"', '"Demo_Thing"'), name="Demo_Thing")
    assert any(": id: 'Demo_Thing' must look like area.name" in error for error in errors)


def test_id_must_start_with_its_directory(tmp_path: Path) -> None:
    errors = errors_for(tmp_path, VALID, area="other")
    assert any("id: 'demo.thing' must start with its directory name 'other.'" in e for e in errors)


def test_file_at_the_root_needs_no_area(tmp_path: Path) -> None:
    write(tmp_path / "flat", VALID, area=None)
    assert "demo.thing" in load_signatures([tmp_path / "flat"])


def test_duplicate_id_within_a_directory_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "patterns"
    write(root, VALID)
    write(root / "demo", VALID, area="nested")
    with pytest.raises(SignatureError) as caught:
        load_signatures([root])
    assert any(
        "id: duplicate id 'demo.thing', also in patterns/demo/" in e for e in caught.value.errors
    )


def test_invalid_toml_and_bad_encoding_are_reported(tmp_path: Path) -> None:
    root = tmp_path / "patterns"
    write(root, "id = ", name="demo.broken")
    (root / "demo" / "demo.latin.toml").write_bytes(b'title = "caf\xe9"\n')
    with pytest.raises(SignatureError) as caught:
        load_signatures([root])
    assert any(
        e.startswith("patterns/demo/demo.broken.toml: invalid TOML: ") for e in caught.value.errors
    )
    assert any(
        e.startswith("patterns/demo/demo.latin.toml: not UTF-8") for e in caught.value.errors
    )


def test_regex_that_does_not_compile(tmp_path: Path) -> None:
    text = VALID.replace("any = ['DEMO failed: (?P<code>\\d+)']", "any = ['x', 'DEMO (?P<code>[']")
    errors = errors_for(tmp_path, text)
    assert any(": detect.any[1]: regex does not compile: " in error for error in errors)


def test_catastrophic_regex_is_rejected(tmp_path: Path) -> None:
    text = VALID.replace("[detect]\n", "[detect]\nnone = ['(a+)+$']\n")
    errors = errors_for(tmp_path, text)
    assert any(
        ": detect.none[0]: regex takes over 50 ms of CPU time on a hostile" in error
        for error in errors
    )


@pytest.mark.parametrize("pattern", ["ZQ(b|bb)+$", "x(\\d|\\d\\d)*:y", "err=(ab|a|b)+;$"])
def test_catastrophic_group_behind_a_literal_prefix_is_rejected(
    tmp_path: Path, pattern: str
) -> None:
    text = VALID.replace("[detect]\n", f"[detect]\nnone = ['{pattern}']\n")
    errors = errors_for(tmp_path, text)
    assert any(": detect.none[0]: regex takes over 50 ms of CPU time" in e for e in errors)


def test_usable_load_skips_a_bad_file_and_keeps_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "patterns"
    write(root, VALID)
    broken = VALID.replace("demo.thing", "demo.slow").replace(
        "[detect]\n", "[detect]\nnone = ['ZQ(b|bb)+$']\n"
    )
    write(root, broken, name="demo.slow")
    library, problems = load_usable_signatures([root])
    assert [rule.id for rule in library] == ["demo.thing"]
    assert len(problems) == 1 and problems[0].startswith("patterns/demo/demo.slow.toml: ")


def test_usable_load_keeps_the_earlier_signature_a_bad_override_would_replace(
    tmp_path: Path,
) -> None:
    write(tmp_path / "bundled", VALID)
    write(tmp_path / "extra", VALID.replace('title = "Demo thing failed"', "title = 3"))
    library, problems = load_usable_signatures([tmp_path / "bundled", tmp_path / "extra"])
    kept = library.get("demo.thing")
    assert kept is not None and kept.path == "bundled/demo/demo.thing.toml"
    assert [problem.split(": ")[0] for problem in problems] == ["extra/demo/demo.thing.toml"]


def test_regex_matching_the_empty_string_is_rejected(tmp_path: Path) -> None:
    text = VALID.replace("[detect]\n", "[detect]\nclose_any = []\nnone = ['(?:DEMO)?']\n")
    errors = errors_for(tmp_path, text)
    assert any(": detect.none[0]: regex matches the empty string" in error for error in errors)


def test_named_groups_must_be_snake_case(tmp_path: Path) -> None:
    text = VALID.replace("(?P<code>", "(?P<Code>").replace("code", "Code")
    errors = errors_for(tmp_path, text)
    assert any("named group 'Code' must be lowercase snake_case" in error for error in errors)


def test_group_by_name_must_be_captured(tmp_path: Path) -> None:
    errors = errors_for(tmp_path, VALID.replace('group_by = ["code"]', 'group_by = ["host"]'))
    assert any(": detect.group_by[0]: 'host' is not captured by detect.any[0]" in e for e in errors)


def test_group_by_name_must_be_captured_by_every_regex(tmp_path: Path) -> None:
    text = VALID.replace(
        "any = ['DEMO failed: (?P<code>\\d+)']",
        "any = ['DEMO failed: (?P<code>\\d+)', 'DEMO gone']",
    )
    errors = errors_for(tmp_path, text)
    assert any("detect.group_by[0]: 'code' is not captured by detect.any[1]" in e for e in errors)


def test_placeholder_must_be_captured(tmp_path: Path) -> None:
    errors = errors_for(
        tmp_path, VALID.replace('fix = "Fix code {code}."', 'fix = "Restart {host}."')
    )
    assert any(
        ": knowledge.fix: placeholder {host} is not captured by any regex" in e for e in errors
    )


def test_escaped_placeholder_is_literal(tmp_path: Path) -> None:
    text = VALID.replace('fix = "Fix code {code}."', "fix = \"curl -w '%{{http_code}}'\"")
    write(tmp_path / "p", text)
    rule = load_signatures([tmp_path / "p"]).get("demo.thing")
    assert rule is not None
    assert fill_placeholders(rule.knowledge.fix, {"code": "1"}) == "curl -w '%{http_code}'"


def test_fill_placeholders_leaves_unknown_and_code_braces_alone() -> None:
    text = 'Code {code}: {"a": {missing}} {{code}}'
    assert fill_placeholders(text, {"code": "42"}) == 'Code 42: {"a": {missing}} {code}'


def test_variants_inherit_lists_and_check_their_fields(tmp_path: Path) -> None:
    variant = (
        '\n[[knowledge.variants]]\nwhen = { code = "42" }\n'
        'root_cause = "The answer."\nfix = "Ask again."\n'
    )
    text = VALID.replace("[[examples]]", variant + "\n[[examples]]", 1)
    write(tmp_path / "p", text)
    rule = load_signatures([tmp_path / "p"]).get("demo.thing")
    assert rule is not None
    chosen = rule.knowledge_for({"code": "42"})
    assert chosen.root_cause == "The answer."
    assert chosen.verification == ("Check {code} again.",)
    assert rule.knowledge_for({"code": "7"}).root_cause == "Code {code} failed."
    bad = text.replace('when = { code = "42" }', 'when = { host = "a" }')
    errors = errors_for(tmp_path / "bad", bad)
    assert any(": knowledge.variants[0].when.host: 'host' is not captured" in e for e in errors)


def test_example_counts_are_enforced(tmp_path: Path) -> None:
    one_example = VALID.replace('[[examples]]\ntext = "boot: DEMO failed: 7"\n', "")
    errors = errors_for(tmp_path, one_example)
    assert any(": examples: needs at least 2 matching examples" in e for e in errors)
    no_misses = "near_misses = []\n" + VALID.replace('[[near_misses]]\ntext = "DEMO ok"\n', "")
    errors = errors_for(tmp_path / "b", no_misses)
    assert any(": near_misses: needs at least 1 near miss" in e for e in errors)


def test_example_fields_must_be_captured(tmp_path: Path) -> None:
    errors = errors_for(
        tmp_path, VALID.replace('fields = { code = "42" }', 'fields = { host = "a" }')
    )
    assert any(": examples[0].fields.host: 'host' is not captured" in e for e in errors)


def test_pair_rules_need_close_any_and_both_roles(tmp_path: Path) -> None:
    errors = errors_for(tmp_path, VALID.replace('kind = "single"', 'kind = "pair"'))
    assert any(": detect.close_any: required key is missing" in e for e in errors)
    assert any(
        ': examples: a kind = "pair" signature needs open and close examples' in e for e in errors
    )


def test_single_rules_have_no_close_side(tmp_path: Path) -> None:
    text = VALID.replace("[detect]\n", "[detect]\nclose_any = ['DEMO back']\n")
    text = text.replace('text = "boot: DEMO failed: 7"', 'text = "DEMO back"\nrole = "close"')
    errors = errors_for(tmp_path, text)
    assert any(
        ': detect.close_any: only kind = "pair" or "absence" signatures have close_any' in e
        for e in errors
    )
    assert any(
        ': examples[1].role: only kind = "pair" or "absence" signatures have close examples' in e
        for e in errors
    )


def test_every_bad_file_is_reported_at_once(tmp_path: Path) -> None:
    root = tmp_path / "patterns"
    write(root, VALID.replace('severity = "high"', 'severity = "x"'))
    write(
        root,
        VALID.replace("demo.thing", "demo.other").replace("priority = 10", "priority = 1.5"),
        name="demo.other",
    )
    with pytest.raises(SignatureError) as caught:
        load_signatures([root])
    assert len(caught.value.errors) == 2
    assert "demo.other.toml: priority: expected an integer, got a float" in str(caught.value)


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SignatureError) as caught:
        load_signatures([tmp_path / "nowhere"])
    assert caught.value.errors == [f"{tmp_path / 'nowhere'}: not a directory"]


def test_later_directory_replaces_an_earlier_id(tmp_path: Path) -> None:
    write(tmp_path / "bundled", VALID)
    write(tmp_path / "bundled", VALID.replace("demo.thing", "demo.kept"), name="demo.kept")
    write(tmp_path / "extra", VALID.replace('title = "Demo thing failed"', 'title = "Replaced"'))
    library = load_signatures([tmp_path / "bundled", tmp_path / "extra"])
    assert [rule.id for rule in library] == ["demo.kept", "demo.thing"]
    replaced = library.get("demo.thing")
    assert replaced is not None and replaced.title == "Replaced"
    assert replaced.path == "extra/demo/demo.thing.toml"


def test_hidden_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "p", VALID)
    write(tmp_path / "p" / ".trash", "not toml at all", name="junk")
    assert len(load_signatures([tmp_path / "p"])) == 1


def test_check_directory_is_clean_for_a_valid_directory(tmp_path: Path) -> None:
    write(tmp_path / "p", VALID)
    assert check_directory(tmp_path / "p") == []


def test_check_directory_reports_an_example_that_does_not_match(tmp_path: Path) -> None:
    write(
        tmp_path / "p", VALID.replace('text = "boot: DEMO failed: 7"', 'text = "DEMO failed: soon"')
    )
    assert check_directory(tmp_path / "p") == [
        "p/demo/demo.thing.toml: examples[1]: expected a hit of demo.thing, got no hit"
    ]


def test_check_directory_reports_a_near_miss_that_matches(tmp_path: Path) -> None:
    write(tmp_path / "p", VALID.replace('text = "DEMO ok"', 'text = "DEMO failed: 1"'))
    problems = check_directory(tmp_path / "p")
    assert problems == [
        "p/demo/demo.thing.toml: near_misses[0]: "
        "near miss matched demo.thing (fields {'code': '1'})"
    ]


def test_check_directory_reports_a_wrong_field(tmp_path: Path) -> None:
    write(tmp_path / "p", VALID.replace('fields = { code = "42" }', 'fields = { code = "43" }'))
    assert check_directory(tmp_path / "p") == [
        "p/demo/demo.thing.toml: examples[0]: field 'code': expected '43', got '42'"
    ]


def test_check_directory_catches_an_example_stolen_by_a_more_specific_signature(
    tmp_path: Path,
) -> None:
    write(tmp_path / "p", VALID)
    thief = (
        VALID.replace("demo.thing", "demo.thief")
        .replace("priority = 10", "priority = 20")
        .replace("DEMO failed: (?P<code>\\d+)", "DEMO failed: (?P<code>42)")
        .replace('text = "boot: DEMO failed: 7"', 'text = "DEMO failed: 42 again"')
        .replace('fields = { code = "42" }\n', "")
    )
    write(tmp_path / "p", thief, name="demo.thief")
    assert check_directory(tmp_path / "p") == [
        "p/demo/demo.thing.toml: examples[0]: "
        "demo.thief (priority 20) wins over demo.thing (priority 10)"
    ]


def test_check_directory_reports_validation_errors_too(tmp_path: Path) -> None:
    write(tmp_path / "p", VALID.replace('severity = "high"', "severity = 3"))
    assert check_directory(tmp_path / "p") == [
        "p/demo/demo.thing.toml: severity: expected a string, got an integer"
    ]


def test_check_directory_reports_an_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert check_directory(tmp_path / "empty") == [
        f"{tmp_path / 'empty'}: no signature files (*.toml) found"
    ]


def test_bundled_patterns_are_clean() -> None:
    bundled = Path(__file__).resolve().parents[2] / "patterns"
    assert check_directory(bundled) == []


def test_placeholders_inside_fenced_code_are_not_checked(tmp_path: Path) -> None:
    fence = "fix = '''\nUse the route:\n\n```python\n@router.get(\"/items/{item_id}\")\n```\n'''"
    write(tmp_path / "p", VALID.replace('fix = "Fix code {code}."', fence))
    assert "demo.thing" in load_signatures([tmp_path / "p"])
    outside = VALID.replace('fix = "Fix code {code}."', 'fix = "Open /items/{item_id}."')
    errors = errors_for(tmp_path / "bad", outside)
    assert any("placeholder {item_id} is not captured" in error for error in errors)


def test_threshold_and_absence_rules_need_their_numbers(tmp_path: Path) -> None:
    threshold = VALID.replace(
        'kind = "single"', 'kind = "threshold"\nthreshold = 1\nwindow_seconds = 0'
    )
    errors = errors_for(tmp_path, threshold)
    assert any(": detect.threshold: must be at least 2" in e for e in errors)
    assert any(": detect.window_seconds: must be between 1 and 86400" in e for e in errors)
    single = VALID.replace('kind = "single"', 'kind = "single"\nwindow_seconds = 60')
    assert any(
        "only threshold and absence signatures have a window" in e
        for e in errors_for(tmp_path, single)
    )


def test_absence_rules_need_start_lines_and_start_examples(tmp_path: Path) -> None:
    absence = VALID.replace(
        'kind = "single"', "kind = \"absence\"\nwindow_seconds = 60\nclose_any = ['DEMO back']"
    )
    errors = errors_for(tmp_path, absence)
    assert any(": detect.start_any: required key is missing" in e for e in errors)
    assert any('a kind = "absence" signature needs start and close examples' in e for e in errors)


def test_a_known_miss_that_starts_matching_is_reported(tmp_path: Path) -> None:
    from service.signatures.loader import check_directory

    root = tmp_path / "patterns"
    write(root, VALID + '\n[[known_misses]]\nreason = "not yet"\ntext = "boot: DEMO failed: 9"\n')
    assert any(
        "known_misses[0]: now matches; move it to [[examples]]" in e for e in check_directory(root)
    )
