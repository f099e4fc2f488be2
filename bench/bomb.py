"""Memory and time of hostile bodies against a real `drainwatch serve`: gzip bombs and bodies of
millions of tiny lines, each case on a fresh server (one case's freed memory cannot hide another's).

    .venv/bin/python bench/bomb.py [--case NAME ...] [--bomb-mib N] [--lines N]
                                   [--slow N] [--slow-seconds S]

Per case: the answer's status and the `too_many_lines` count, the time to the answer, and the
server's peak RSS growth over its RSS just before the request (VmHWM reset through
/proc/PID/clear_refs, and VmRSS sampled every 5 ms as a fallback). Targets (issue 12): a body
inflating to 100 MiB answers 413 with a peak growth under 30 MiB; 10.5 M one-letter lines answer
within a few seconds with a bounded growth. Then (unless --case is given) N slow connections
trickle header bytes for S seconds while /healthz is timed: it must answer within 1 s, and the
server cuts them off at its header deadline. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

START_SECONDS = 60
ANSWER_SECONDS = 600
_RUNNING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")
_TOO_MANY = re.compile(rb'"too_many_lines":\s*(\d+)')


@dataclass(frozen=True, slots=True)
class Body:
    """One hostile request body: its bytes on the wire and its headers."""

    data: bytes
    content_type: str
    gzip: bool
    inflated: int
    path: str = "/drains/bomb"


@dataclass(frozen=True, slots=True)
class Case:
    """A named case: the body, and how many copies are posted at once."""

    name: str
    body: Callable[[argparse.Namespace], Body]
    concurrent: int = 1


def deflate(raw: bytes, content_type: str) -> Body:
    """Gzip `raw` at the best ratio (a bomb is small on the wire)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    data = compressor.compress(raw) + compressor.flush()
    return Body(data, content_type, True, len(raw))


def zeros_bomb(args: argparse.Namespace) -> Body:
    """A text body of NUL bytes inflating to `--bomb-mib` MiB."""
    return deflate(bytes(args.bomb_mib << 20), "text/plain")


def letters_bomb(args: argparse.Namespace) -> Body:
    """A text body of one-letter lines inflating to `--bomb-mib` MiB."""
    return deflate(b"a\n" * (args.bomb_mib << 19), "text/plain")


def tiny_lines(args: argparse.Namespace) -> Body:
    """`--lines` one-letter lines, gzip text/plain (the issue's 20 KB body)."""
    return deflate(b"a\n" * args.lines, "text/plain")


