"""Time intake's parse step in process, for this tree and others, interleaved in one run.

    .venv/bin/python bench/parse.py [--code DIR ...] [--rounds N] [--bodies N]

The step a request's CPU work is made of, without HTTP: the body's parser, `to_records` (split,
normalise, redact, header parsing) and the spool's encoding, over the 100-line corpus bodies
`bench/intake.py` sends (text and logplex). Each `--code DIR` is a checkout whose `service` is
imported (a baseline: `git worktree add /tmp/base main`); the trees take turns for `--rounds`
rounds, each a child process timing its best of 5 passes in CPU time (a shared machine's
neighbours move wall-clock time more). Not a test: compare within a run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(bodies: int) -> None:
    """In the child: print `kind us_per_line` for text and logplex bodies."""
    from datetime import UTC, datetime

    import intake
    from ingest import logplex_body, stamps, text_body

    from service.ingest.entries import to_records
    from service.ingest.formats.logplex import parse_logplex
    from service.spool.codec import encode_records
    from service.web.drains import parse_text_body

    batches = intake.corpus_batches(bodies, 100, 20251009)
    times = stamps(100)
    kinds = {
        "text": ([text_body(b) for b in batches], parse_text_body),
        "logplex": ([logplex_body(b, times) for b in batches], parse_logplex),
    }
    now = datetime.now(UTC)
    for kind, (encoded, read) in kinds.items():
        best, lines = float("inf"), 0
        for _ in range(5):
            started = time.process_time()
            lines = 0
            for body in encoded:
                records = to_records(read(body).entries, source="s", received_at=now)
                encode_records(records)
                lines += len(records)
            best = min(best, time.process_time() - started)
        print(f"{kind} {best / lines * 1e6:.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--code", action="append", default=[], help="a checkout to time")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bodies", type=int, default=200)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        measure(args.bodies)
        return 0
    codes = [Path(c).resolve() for c in args.code] or [ROOT]
    bodies = f"{args.bodies} bodies of 100 lines"
    print(f"parse step (parser + to_records + encode), {bodies}, CPU us a line")
    print(f"{'tree':40} {'round':>5} {'text':>8} {'logplex':>8}")
    for number in range(1, args.rounds + 1):
        for code in codes:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), str(ROOT / "bench")])}
            done = subprocess.run(  # noqa: S603 - this interpreter, this script
                [sys.executable, __file__, "--child", "--bodies", str(args.bodies)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                cwd=code,
            )
            figures = dict(line.split() for line in done.stdout.splitlines())
            print(f"{code!s:40} {number:5} {figures['text']:>8} {figures['logplex']:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
