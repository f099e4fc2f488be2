"""Benchmark ingest: every body format parsed in process, then HTTP end to end against a real
`drainwatch serve`.

    .venv/bin/python bench/ingest.py [--lines N] [--repeat N] [--memory-lines N] [--clients C]
                                     [--batches B] [--batch-lines L] [--no-parse] [--no-http]

Part 1 (one core, one thread): the same corpus lines encoded as each body a sender sends (text,
logplex, JSON array, NDJSON, `render logs -o json`, Loki JSON and snappy protobuf, OTLP JSON and
protobuf), each timed through its parser and `to_records` against text/plain in the same run, and
the records' messages compared with text/plain's.
Part 2: a `drainwatch serve` subprocess on a temporary SQLite database, C concurrent clients POSTing
batches of the same lines as text, logplex and gzip JSON; 202 latencies, accepted lines/s, then
how long the processor takes to match and store them all. Baseline: the same loop on /healthz.
Not a test: timings depend on the machine, and everything is compared within one run. The
defaults (50,000 lines in part 1) keep a run near 3 minutes on a 2-core machine; the figures are
per line and do not depend on the count.
"""

from __future__ import annotations

import argparse
import base64
import difflib
import gzip
import json
import os
import platform
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import corpus
import cramjam
import httpx2 as httpx
from engine import cpu_name, rss_mb, traced_peak
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from service.ingest.entries import Parsed, to_records
from service.ingest.formats import loki
from service.ingest.formats.jsonbody import parse_json_body
from service.ingest.formats.logplex import parse_logplex
from service.ingest.formats.loki import parse_loki_json, parse_loki_protobuf
from service.ingest.formats.otlp import parse_otlp_json, parse_otlp_protobuf
from service.ingest.records import LogRecord
from service.signatures.loader import load_signatures
from service.web.drains import parse_text_body

ROOT = Path(__file__).resolve().parent.parent
# The envelope's clock: line i was logged START + i ms (the lines carry their own times too).
START = datetime(2025, 10, 9, 7, 40, tzinfo=UTC)
HOST, APP, DYNO = "host", "app", "web.1"
# A snappy body may declare any size here: the server's DRAINWATCH_MAX_DECODED_BYTES is for HTTP.
NO_LIMIT = 1 << 40
START_SECONDS = 60
CATCH_UP_SECONDS = 600
POLL_SECONDS = 0.1
_RUNNING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


# ---------------------------------------------------------------------------------------------
# The bodies: the same lines as each sender writes them.


@dataclass(frozen=True, slots=True)
class Stamp:
    """The envelope time of one line, in the spellings the formats use."""

    ns: int
    iso: str  # 2025-10-09T07:40:00.001000Z (JSON senders)
    syslog: str  # 2025-10-09T07:40:00.001000+00:00 (logplex)


def stamps(count: int) -> list[Stamp]:
    out: list[Stamp] = []
    base_ns = int(START.timestamp()) * 10**9
    for index in range(count):
        moment = START + timedelta(milliseconds=index)
        text = f"{moment:%Y-%m-%dT%H:%M:%S.%f}"
        out.append(Stamp(base_ns + index * 10**6, f"{text}Z", f"{text}+00:00"))
    return out