def tiny_ndjson(args: argparse.Namespace) -> Body:
    """NDJSON of one-letter messages, as many as fit in 48 MiB."""
    line = b'{"message":"a"}\n'
    return deflate(line * ((48 << 20) // len(line)), "application/x-ndjson")


def tiny_json_strings(args: argparse.Namespace) -> Body:
    """One JSON array of one-letter strings (each a line), as many as fit in 48 MiB."""
    count = (48 << 20) // 4
    return deflate(b"[" + b'"a",' * (count - 1) + b'"a"]', "application/json")


def tiny_logplex(args: argparse.Namespace) -> Body:
    """Logplex of minimal octet-counted frames, as many as fit in 48 MiB."""
    frame = b"5 <1>1 "
    return deflate(frame * ((48 << 20) // len(frame)), "application/logplex-1")


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _snappy(raw: bytes, path: str) -> Body:
    import cramjam  # a drainwatch dependency: the bench runs in its environment

    return Body(
        bytes(cramjam.snappy.compress_raw(raw)), "application/x-protobuf", False, len(raw), path
    )


def loki_protobuf_lines(args: argparse.Namespace) -> Body:
    """A Loki PushRequest of one stream of one-letter entries, timed, 48 MiB uncompressed."""
    timestamp = _field(1, b"\x08" + _varint(1_764_756_000))
    entry = _field(2, timestamp + _field(2, b"a"))
    count = (48 << 20) // len(entry)
    stream = _field(1, b'{app="bomb"}') + entry * count
    return _snappy(_field(1, stream), "/loki/api/v1/push")


def loki_protobuf_empty(args: argparse.Namespace) -> Body:
    """A Loki PushRequest of one stream of empty entries (2 bytes each), 48 MiB uncompressed."""
    stream = _field(1, b'{app="bomb"}') + b"\x12\x00" * (24 << 20)
    return _snappy(_field(1, stream), "/loki/api/v1/push")


def loki_json_lines(args: argparse.Namespace) -> Body:
    """A Loki JSON push of one stream of one-letter values, 48 MiB, gzip."""
    value = b'["1764756000000000000","a"],'
    count = (48 << 20) // len(value)
    raw = b'{"streams":[{"stream":{"app":"bomb"},"values":[' + value * count + b'["1","a"]]}]}'
    return Body(
        deflate(raw, "application/json").data,
        "application/json",
        True,
        len(raw),
        "/loki/api/v1/push",
    )


def _otlp(records: bytes) -> bytes:
    resource = _field(1, _field(1, _field(1, b"service.name") + _field(2, _field(1, b"bomb"))))
    return _field(1, resource + _field(2, records))


def otlp_protobuf_records(args: argparse.Namespace) -> Body:
    """An OTLP export of one-letter log records (7 bytes each), 48 MiB, gzip."""
    record = _field(2, _field(5, _field(1, b"a")))
    raw = _otlp(record * ((48 << 20) // len(record)))
    return Body(deflate(raw, "").data, "application/x-protobuf", True, len(raw), "/v1/logs")


def otlp_protobuf_array(args: argparse.Namespace) -> Body:
    """One OTLP log record whose body is an array of 10 M one-letter strings, 48 MiB, gzip."""
    value = _field(1, _field(1, b"a"))
    array = _field(5, value * ((48 << 20) // len(value)))  # AnyValue.array_value
    raw = _otlp(_field(2, _field(5, array)))
    return Body(deflate(raw, "").data, "application/x-protobuf", True, len(raw), "/v1/logs")


def otlp_json_array(args: argparse.Namespace) -> Body:
    """One OTLP/JSON log record whose body is an array of one-letter strings, 48 MiB, gzip."""
    value = b'{"stringValue":"a"},'
    values = value * ((48 << 20) // len(value)) + b'{"stringValue":"a"}'
    raw = (
        b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"arrayValue":{"values":['
        + values
        + b"]}}}]}]}]}"
    )
    return Body(deflate(raw, "").data, "application/json", True, len(raw), "/v1/logs")


CASES = (
    Case("bomb-zeros", zeros_bomb),
    Case("bomb-letters", letters_bomb),
    Case("bomb-zeros-x8", zeros_bomb, concurrent=8),
    Case("tiny-lines", tiny_lines),
    Case("tiny-ndjson", tiny_ndjson),
    Case("tiny-json-strings", tiny_json_strings),
    Case("tiny-logplex", tiny_logplex),
    Case("loki-proto-lines", loki_protobuf_lines),
    Case("loki-proto-empty", loki_protobuf_empty),
    Case("loki-json-lines", loki_json_lines),
    Case("otlp-proto-lines", otlp_protobuf_records),
    Case("otlp-proto-array", otlp_protobuf_array),
    Case("otlp-json-array", otlp_json_array),
)


class Server:
    """A `drainwatch serve` subprocess on a temporary SQLite database."""

    def __init__(self, directory: Path) -> None:
        self.token = secrets.token_urlsafe(16)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DRAINWATCH_")},
            "DRAINWATCH_DATABASE_URL": f"sqlite:///{directory / 'drainwatch.db'}",
            "DRAINWATCH_SPOOL_DIR": str(directory / "spool"),
            "DRAINWATCH_INGEST_TOKEN": self.token,
            "DRAINWATCH_ADMIN_PASSWORD": secrets.token_urlsafe(16),
            "DRAINWATCH_RATE_LIMIT_LINES": "0",
        }
        self.log = directory / "serve.log"
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service", "serve", "--port", "0"],
                cwd=directory,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_SECONDS
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"drainwatch serve did not start:\n{self.log.read_text()}")
            found = _RUNNING.search(self.log.read_text(errors="replace"))
            if found:
                self.base = found.group(1)
                break
            time.sleep(0.05)

    def status(self, field: str) -> int:
        """Return a /proc/PID/status figure in KiB."""
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        found = re.search(rf"{field}:\s+(\d+) kB", text)
        return int(found.group(1)) if found else 0

    def reset_peak(self) -> bool:
        """Reset VmHWM to the current RSS (Linux 4.0+); False when not allowed."""
        try:
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def post(self, body: Body) -> tuple[int, bytes]:
        """POST `body` to /drains/bomb and return the status and the answer."""
        parts = urlsplit(self.base)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=ANSWER_SECONDS)
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": body.content_type,
        }
        if body.gzip:
            headers["Content-Encoding"] = "gzip"
        try:
            connection.request("POST", body.path, body=body.data, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def stop(self) -> None:
        """Terminate the server and reap it."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@dataclass(frozen=True, slots=True)
class Figures:
    """What one case measured."""

    statuses: list[int]
    too_many: list[int]
    seconds: float
    growth_mib: float


def sample_peak(server: Server, stop: threading.Event, peak: list[int]) -> None:
    """Keep the highest VmRSS seen in `peak[0]` until `stop` is set."""
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], server.status("VmRSS"))
        except OSError:
            return
        time.sleep(0.005)


def run_case(case: Case, body: Body) -> Figures:
    """Start a server, warm it up with one small batch, then post `body` and measure."""
    with tempfile.TemporaryDirectory(prefix="drainwatch-bomb-") as directory:
        server = Server(Path(directory))
        try:
            warm = Body(gzip.compress(b"warm up line\n" * 100), "text/plain", True, 1300)
            status, answer = server.post(warm)
            if status != 202:
                raise RuntimeError(f"warm-up answered {status}: {answer!r}")
            time.sleep(0.5)
            before = server.status("VmRSS")
            hwm = server.reset_peak()
            peak = [before]
            stop = threading.Event()
            sampler = threading.Thread(target=sample_peak, args=(server, stop, peak), daemon=True)
            sampler.start()
            begin = time.perf_counter()
            with ThreadPoolExecutor(case.concurrent) as pool:
                answers = list(pool.map(server.post, [body] * case.concurrent))
            seconds = time.perf_counter() - begin
            stop.set()
            sampler.join()
            highest = max(peak[0], server.status("VmHWM") if hwm else 0)
        finally:
            server.stop()
    too_many = [int(m.group(1)) if (m := _TOO_MANY.search(a)) else 0 for _, a in answers]
    return Figures([s for s, _ in answers], too_many, seconds, (highest - before) / 1024)


def slow_clients(count: int, seconds: float) -> tuple[list[float], int, float]:
    """Hold `count` connections trickling header bytes while /healthz is timed every 0.25 s.

    Returns the /healthz latencies, how many slow connections the server cut off, and after
    how many seconds the last of those was cut.
    """
    with tempfile.TemporaryDirectory(prefix="drainwatch-slow-") as directory:
        server = Server(Path(directory))
        parts = urlsplit(server.base)
        address = (parts.hostname or "127.0.0.1", parts.port or 80)
        try:
            sockets = [socket.create_connection(address, timeout=5) for _ in range(count)]
            for connection in sockets:
                connection.sendall(b"POST /drains/slow HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            alive = set(range(count))
            last_cut = 0.0
            latencies: list[float] = []
            begin = time.monotonic()
            next_byte = begin
            while (now := time.monotonic()) - begin < seconds:
                if now >= next_byte:
                    next_byte += 1.0
                    for index in sorted(alive):
                        try:
                            sockets[index].sendall(b"x")
                        except OSError:
                            alive.discard(index)
                            last_cut = now - begin
                started = time.perf_counter()
                healthz = f"{server.base}/healthz"  # http://127.0.0.1:port, our own server
                with urllib.request.urlopen(healthz, timeout=10) as response:  # noqa: S310
                    response.read()
                latencies.append(time.perf_counter() - started)
                time.sleep(0.25)
            for connection in sockets:
                connection.close()
        finally:
            server.stop()
    return latencies, count - len(alive), last_cut


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [case.name for case in CASES]
    parser.add_argument("--case", action="append", choices=names, help="run only these cases")
    parser.add_argument("--bomb-mib", type=int, default=100, help="a bomb's inflated MiB")
    parser.add_argument("--lines", type=int, default=10_500_000, help="tiny-lines' line count")
    parser.add_argument("--slow", type=int, default=200, help="slow connections (0: none)")
    parser.add_argument("--slow-seconds", type=float, default=30.0, help="how long they trickle")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the cases and print one line of figures each."""
    args = parse_args(argv)
    chosen = [case for case in CASES if not args.case or case.name in args.case]
    print(
        f"{'case':<18} {'wire KiB':>9} {'inflated MiB':>12} {'status':>10} "
        f"{'too_many_lines':>14} {'seconds':>8} {'peak RSS growth MiB':>20}"
    )
    for case in chosen:
        body = case.body(args)
        figures = run_case(case, body)
        statuses = ",".join(str(s) for s in sorted(set(figures.statuses)))
        if case.concurrent > 1:
            statuses = f"{case.concurrent}x{statuses}"
        print(
            f"{case.name:<18} {len(body.data) / 1024:>9.1f} {body.inflated / 2**20:>12.1f} "
            f"{statuses:>10} {max(figures.too_many):>14} {figures.seconds:>8.2f} "
            f"{figures.growth_mib:>20.1f}",
            flush=True,
        )
    if args.slow and not args.case:
        latencies, cut, last = slow_clients(args.slow, args.slow_seconds)
        median = sorted(latencies)[len(latencies) // 2]
        print(
            f"{args.slow} slow connections for {args.slow_seconds:g} s: /healthz max "
            f"{max(latencies) * 1000:.0f} ms, median {median * 1000:.0f} ms over "
            f"{len(latencies)} tries; {cut} cut off by the server (the last at {last:.1f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
