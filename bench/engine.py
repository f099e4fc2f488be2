"""Benchmark the signature engine on a generated corpus: hyperscan engine, pure-Python fallback,
and a naive baseline (every signature regex on every line with the stdlib `re`).

    .venv/bin/python bench/engine.py [--lines N] [--fallback] [--baseline-lines N] [--repeat N]

All three must produce the same hits: (line, signature, role, fields) with the engine's winner
rule per line (highest priority first; among equals the match that ends first, then the smaller
id; `none` vetoes; `start_any` gives role start, `close_any` role close).
Not a test: timings depend on the machine. One core: everything here runs in one thread.
"""

from __future__ import annotations

import argparse
import platform
import re
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import corpus
import regex

from service.ingest.records import Event, LogRecord
from service.signatures.derive import derive_fields
from service.signatures.engine import LineHit, Matcher
from service.signatures.folding import FOLD_MARKERS, fold_text
from service.signatures.loader import load_signatures
from service.signatures.prefilter import (
    HyperscanPrefilter,
    PythonPrefilter,
    hyperscan_available,
    minimal_keywords,
)
from service.signatures.regexes import FLAGS
from service.signatures.schema import Rule

ROOT = Path(__file__).resolve().parent.parent
HitKey = tuple[int, str, str, tuple[tuple[str, str], ...]]
AnyPattern: TypeAlias = "re.Pattern[str] | regex.Pattern[str]"


def keys(hits: Sequence[LineHit]) -> set[HitKey]:
    """Return hits as comparable tuples."""
    return {(h.line, h.signature, h.role, tuple(sorted(h.fields.items()))) for h in hits}


@dataclass
class _Baseline:
    """One rule with its regexes compiled by stdlib `re` (or `regex` where `re` cannot)."""

    rule: Rule
    opening: list[AnyPattern]
    closing: list[AnyPattern]
    vetoes: list[AnyPattern]
    starting: list[AnyPattern]


def compile_baseline(rules: Sequence[Rule]) -> tuple[list[_Baseline], list[str]]:
    """Compile every rule's regexes with `re`; return them and what needed `regex` instead."""
    fell_back: list[str] = []

    def compiled(rule: Rule, key: str, sources: Sequence[str]) -> list[AnyPattern]:
        out: list[AnyPattern] = []
        for index, source in enumerate(sources):
            try:
                out.append(re.compile(source, re.MULTILINE))
            except re.error as error:
                fell_back.append(f"{rule.id} detect.{key}[{index}]: {error}")
                out.append(regex.compile(source, FLAGS))
        return out

    ordered = sorted(rules, key=lambda rule: (-rule.priority, rule.id))
    baseline = [
        _Baseline(
            rule,
            compiled(rule, "any", rule.detection.any),
            compiled(rule, "close_any", rule.detection.close_any),
            compiled(rule, "none", rule.detection.none),
            compiled(rule, "start_any", rule.detection.start_any),
        )
        for rule in ordered
    ]
    return baseline, fell_back


def run_baseline(rules: Sequence[_Baseline], text: str) -> list[LineHit]:
    """Try every rule's regexes on every line, the engine's winner rule per line; no prefilter.

    A line with a fold marker is also tried folded; that wins only with a higher priority.
    """
    hits: list[LineHit] = []
    priority = {item.rule.id: item.rule.priority for item in rules}
    for number, raw in enumerate(text.split("\n")):
        line = raw[:-1] if raw.endswith("\r") else raw
        best = _baseline_best(rules, priority, line, number)
        if (
            not (line.isascii() and "&" not in line)
            and any(marker in line for marker in FOLD_MARKERS)
            and (folded := fold_text(line)) != line
        ):
            other = _baseline_best(rules, priority, folded, number)
            if other is not None and (
                best is None or priority[other.signature] > priority[best.signature]
            ):
                best = other
        if best is not None:
            hits.append(best)
    return hits


def _baseline_best(
    rules: Sequence[_Baseline], priority: dict[str, int], line: str, number: int
) -> LineHit | None:
    best: tuple[int, LineHit] | None = None
    for item in rules:
        if best is not None and item.rule.priority < priority[best[1].signature]:
            break
        found = _baseline_hit(item, line, number)
        if found is not None and (best is None or found[0] < best[0]):
            best = found
    return best[1] if best is not None else None


