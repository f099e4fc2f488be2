"""The Dockerfile cannot be built here (no engine), so check what can be checked by reading it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from service.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_every_copied_path_exists() -> None:
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY "):
            *sources, _dest = shlex.split(line)[1:]
            for source in sources:
                assert (ROOT / source).exists(), source


def test_commands_it_runs_exist_in_the_cli() -> None:
    parser = build_parser()
    parser.parse_args(["patterns", "check"])
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M)
    assert cmd is not None
    argv = [a.strip(' "') for a in cmd.group(1).strip("[]").split(",")]
    assert argv[0] == "drainwatch"
    args = parser.parse_args(argv[1:])
    assert args.host == "0.0.0.0"


def test_runs_as_non_root_with_a_healthcheck_on_healthz() -> None:
    assert re.search(r"^USER (?!root)\w+", DOCKERFILE, re.M)
    assert "HEALTHCHECK" in DOCKERFILE and "/healthz" in DOCKERFILE
    assert re.search(r"^FROM python:3\.1[1-9]-slim", DOCKERFILE, re.M)
