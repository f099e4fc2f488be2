"""The no-op ceiling of `bench/load.py`: one POST endpoint that reads the body and answers 202.

    .venv/bin/python bench/noop.py --port 8001 [--workers N]

Served on drainwatch's own stack: `build_server` (uvicorn with httptools, drainwatch's header
deadline and keep-alive, its access log at `info`) and the same logging set-up, so the only
difference from `drainwatch serve` is the work done per request. With `--workers N` above 1 it
runs uvicorn's own workers instead (plain uvicorn: `build_server` serves one process).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, Response

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.app import configure_logging
from service.settings import Settings
from service.web.server import build_server

ANSWER = b'{"accepted": 0, "rejected": 0, "reasons": {}}'

app = FastAPI()


@app.post("/drains/{source}", status_code=202)
async def drain(source: str, request: Request) -> Response:
    """Read the whole body, keep nothing, answer 202."""
    await request.body()
    return Response(ANSWER, status_code=202, media_type="application/json")


def main(argv: list[str] | None = None) -> int:
    """Serve the no-op app until interrupted."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    if args.workers > 1:
        uvicorn.run(
            "bench.noop:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            http="httptools",
            timeout_keep_alive=5,
        )
        return 0
    server = build_server(app, Settings(), host=args.host, port=args.port, log_level=args.log_level)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
