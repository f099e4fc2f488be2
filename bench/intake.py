"""Benchmark the HTTP intake under wrk, side by side with a no-op ceiling app in the same run.

    .venv/bin/python bench/intake.py [--seconds S] [--connections C] [--batch-lines L]
                                     [--sources N] [--kinds text,logplex] [--code DIR ...]
                                     [--rate-limit default|off] [--no-intake-only]

wrk (`apt-get install wrk`) posts 100-line bodies of the realistic corpus (text and logplex, each
to one of N sources in turn, every logplex batch with its own `Logplex-Frame-Id`) for S seconds
over C keep-alive connections, against:
- the ceiling: a FastAPI app on the same uvicorn stack (`service.web.server.build_server`) whose
  one route reads the body and answers 202, nothing else;
- `drainwatch serve` on the embedded default (SQLite, spool in a temp dir), processor running;
- the same app with its processor not started (`intake only`): what answering 202 alone costs.
Each `--code DIR` is a checkout whose `service` package is served (put first on PYTHONPATH), so a
baseline (`git worktree add /tmp/base main`) and the working tree are measured in one run.
Printed per row: requests/s, accepted lines/s (202 only), the share of the ceiling, wrk's p50 and
p99 latency, the server's CPU per request (utime + stime of the whole process over the run) and
every status that was not 202. Not a test: figures depend on the machine; compare within a run.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 60
_RUNNING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Each wrk thread walks the bodies from its own offset; a logplex request gets a frame id no other
# request of the run has, as Logplex gives every batch.
_LUA = r"""
local bodies, paths, kinds = {}, {}, {}
local count = 0
local threads = {}
local index, serial = 0, 0
-- Globals: wrk's thread:set and thread:get reach these (prefix, offset, statuses).
statuses = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("prefix", "t" .. #threads .. "-")
  thread:set("offset", #threads * 7)
end

function init(args)
  local dir = args[1]
  for line in io.lines(dir .. "/index") do
    local kind, path, file = line:match("^(%S+) (%S+) (%S+)$")
    local handle = io.open(dir .. "/" .. file, "rb")
    count = count + 1
    bodies[count] = handle:read("*a")
    handle:close()
    paths[count], kinds[count] = path, kind
  end
  index = offset
end

function request()
  index = index % count + 1
  local headers = {}
  headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
  if kinds[index] == "logplex" then
    serial = serial + 1
    headers["Content-Type"] = "application/logplex-1"
    headers["Logplex-Msg-Count"] = os.getenv("BENCH_LINES")
    headers["Logplex-Frame-Id"] = os.getenv("BENCH_RUN") .. prefix .. serial
  else
    headers["Content-Type"] = "text/plain; charset=utf-8"
  end
  return wrk.format("POST", paths[index], headers, bodies[index])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local counted = thread:get("statuses")
    for status, n in pairs(counted) do total[status] = (total[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(total) do table.insert(parts, status .. "=" .. n) end
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f p50=%.3f p99=%.3f max=%.3f errors=%d %s\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, " ")))
end
"""


@dataclass
class Served:
    """A server subprocess and where it listens."""

    name: str
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@dataclass(frozen=True, slots=True)
class Row:
    """What one wrk run measured."""

    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int]
    errors: int
    cpu_ms_per_request: float
    lines_per_body: int

    @property
    def accepted_per_second(self) -> float:
        return self.statuses.get(202, 0) * self.lines_per_body / self.seconds


def ceiling_app() -> FastAPI:
    """Return the no-op app: one route that reads the body and answers 202."""
    app = FastAPI()

    @app.post("/drains/{source}", status_code=202)
    async def drain(source: str, request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"accepted": body.count(b"\n"), "rejected": 0, "reasons": {}}, 202)

    return app


def serve_ceiling(port: int) -> None:
    """Serve the ceiling app on the stack `drainwatch serve` uses."""
    from service.app import configure_logging
    from service.settings import Settings
    from service.web.server import build_server

    configure_logging("info")
    build_server(ceiling_app(), Settings(), host="127.0.0.1", port=port, log_level="info").run()


def serve_intake_only(port: int) -> None:
    """Serve drainwatch with its processor not started: intake and spool alone."""
    from service.app import configure_logging, create_app
    from service.settings import Settings
    from service.web.server import build_server

    configure_logging("info")
    settings = Settings()
    app = create_app(settings, start_processor=False)
    build_server(app, settings, host="127.0.0.1", port=port, log_level="info").run()


def start(name: str, argv: list[str], env: dict[str, str], directory: Path) -> Served:
    log = directory / f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, this package
            argv, cwd=directory, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + START_SECONDS
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}")
        found = _RUNNING.search(log.read_text(errors="replace"))
        if found:
            return Served(name, process, found.group(1), log)
        time.sleep(0.05)


def server_env(code: Path, directory: Path, token: str, rate_limit: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAINWATCH_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(code), str(ROOT / "bench")]),
        DRAINWATCH_DATABASE_URL=f"sqlite:///{directory / 'drainwatch.db'}",
        DRAINWATCH_SPOOL_DIR=str(directory / "spool"),
        DRAINWATCH_SPOOL_MAX_BYTES=str(64 << 30),
        DRAINWATCH_INGEST_TOKEN=token,
        DRAINWATCH_ADMIN_PASSWORD=secrets.token_urlsafe(16),
    )
    if rate_limit == "off":
        env["DRAINWATCH_RATE_LIMIT_LINES"] = "0"
    return env


def write_bodies(
    directory: Path, kind: str, batches: list[list[str]], sources: int
) -> tuple[Path, int]:
    """Write the bodies wrk sends and their index; return the directory and lines per body."""
    from ingest import logplex_body, stamps, text_body

    out = directory / f"bodies-{kind}"
    out.mkdir()
    index = []
    times = stamps(len(batches[0]))
    for number, batch in enumerate(batches):
        body = text_body(batch) if kind == "text" else logplex_body(batch, times)
        (out / f"{number}.body").write_bytes(body)
        index.append(f"{kind} /drains/bench-{number % sources} {number}.body")
    (out / "index").write_text("\n".join(index) + "\n")
    return out, len(batches[0])


def wrk_path() -> str:
    """Return where wrk is installed, or stop with how to install it."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("bench/intake.py needs wrk: apt-get install -y wrk")
    return found


def run_wrk(
    served: Served, bodies: Path, lines: int, args: argparse.Namespace, token: str, label: str
) -> Row:
    script = bodies.parent / "intake.lua"
    script.write_text(_LUA)
    env = {
        **os.environ,
        "BENCH_TOKEN": token,
        "BENCH_LINES": str(lines),
        "BENCH_RUN": secrets.token_hex(4) + "-",
    }
    cpu_before = served.cpu_seconds()
    result = subprocess.run(  # noqa: S603 - wrk from PATH, arguments of our own
        [
            wrk_path(),
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{args.seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            served.base,
            "--",
            str(bodies),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or "RESULT " not in result.stdout:
        raise RuntimeError(f"wrk failed: {result.stdout}{result.stderr}")
    cpu = served.cpu_seconds() - cpu_before
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    values = dict(item.split("=", 1) for item in line.split()[1:])
    statuses = {int(k): int(v) for k, v in values.items() if k.isdigit()}
    requests = int(values["requests"])
    return Row(
        name=label,
        requests=requests,
        seconds=float(values["seconds"]),
        p50_ms=float(values["p50"]),
        p99_ms=float(values["p99"]),
        max_ms=float(values["max"]),
        statuses=statuses,
        errors=int(values["errors"]),
        cpu_ms_per_request=cpu / max(requests, 1) * 1e3,
        lines_per_body=lines,
    )


def print_rows(rows: list[Row], ceiling: float) -> None:
    print(
        f"{'server':34} {'req/s':>7} {'lines/s':>9} {'ceiling':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'CPU ms/req':>10}  other answers"
    )
    for row in rows:
        other = {s: n for s, n in row.statuses.items() if s != 202}
        if row.errors:
            other[0] = row.errors
        refused = ", ".join(f"{n} x {s or 'socket error'}" for s, n in sorted(other.items()))
        lines = row.accepted_per_second
        print(
            f"{row.name:34} {row.requests / row.seconds:7,.0f} {lines:9,.0f} "
            f"{lines / ceiling if ceiling else 0:7.3f} {row.p50_ms:7.1f} {row.p99_ms:7.1f} "
            f"{row.max_ms:7.1f} {row.cpu_ms_per_request:10.2f}  {refused or '-'}"
        )


def corpus_batches(count: int, lines: int, seed: int) -> list[list[str]]:
    import corpus

    from service.signatures.loader import load_signatures

    rules = list(load_signatures([ROOT / "patterns"]).signatures)
    failures = [c.example.text for r in rules for c in r.cases if c.example.matches]
    misses = [c.example.text for r in rules for c in r.cases if not c.example.matches]
    text = corpus.generate(count * lines, failures=failures, near_misses=misses, seed=seed)
    split = text.split("\n")
    # Blank lines give no record and would make a body's accepted count vary: none are sent.
    kept = [line if line.strip() else "-" for line in split]
    return [kept[i * lines : (i + 1) * lines] for i in range(count)]


def measure(args: argparse.Namespace) -> None:
    batches = corpus_batches(args.bodies, args.batch_lines, args.seed)
    token = secrets.token_urlsafe(16)
    codes = [Path(c).resolve() for c in args.code] or [ROOT]
    kinds = args.kinds.split(",")
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s; {args.bodies} bodies of "
        f"{args.batch_lines} lines, {args.sources} sources; rate limit {args.rate_limit}; "
        f"{os.cpu_count()} cores shared by server, wrk and anything else running"
    )
    rows: list[Row] = []
    ceiling = 0.0
    with tempfile.TemporaryDirectory(prefix="intake_bench_") as temp:
        directory = Path(temp)
        bodies = {kind: write_bodies(directory, kind, batches, args.sources) for kind in kinds}
        me = [sys.executable, str(Path(__file__).resolve())]
        plan: list[tuple[str, Path, list[str]]] = [
            ("ceiling (no-op FastAPI)", ROOT, [*me, "--serve-ceiling"])
        ]
        for code in codes:
            tag = code.name
            if args.serve:
                serve = [sys.executable, "-m", "service", "serve", "--port", "0"]
                plan.append((f"drainwatch serve [{tag}]", code, serve))
            if args.intake_only:
                plan.append((f"intake only [{tag}]", code, [*me, "--serve-intake-only"]))
        for number, (name, code, argv) in enumerate(plan):
            run_dir = directory / f"run-{number}"
            run_dir.mkdir()
            served = start(name, argv, server_env(code, run_dir, token, args.rate_limit), run_dir)
            try:
                for kind in kinds:
                    path, lines = bodies[kind]
                    row = run_wrk(served, path, lines, args, token, f"{name} {kind}")
                    rows.append(row)
                    if name.startswith("ceiling"):
                        ceiling = max(ceiling, row.accepted_per_second)
            finally:
                served.stop()
    print_rows(rows, ceiling)
    print("lines/s: lines answered 202 per second; ceiling: that over the no-op app's best")
    print("CPU ms/req: the server process's user + system CPU over the run, per request")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bodies", type=int, default=200, help="distinct bodies sent in turn")
    parser.add_argument("--batch-lines", type=int, default=100)
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--kinds", default="text,logplex")
    parser.add_argument("--rate-limit", choices=("default", "off"), default="default")
    parser.add_argument("--code", action="append", default=[], help="a checkout to serve")
    parser.add_argument("--no-intake-only", dest="intake_only", action="store_false")
    parser.add_argument("--no-serve", dest="serve", action="store_false", help="intake only")
    parser.add_argument("--seed", type=int, default=20251009)
    parser.add_argument("--serve-ceiling", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-intake-only", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_ceiling:
        serve_ceiling(0)
    elif args.serve_intake_only:
        serve_intake_only(0)
    else:
        measure(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
