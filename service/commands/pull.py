"""`drainwatch pull render --service srv-...`: fetch a Render service's logs from the Render logs
API into the spool, from the last log pulled (or `--since`) to now; `serve` processes them."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

RATE_LIMIT_TRIES = 5


def register(subparsers: Any) -> None:
    """Add the `pull` subcommand."""
    parser = subparsers.add_parser("pull", help="fetch logs from a platform's API into the spool")
    platforms = parser.add_subparsers(dest="platform", required=True, metavar="PLATFORM")
    render = platforms.add_parser(
        "render",
        help="pull a Render service's logs (API key: DRAINWATCH_RENDER_API_KEY)",
        description=(
            "Page the Render logs API forward from the last log pulled for this service (or "
            "--since), storing each log once in the spool; `drainwatch serve` processes them. "
            "For a pull in the background, set DRAINWATCH_RENDER_SERVICES instead."
        ),
    )
    render.add_argument("--service", required=True, help="the service id, srv-...")
    render.add_argument("--owner", help="the workspace id (default: DRAINWATCH_RENDER_OWNER_ID)")
    render.add_argument("--source", help="the source the logs go to (default: the service id)")
    render.add_argument(
        "--since",
        type=float,
        default=60.0,
        metavar="MINUTES",
        help="how far back a first pull reaches (default 60)",
    )
    render.set_defaults(run=run_render)


def run_render(args: argparse.Namespace) -> int:
    """Pull once; print what came in."""
    from service.pull.render import PullError, RateLimited, RenderPuller, RenderService
    from service.settings import Settings
    from service.sources import SourceNameError, check_source_name
    from service.spool.store import Spool, SpoolError

    settings = Settings()
    owner = args.owner or settings.render_owner_id
    if not settings.render_api_key or not owner:
        print(
            "drainwatch: set DRAINWATCH_RENDER_API_KEY and the workspace id "
            "(--owner or DRAINWATCH_RENDER_OWNER_ID)",
            file=sys.stderr,
        )
        return 2
    try:
        source = check_source_name(args.source or args.service)
    except SourceNameError as error:
        print(f"drainwatch: {error}", file=sys.stderr)
        return 2
    spool = Spool(settings.spool_dir, max_bytes=settings.spool_max_bytes)
    puller = RenderPuller(
        RenderService(service=args.service, owner=owner, source=source),
        api_key=settings.render_api_key,
        spool=spool,
        api_url=settings.render_api_url,
    )
    since = datetime.now(UTC) - timedelta(minutes=max(args.since, 0.0))
    try:
        for attempt in range(1, RATE_LIMIT_TRIES + 1):
            try:
                result = puller.pull(since=since)
                break
            except RateLimited as error:
                if attempt == RATE_LIMIT_TRIES:
                    raise
                print(f"drainwatch: {error} (try {attempt}/{RATE_LIMIT_TRIES})", file=sys.stderr)
                time.sleep(error.retry_after)
    except (PullError, SpoolError, OSError) as error:
        print(f"drainwatch: pull failed: {error}", file=sys.stderr)
        return 1
    finally:
        spool.close()
    position = result.cursor.isoformat() if result.cursor else "nothing yet"
    print(
        f"{result.logs} log(s) in {result.pages} page(s), {result.new} new, spooled for source "
        f"{source!r}; last log pulled: {position}. `drainwatch serve` processes them."
    )
    return 0