def text_body(lines: Sequence[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def logplex_body(lines: Sequence[str], times: Sequence[Stamp]) -> bytes:
    """Heroku's frames: `LEN <190>1 TIME host app web.1 - LINE\\n`, the LF counted in LEN."""
    parts: list[bytes] = []
    for line, stamp in zip(lines, times, strict=True):
        frame = f"<190>1 {stamp.syslog} {HOST} {APP} {DYNO} - {line}\n".encode()
        parts.append(b"%d %s" % (len(frame), frame))
    return b"".join(parts)


def vector_events(lines: Sequence[str], times: Sequence[Stamp]) -> list[dict[str, str]]:
    """Events as Vector's `http` sink with the json codec writes them (file source)."""
    return [
        {
            "file": "/var/log/app/web.log",
            "host": "web-1",
            "message": line,
            "source_type": "file",
            "timestamp": stamp.iso,
        }
        for line, stamp in zip(lines, times, strict=True)
    ]


def compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_array_body(lines: Sequence[str], times: Sequence[Stamp]) -> bytes:
    return compact(vector_events(lines, times)).encode()


def ndjson_body(lines: Sequence[str], times: Sequence[Stamp]) -> bytes:
    return "".join(compact(event) + "\n" for event in vector_events(lines, times)).encode()


def render_body(lines: Sequence[str], times: Sequence[Stamp]) -> bytes:
    """`render logs -o json`: pretty-printed objects back to back (`}{`), with Render's labels."""
    labels = [
        {"name": "resource", "value": "srv-d2k4h7ur433s73b5q9g0"},
        {"name": "instance", "value": "srv-d2k4h7ur433s73b5q9g0-7xk2p"},
        {"name": "type", "value": "app"},
        {"name": "level", "value": "info"},
    ]
    return "".join(
        json.dumps(
            {
                "id": str(uuid.UUID(int=index)),
                "labels": labels,
                "message": line,
                "timestamp": stamp.iso,
            },
            ensure_ascii=False,
            indent=2,
        )
        for index, (line, stamp) in enumerate(zip(lines, times, strict=True))
    ).encode()


LOKI_LABELS = {"job": "bench", "instance": DYNO, "stream": "app"}


def loki_json_body(lines: Sequence[str], times: Sequence[Stamp]) -> bytes:
    """A Loki push as curl or Vector's `loki` sink sends JSON: one stream, `[ns, line]` values."""
    values = [[str(stamp.ns), line] for line, stamp in zip(lines, times, strict=True)]
    return compact({"streams": [{"stream": LOKI_LABELS, "values": values}]}).encode()


def loki_protobuf_body(lines: Sequence[str], times: Sequence[Stamp]) -> bytes:
    """The same push as Promtail sends it: a `logproto.PushRequest`, snappy block format."""
    request = loki.PushRequest()
    labels = "{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in LOKI_LABELS.items()) + "}"
    stream = request.streams.add(labels=labels.encode())
    for line, stamp in zip(lines, times, strict=True):
        entry = stream.entries.add(line=line.encode())
        entry.timestamp.seconds, entry.timestamp.nanos = divmod(stamp.ns, 10**9)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


OTLP_RESOURCE = {"service.name": "bench", "service.instance.id": DYNO}


def otlp_json_body(lines: Sequence[str], times: Sequence[Stamp]) -> bytes:
    """An OTLP/JSON export as the collector's `otlphttp` exporter writes it (encoding: json)."""
    records = [
        {
            "timeUnixNano": str(stamp.ns),
            "observedTimeUnixNano": str(stamp.ns),
            "body": {"stringValue": line},
        }
        for line, stamp in zip(lines, times, strict=True)
    ]
    attributes = [{"key": k, "value": {"stringValue": v}} for k, v in OTLP_RESOURCE.items()]
    document = {
        "resourceLogs": [
            {
                "resource": {"attributes": attributes},
                "scopeLogs": [{"scope": {"name": "bench"}, "logRecords": records}],
            }
        ]
    }
    return compact(document).encode()


def otlp_protobuf_body(lines: Sequence[str], times: Sequence[Stamp]) -> bytes:
    """The same export in protobuf (the exporters' default encoding)."""
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    for key, value in OTLP_RESOURCE.items():
        resource_logs.resource.attributes.add(key=key).value.string_value = value
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "bench"
    for line, stamp in zip(lines, times, strict=True):
        record = scope_logs.log_records.add(
            time_unix_nano=stamp.ns, observed_time_unix_nano=stamp.ns
        )
        record.body.string_value = line
    return bytes(request.SerializeToString())


@dataclass(frozen=True, slots=True)
class Format:
    """One body format: its name, the body of the lines, and what the server reads it with."""

    name: str
    body: bytes
    parser: Callable[[bytes], Parsed]


def formats(lines: Sequence[str]) -> list[Format]:
    """Encode the lines as every format; text/plain first (the baseline)."""
    times = stamps(len(lines))
    return [
        Format("text/plain", text_body(lines), parse_text_body),
        Format("logplex-1", logplex_body(lines, times), parse_logplex),
        Format("JSON array (Vector)", json_array_body(lines, times), parse_json_body),
        Format("NDJSON (Vector)", ndjson_body(lines, times), parse_json_body),
        Format("render logs -o json", render_body(lines, times), parse_json_body),
        Format("Loki push JSON", loki_json_body(lines, times), parse_loki_json),
        Format(
            "Loki snappy protobuf",
            loki_protobuf_body(lines, times),
            lambda data: parse_loki_protobuf(data, max_bytes=NO_LIMIT),
        ),
        Format("OTLP JSON", otlp_json_body(lines, times), parse_otlp_json),
        Format("OTLP protobuf", otlp_protobuf_body(lines, times), parse_otlp_protobuf),
    ]


# ---------------------------------------------------------------------------------------------
# Part 1: parsing in process.


def read(fmt: Format) -> tuple[list[LogRecord], Parsed]:
    """What the server does with a body before the spool: parse it, make the records."""
    parsed = fmt.parser(fmt.body)
    return to_records(parsed.entries, source="bench", received_at=START), parsed


@dataclass(slots=True)
class Parsing:
    """What part 1 measured of one format."""

    fmt: Format
    seconds: float
    records: int
    rejected: dict[str, int]
    differences: list[tuple[str, int, str]]  # (where, record index, message); empty: identical
    counts: tuple[int, int, int] = (0, 0, 0)  # records only here, only in text/plain, changed
    peak: int = 0
    empty: int = 0  # records whose message is empty (a header and nothing else)


def compare(
    messages: list[str], reference: list[str]
) -> tuple[list[tuple[str, int, str]], tuple[int, int, int]]:
    """Return up to 5 differing records (aligned by difflib) and the counts of each kind."""
    if messages == reference:
        return [], (0, 0, 0)
    only_here = only_there = changed = 0
    examples: list[tuple[str, int, str]] = []
    matcher = difflib.SequenceMatcher(None, reference, messages)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace":
            changed += max(i2 - i1, j2 - j1)
        only_here += (j2 - j1) if tag == "insert" else 0
        only_there += (i2 - i1) if tag == "delete" else 0
        examples += [("here", j, messages[j]) for j in range(j1, j2)][:2]
        examples += [("text/plain", i, reference[i]) for i in range(i1, i2)][:2]
    return examples[:5], (only_here, only_there, changed)


def parse_section(lines: Sequence[str], repeat: int, memory_lines: int) -> None:
    content = sum(1 for line in lines if line.strip())
    start = time.perf_counter()
    bodies = formats(lines)
    encoded = time.perf_counter() - start
    print(
        f"part 1: parsing in process, one thread: parser(body) + to_records(), best of {repeat} "
        f"rounds over all formats ({len(bodies)} bodies encoded in {encoded:.1f} s, untimed)"
    )
    reference: list[str] = []
    results: list[Parsing] = []
    for fmt in bodies:  # the first round, which also keeps the records for the check
        start = time.perf_counter()
        records, parsed = read(fmt)
        seconds = time.perf_counter() - start
        # A header-only line (a logplex frame around a blank line) is kept as an empty record on
        # purpose: in a platform-prefixed traceback that blank line belongs to the chain. Those
        # are counted apart and left out of the comparison.
        messages = [record.message for record in records if record.message]
        empty = len(records) - len(messages)
        if not reference:
            reference = messages
        differences, counts = compare(messages, reference)
        results.append(
            Parsing(
                fmt, seconds, len(messages), dict(parsed.rejected), differences, counts, 0, empty
            )
        )
        del records, parsed, messages
    # Round robin, not each format's runs back to back: a slow spell of the shared machine then
    # falls on every format alike instead of on one, and the best of the rounds is kept.
    for _ in range(repeat - 1):
        for result in results:
            start = time.perf_counter()
            read(result.fmt)
            result.seconds = min(result.seconds, time.perf_counter() - start)
    # Untimed, and on the first `memory_lines` only: tracemalloc makes a pass ~3.5x slower, and
    # the peak grows linearly with the lines (the records list and the decoded body dominate).
    traced = min(memory_lines, len(lines))
    small = bodies if traced == len(lines) else formats(lines[:traced])
    for result, fmt in zip(results, small, strict=True):
        result.peak = traced_peak(lambda f=fmt: read(f))  # type: ignore[misc]
    print_parsing(results, len(lines), content, traced)


def print_parsing(results: list[Parsing], lines: int, content: int, traced: int) -> None:
    base = results[0].seconds
    print(
        f"{'format':22} {'body MB':>8} {'best s':>7} {'lines/s':>9} {'us/line':>7} "
        f"{'vs text':>7} {'records':>8} {'peak MB':>8}  rejected entries"
    )
    for r in results:
        rejected = ", ".join(f"{n} {reason}" for reason, n in sorted(r.rejected.items()))
        print(
            f"{r.fmt.name:22} {len(r.fmt.body) / 1e6:8.1f} {r.seconds:7.3f} "
            f"{lines / r.seconds:9,.0f} {r.seconds / lines * 1e6:7.1f} {base / r.seconds:6.2f}x "
            f"{r.records:8,} {r.peak / 1e6:8.1f}  {rejected or '-'}"
        )
    print("vs text: speed relative to text/plain in this run (0.50x: twice the time)")
    print(
        f"peak: tracemalloc peak of one untimed pass over the first {traced:,} lines, its body "
        "not included (it grows linearly with the lines)"
    )
    # Every body holds the same lines, one per entry (text/plain: one per line), so every format
    # should give the same record messages in the same order, and one record per non-blank line:
    # a blank line gives no record in text/plain, and an empty entry elsewhere, which the JSON and
    # OTLP readers count as rejected (no_message, empty_message) and Loki reads as an entry with
    # no record. What may legitimately differ: a hard-wrapped line (exactly 80 characters, the
    # rest on the next line) is joined back by text/plain only, as one line per entry leaves
    # nothing to join; this corpus holds none. Envelope fields (time, instance, level) do differ
    # by design and are not compared. One difference is a behaviour, not noise: a logplex frame
    # around a blank line (`<190>1 TIME host app web.1 - `) is not blank, so it gives a record
    # whose message is empty after its syslog header is peeled; those are counted apart.
    print(f"expected records: {content:,} ({lines - content} blank lines of {lines:,} give none)")
    for r in results:
        if r.empty:
            print(
                f"{r.fmt.name}: {r.empty} more records with an empty message (header-only frames"
                " of blank lines, kept: in a prefixed traceback a blank line belongs to it)"
            )
    for r in results[1:]:
        if not r.differences:
            print(f"record messages of {r.fmt.name} vs text/plain: IDENTICAL ({r.records:,})")
            continue
        here, there, changed = r.counts
        print(
            f"record messages of {r.fmt.name} vs text/plain: DIFFERENT ({r.records:,}: "
            f"{here} only here, {there} only in text/plain, {changed} changed)"
        )
        for where, index, message in r.differences:
            print(
                f"  {'only ' + r.fmt.name if where == 'here' else where}, record {index}: "
                f"{message[:100]!r}"
            )
    other = [f"{r.fmt.name} {r.records:,}" for r in results if r.records != content]
    verdict = "NOT AS EXPECTED: " + ", ".join(other) if other else "all as expected"
    print(f"record counts: {verdict}")


# ---------------------------------------------------------------------------------------------
# Part 2: HTTP end to end.


@dataclass
class Server:
    """A running `drainwatch serve` subprocess."""

    base: str
    process: subprocess.Popen[bytes]
    log: Path
    token: str
    admin: tuple[str, str]
    started: float

    def peak_rss_mb(self) -> float | None:
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        found = re.search(r"VmHWM:\s+(\d+) kB", status)
        return int(found.group(1)) / 1e3 if found else None


def start_server(directory: Path) -> Server:
    token, password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DRAINWATCH_")},
        "DRAINWATCH_DATABASE_URL": f"sqlite:///{directory / 'drainwatch.db'}",
        "DRAINWATCH_SPOOL_DIR": str(directory / "spool"),
        "DRAINWATCH_INGEST_TOKEN": token,
        "DRAINWATCH_ADMIN_USER": "admin",
        "DRAINWATCH_ADMIN_PASSWORD": password,
        "DRAINWATCH_RATE_LIMIT_LINES": "0",
    }
    log = directory / "serve.log"
    begin = time.perf_counter()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", "0"],
            cwd=directory,  # no .env or ./drainwatch.db of the checkout
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server("", process, log, token, ("admin", password), 0.0)
    deadline = time.monotonic() + START_SECONDS
    while not server.base:
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"drainwatch serve did not start:\n{log.read_text()[-3000:]}")
        found = _RUNNING.search(log.read_text(errors="replace"))
        if found:
            server.base = found.group(1)
        else:
            time.sleep(0.05)
    while httpx.get(f"{server.base}/healthz", timeout=10).status_code != 200:
        if time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"/healthz is not 200:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    server.started = time.perf_counter() - begin
    return server


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
    try:
        server.process.wait(20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(10)


@dataclass(frozen=True, slots=True)
class Request:
    """One request of a run: method, path, body and headers."""

    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Load:
    """What one client loop measured."""

    latencies: list[float]
    wall: float
    accepted: int
    first_sent: float
    last_answer: float
    statuses: dict[int, int]
    body_bytes: int


def run_clients(
    base: str, requests: Sequence[Request], clients: int, expect: int, headers: dict[str, str]
) -> Load:
    """Send the requests from `clients` threads, each with its own keep-alive connection."""
    local = threading.local()
    opened: list[httpx.Client] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def connect(_: int) -> None:
        """Open this thread's connection (untimed), so no figure includes a TCP set-up."""
        client = local.client = httpx.Client(base_url=base, headers=headers, timeout=120)
        with lock:
            opened.append(client)
        client.get("/healthz")
        barrier.wait()  # one connection per thread: each waits until all threads have one

    def send(request: Request) -> tuple[float, int, int, float]:
        sent = time.perf_counter()
        response = local.client.request(
            request.method, request.path, content=request.body, headers=request.headers
        )
        answered = time.perf_counter()
        accepted = int(response.json()["accepted"]) if response.status_code == 202 else 0
        return answered - sent, response.status_code, accepted, answered

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(connect, range(clients)))
        start = time.perf_counter()
        answers = list(pool.map(send, requests))
        wall = time.perf_counter() - start
    for client in opened:
        client.close()
    statuses: dict[int, int] = {}
    for _latency, status, _accepted, _answered in answers:
        statuses[status] = statuses.get(status, 0) + 1
    if set(statuses) != {expect}:
        print(f"  UNEXPECTED answers: {statuses} (expected {expect})")
    return Load(
        latencies=[a[0] for a in answers],
        wall=wall,
        accepted=sum(a[2] for a in answers),
        first_sent=start,
        last_answer=max(a[3] for a in answers),
        statuses=statuses,
        body_bytes=sum(len(request.body) for request in requests),
    )


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass(frozen=True, slots=True)
class CaughtUp:
    """When the processor had done a format's lines, and the source's counters then."""

    drained: float  # the spool empty: every batch assembled, matched, stored and acknowledged
    done: float  # lines_processed == lines_received: the lines held back released too
    received: int
    processed: int


