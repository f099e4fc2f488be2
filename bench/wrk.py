"""Drive an HTTP server with wrk: bodies written once, sent in rotation by `load.lua`, and the
summary that script prints read back into figures."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).resolve().with_name("load.lua")
_LINE = re.compile(r"^LOADBENCH (\w+) (-?\d+)$", re.MULTILINE)
INSTALL_HINT = (
    "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk`"
)


@dataclass(frozen=True, slots=True)
class Body:
    """One request body: where it goes, its content type, and its lines."""

    path: str
    content_type: str
    data: bytes
    lines: int
    logplex: bool = False


@dataclass(slots=True)
class Result:
    """What one wrk run measured."""

    requests: int
    seconds: float
    statuses: dict[int, int]
    errors: dict[str, int] = field(default_factory=dict)
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0

    def count(self, status: int) -> int:
        return self.statuses.get(status, 0)

    def refused(self) -> dict[int, int]:
        """The answers other than 202, by status."""
        return {status: n for status, n in sorted(self.statuses.items()) if status != 202}


def find_wrk() -> str | None:
    """Return the path of the wrk executable, or None when it is not installed."""
    return shutil.which("wrk")


def write_bodies(bodies: Sequence[Body], directory: Path) -> tuple[Path, Path]:
    """Write the bodies into one file and their manifest beside it; return (manifest, bodies)."""
    manifest, blob = directory / "manifest.tsv", directory / "bodies.bin"
    rows, offset = [], 0
    with blob.open("wb") as out:
        for body in bodies:
            out.write(body.data)
            messages = body.lines if body.logplex else 0
            rows.append(f"{body.path}\t{body.content_type}\t{messages}\t{offset}\t{len(body.data)}")
            offset += len(body.data)
    manifest.write_text("\n".join(rows) + "\n")
    return manifest, blob


def parse_summary(output: str) -> Result:
    """Read the `LOADBENCH name value` lines `load.lua` prints when wrk is done."""
    values = {name: int(value) for name, value in _LINE.findall(output)}
    if "requests" not in values or "duration_us" not in values:
        raise ValueError(f"no wrk summary in its output:\n{output[-2000:]}")
    statuses = {
        int(name.removeprefix("status_")): n
        for name, n in values.items()
        if name.startswith("status_")
    }
    errors = {
        name.removeprefix("error_"): n for name, n in values.items() if name.startswith("error_")
    }
    return Result(
        requests=values["requests"],
        seconds=values["duration_us"] / 1e6,
        statuses=statuses,
        errors=errors,
        p50_ms=values.get("latency_p50_us", 0) / 1e3,
        p90_ms=values.get("latency_p90_us", 0) / 1e3,
        p99_ms=values.get("latency_p99_us", 0) / 1e3,
        max_ms=values.get("latency_max_us", 0) / 1e3,
    )


def run(
    wrk: str,
    url: str,
    files: tuple[Path, Path],
    *,
    token: str,
    run_id: str,
    seconds: float,
    connections: int,
    threads: int,
) -> Result:
    """Run wrk against `url` for `seconds` and return its figures; raise if wrk failed."""
    manifest, blob = files
    command = [
        wrk,
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=30s",  # a slow answer is a latency to report, not a socket error
        f"--script={SCRIPT}",
        url,
        "--",
        str(manifest),
        str(blob),
        token,
        run_id,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited with {done.returncode}:\n{done.stderr}{done.stdout}")
    return parse_summary(done.stdout)