def _baseline_hit(item: _Baseline, line: str, number: int) -> tuple[int, LineHit] | None:
    """Return (match end, hit) when the rule matches the line, as the engine decides it."""
    match, role = None, "open"
    for patterns, kind in (
        (item.opening, "open"),
        (item.starting, "start"),
        (item.closing, "close"),
    ):
        match = next((m for p in patterns if (m := p.search(line))), None)
        if match is not None:
            role = kind
            break
    if match is None or any(p.search(line) for p in item.vetoes):
        return None
    fields = {k: v for k, v in match.groupdict().items() if v is not None}
    if item.rule.detection.derive:
        event = Event(records=(LogRecord(message=line, source="text", seq=number),))
        position = max(match.end() - 1, match.start())
        fields.update(derive_fields(item.rule.detection.derive, event, line, position))
    hit = LineHit(number, item.rule.id, role, dict(sorted(fields.items())))  # type: ignore[arg-type]
    return match.end(), hit


def timed(function: Callable[[], list[LineHit]], repeat: int) -> tuple[float, list[LineHit]]:
    """Return the best wall time of `repeat` runs, and the last result."""
    best = float("inf")
    result: list[LineHit] = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def traced_peak(function: Callable[[], object]) -> int:
    """Return the peak bytes Python allocated while running `function` (an untimed pass)."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def rss_mb() -> float:
    """Return this process's peak resident set size so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def prefilter_section(rules: Sequence[Rule], text: str, use_hyperscan: bool, repeat: int) -> None:
    """Time the prefilter stage alone: hyperscan, `str.find`, and one `re` alternation."""
    groups = [rule.detection.keywords for rule in rules]
    keywords = minimal_keywords(k for group in groups for k in group)
    print(f"prefilter alone ({sum(map(len, groups))} keywords, {len(keywords)} minimal):")
    if use_hyperscan:
        start = time.perf_counter()
        text.encode("utf-8", "surrogatepass")
        encode = time.perf_counter() - start
        hs = HyperscanPrefilter(groups)
        seconds, found = timed(lambda: hs.scan(text), repeat)  # type: ignore[arg-type,return-value]
        print(
            f"  hyperscan          {seconds:7.3f} s  ({len(found)} candidate lines; "
            f"encoding the whole str to UTF-8 alone takes {encode:.3f} s)"
        )
    py = PythonPrefilter(groups)
    seconds, found = timed(lambda: py.scan(text), 1)  # type: ignore[arg-type,return-value]
    print(f"  python str.find    {seconds:7.3f} s  ({len(found)} candidate lines)")
    longest_first = sorted(keywords, key=len, reverse=True)
    alternation = re.compile("|".join(re.escape(keyword) for keyword in longest_first))
    start = time.perf_counter()
    count = sum(1 for _ in alternation.finditer(text))
    seconds = time.perf_counter() - start
    print(f"  one re alternation {seconds:7.3f} s  ({count} keyword matches, no line mapping yet)")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="corpus lines (1,000,000)")
    parser.add_argument(
        "--fallback",
        action="store_true",
        help="run as without hyperscan: the engine uses the pure-Python prefilter",
    )
    parser.add_argument(
        "--baseline-lines",
        type=int,
        default=0,
        help="run the baseline on the first N lines only and extrapolate (0: all)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is shown")
    parser.add_argument("--seed", type=int, default=20251009)
    parser.add_argument("--patterns", type=Path, default=ROOT / "patterns")
    parser.add_argument("--no-prefilters", action="store_true", help="skip prefilter-only timings")
    return parser.parse_args(argv)


@dataclass
class Run:
    """What one benchmark run measured."""

    lines: int
    results: dict[str, tuple[float, list[LineHit]]]
    baseline_seconds: float
    baseline_lines: int
    baseline_hits: list[LineHit]


def rate(lines: int, seconds: float) -> float:
    return lines / seconds if seconds else float("inf")