def wait_processed(server: Server, source: str, lines: int) -> CaughtUp:
    """Poll until the spool is empty, then until every received line of `source` is processed.

    The two differ by the assembler: it holds an instance's last ERROR or traceback-header line
    until the next line of that instance, or until DRAINWATCH_TRACEBACK_GAP_SECONDS (5 s) pass.
    """
    headers = {"Authorization": basic(*server.admin)}
    deadline = time.monotonic() + CATCH_UP_SECONDS
    drained = 0.0
    with httpx.Client(base_url=server.base, timeout=30, headers=headers) as client:
        while time.monotonic() < deadline:
            if not drained:
                spool_lines = client.get("/healthz").json()["spool_lines"]
                drained = time.perf_counter() if spool_lines == 0 else 0.0
            counters = client.get(f"/api/sources/{source}").json()
            received, processed = counters["lines_received"], counters["lines_processed"]
            if drained and received >= lines and processed >= received:
                return CaughtUp(drained, time.perf_counter(), received, processed)
            time.sleep(POLL_SECONDS)
    raise RuntimeError(f"{source}: not all processed in {CATCH_UP_SECONDS} s: {counters}")


def batch_requests(kind: str, batches: list[list[str]]) -> list[Request]:
    """Each batch as the sender of `kind` POSTs it (the token is added by the client)."""
    out: list[Request] = []
    times = stamps(sum(map(len, batches)))
    offset = 0
    for chunk in batches:
        stamp = times[offset : offset + len(chunk)]
        offset += len(chunk)
        if kind == "text":
            headers = {"Content-Type": "text/plain; charset=utf-8"}
            body = text_body(chunk)
        elif kind == "logplex":
            headers = {
                "Content-Type": "application/logplex-1",
                "Logplex-Msg-Count": str(len(chunk)),
                "Logplex-Frame-Id": uuid.uuid4().hex,
            }
            body = logplex_body(chunk, stamp)
        else:
            headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            body = gzip.compress(json_array_body(chunk, stamp), compresslevel=6)
        out.append(Request("POST", f"/drains/bench-{kind}", body, headers))
    return out


def http_section(lines: Sequence[str], clients: int, batch_count: int, batch_lines: int) -> None:
    batches = [list(lines[i * batch_lines : (i + 1) * batch_lines]) for i in range(batch_count)]
    total = batch_count * batch_lines
    content = sum(1 for chunk in batches for line in chunk if line.strip())
    kinds = {"text": "text/plain", "logplex": "logplex-1", "json": "JSON array, gzip"}
    requests = {kind: batch_requests(kind, batches) for kind in kinds}
    with tempfile.TemporaryDirectory(prefix="drainwatch-bench-") as directory:
        server = start_server(Path(directory))
        try:
            print(
                f"part 2: HTTP end to end: `drainwatch serve` (uvicorn, SQLite, spool in a temp "
                f"dir; up in {server.started:.1f} s), {clients} client threads with keep-alive"
            )
            print(
                f"  {batch_count} requests per row; batches of {batch_lines} lines ({total:,} "
                f"lines, {content:,} non-blank); rate limit OFF (DRAINWATCH_RATE_LIMIT_LINES=0); "
                f"clients and server share the machine's cores"
            )
            print(
                f"{'request':22} {'KB':>5} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} "
                f"{'req/s':>7} {'accepted/s':>10}  {'processed/s':>11} {'lag s':>6} {'all s':>6}"
            )
            ping = [Request("GET", "/healthz")] * batch_count
            print_load("GET /healthz (base)", run_clients(server.base, ping, clients, 200, {}))
            auth = {"Authorization": f"Bearer {server.token}"}
            for kind, name in kinds.items():
                load = run_clients(server.base, requests[kind], clients, 202, auth)
                caught = wait_processed(server, f"bench-{kind}", load.accepted)
                print_load(name, load, caught, load.accepted)
                if not load.accepted == caught.received == caught.processed == content:
                    print(
                        f"  COUNTS: accepted {load.accepted:,}, received {caught.received:,}, "
                        f"processed {caught.processed:,}, expected {content:,} (one per non-blank "
                        "line; see part 1's record check)"
                    )
            print(
                "base: /healthz reads no body but pings the database (SELECT 1 in a worker "
                "thread) and counts the spool; KB: mean request body (as sent, gzip for JSON)"
            )
            print("latencies: request sent -> answer (202; 200 for /healthz) per request")
            print("accepted/s: lines answered 202 over the wall time of the row's requests")
            print(
                "processed/s: accepted lines over first request -> spool empty (accept, assemble, "
                "match, store, acknowledge); lag: last 202 -> spool empty;"
            )
            print(
                "all: last 202 -> lines_processed == lines_received, held-back ERROR lines "
                f"included (up to the 5 s traceback gap); polled every {POLL_SECONDS} s"
            )
            # With an envelope time every batch moves the source's log clock on, and each move
            # runs the incident sweep; text lines keep their own times, and once a failure example
            # dated weeks later has set the clock ahead, later batches do not move it (46 sweeps
            # for 200 batches against 200). The sweep used to cost one deploy query per open
            # incident (11,184 queries for 100,000 logplex lines); it is one query per sweep now.
            print(
                "note: logplex and JSON carry an envelope time that moves the source's log clock "
                "on every batch, and each move runs the incident sweep; text lines keep their own "
                "times, among them failure examples dated weeks later, after which the clock "
                "rarely moves: compare processed/s with that in mind"
            )
            rss = server.peak_rss_mb()
            if rss is not None:
                print(f"memory: server process peak RSS {rss:.0f} MB")
        finally:
            stop_server(server)