def print_speeds(run: Run, fell_back: list[str]) -> None:
    base_rate = rate(run.baseline_lines, run.baseline_seconds)
    for name, (seconds, hits) in run.results.items():
        speed = rate(run.lines, seconds)
        print(
            f"{name:28} {seconds:8.3f} s  {speed:>11,.0f} lines/s  "
            f"{speed / base_rate:6.1f}x baseline  ({len(hits)} hits)"
        )
    extrapolated = ""
    if run.baseline_lines < run.lines:
        extrapolated = (
            f"  [EXTRAPOLATED: ran on the first {run.baseline_lines:,} lines only; "
            f"{run.lines / base_rate:.1f} s projected for all]"
        )
    print(
        f"{'baseline (re, no prefilter)':28} {run.baseline_seconds:8.3f} s  "
        f"{base_rate:>11,.0f} lines/s  {1.0:6.1f}x baseline  "
        f"({len(run.baseline_hits)} hits){extrapolated}"
    )
    if fell_back:
        print(f"baseline used `regex` for {len(fell_back)} pattern(s) `re` cannot compile:")
        for item in fell_back:
            print(f"  {item}")
    else:
        print("baseline: every signature regex compiled with the stdlib `re`")
    if len(run.results) == 2:
        (engine, _hits), (fallback, _more) = run.results.values()
        print(f"engine vs fallback: {fallback / engine:.1f}x")


def print_identity(run: Run) -> bool:
    reference = keys(run.baseline_hits)
    partial = run.baseline_lines < run.lines
    identical = True
    for name, (_seconds, hits) in run.results.items():
        found = keys([hit for hit in hits if hit.line < run.baseline_lines])
        same = found == reference
        identical &= same
        scope = f" (first {run.baseline_lines:,} lines)" if partial else ""
        verdict = "IDENTICAL" if same else "DIFFERENT"
        print(f"hits of {name} vs baseline{scope}: {verdict} ({len(found)} vs {len(reference)})")
        for item in sorted(found ^ reference)[:10]:
            print(f"  {'only ' + name if item in found else 'only baseline'}: {item}")
    if len(run.results) == 2:
        (_a, first), (_b, second) = run.results.values()
        same = keys(first) == keys(second)
        identical &= same
        print(f"hits of engine vs fallback (all lines): {'IDENTICAL' if same else 'DIFFERENT'}")
    return identical


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rules = list(load_signatures([args.patterns]).signatures)
    use_hyperscan = hyperscan_available() and not args.fallback
    failures = [c.example.text for r in rules for c in r.cases if c.example.matches]
    misses = [c.example.text for r in rules for c in r.cases if not c.example.matches]
    text = corpus.generate(args.lines, failures=failures, near_misses=misses, seed=args.seed)
    size = len(text.encode("utf-8", "surrogatepass"))

    print(f"machine: {cpu_name()}, Python {platform.python_version()}, one thread")
    print(f"library: {len(rules)} signatures from {args.patterns}")
    print(
        f"corpus: {args.lines:,} lines, {size / 1e6:.1f} MB ({size / args.lines:.0f} bytes/line), "
        f"seed {args.seed}, ~0.5% failure lines from the signatures' examples"
    )
    if not use_hyperscan:
        print("hyperscan: " + ("not used (--fallback)" if args.fallback else "cannot be imported"))
    print(f"timings: best of {args.repeat} (baseline: 1 run)")
    print()

    matchers: dict[str, Matcher] = {}
    if use_hyperscan:
        matchers["engine (hyperscan)"] = Matcher(rules, prefilter="hyperscan")
    matchers["fallback (pure Python)"] = Matcher(rules, prefilter="python")
    results = {
        name: timed(lambda m=matcher: m.scan_lines(text), args.repeat)  # type: ignore[misc]
        for name, matcher in matchers.items()
    }
    baseline_rules, fell_back = compile_baseline(rules)
    baseline_text = text
    if args.baseline_lines and args.baseline_lines < args.lines:
        baseline_text = "\n".join(text.split("\n", args.baseline_lines)[: args.baseline_lines])
    start = time.perf_counter()
    baseline_hits = run_baseline(baseline_rules, baseline_text)
    run = Run(
        lines=args.lines,
        results=results,
        baseline_seconds=time.perf_counter() - start,
        baseline_lines=baseline_text.count("\n") + 1,
        baseline_hits=baseline_hits,
    )
    print_speeds(run, fell_back)
    print()
    identical = print_identity(run)
    print()
    if not args.no_prefilters:
        prefilter_section(rules, text, use_hyperscan, args.repeat)
        print()
    for name, matcher in matchers.items():
        peak = traced_peak(lambda m=matcher: m.scan_lines(text))  # type: ignore[misc]
        print(f"memory: {name} scan_lines peak allocation {peak / 1e6:.1f} MB (tracemalloc)")
    print(
        f"memory: process peak RSS {rss_mb():.0f} MB (the corpus str and baseline lines included)"
    )
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