def print_load(name: str, load: Load, caught: CaughtUp | None = None, lines: int = 0) -> None:
    ms = [latency * 1e3 for latency in load.latencies]
    size = f"{load.body_bytes / len(ms) / 1e3:5.1f}"
    accepted = f"{load.accepted / load.wall:10,.0f}" if load.accepted else f"{'-':>10}"
    tail = ""
    if caught is not None:
        tail = (
            f"  {lines / (caught.drained - load.first_sent):11,.0f} "
            f"{caught.drained - load.last_answer:6.2f} {caught.done - load.last_answer:6.2f}"
        )
    print(
        f"{name:22} {size} {percentile(ms, 0.50):7.1f} {percentile(ms, 0.95):7.1f} "
        f"{percentile(ms, 0.99):7.1f} {max(ms):7.1f} {len(ms) / load.wall:7.1f} {accepted}{tail}"
    )


# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=50_000, help="part 1 lines (50,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is shown")
    parser.add_argument(
        "--memory-lines", type=int, default=10_000, help="lines of the tracemalloc pass (10,000)"
    )
    parser.add_argument("--clients", type=int, default=4, help="part 2 concurrent clients (4)")
    parser.add_argument("--batches", type=int, default=200, help="part 2 requests per format")
    parser.add_argument("--batch-lines", type=int, default=500, help="part 2 lines per request")
    parser.add_argument("--seed", type=int, default=20251009)
    parser.add_argument("--patterns", type=Path, default=ROOT / "patterns")
    parser.add_argument("--no-parse", action="store_true", help="skip part 1")
    parser.add_argument("--no-http", action="store_true", help="skip part 2")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rules = list(load_signatures([args.patterns]).signatures)
    failures = [c.example.text for r in rules for c in r.cases if c.example.matches]
    misses = [c.example.text for r in rules for c in r.cases if not c.example.matches]
    needed = max(
        0 if args.no_parse else args.lines, 0 if args.no_http else args.batches * args.batch_lines
    )
    text = corpus.generate(needed, failures=failures, near_misses=misses, seed=args.seed)
    lines = text.split("\n")
    size = len(text.encode("utf-8", "surrogatepass"))
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"corpus: {needed:,} lines, {size / 1e6:.1f} MB ({size / needed:.0f} bytes/line), "
        f"seed {args.seed}, ~0.5% failure lines from the {len(rules)} signatures' examples"
    )
    print()
    if not args.no_parse:
        parse_section(lines[: args.lines], args.repeat, args.memory_lines)
        print(f"memory: process peak RSS {rss_mb():.0f} MB (every body of part 1 included)")
        print()
    if not args.no_http:
        http_section(lines, args.clients, args.batches, args.batch_lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
