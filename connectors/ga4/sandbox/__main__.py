"""``python -m connectors.ga4.sandbox``: run the fake GA4 until SIGINT or SIGTERM.

Prints the URL and a hub.yaml connection block to paste, so a newcomer can
sync GA4 reports without a Google account.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date

from hub.sandbox import LoopbackServer, serve_until_signal

from .data import PROPERTY_ID, TIME_ZONE
from .server import GA4Sandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m connectors.ga4.sandbox",
        description="A local fake GA4 Data API (runReport), OAuth token endpoint and "
        "Measurement Protocol on 127.0.0.1, with deterministic data.",
    )
    parser.add_argument("--port", type=int, default=8003, help="TCP port (0: any free port)")
    parser.add_argument("--days", type=int, default=60, help="days of data (default 60)")
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help=f"the last day with data (default: today in {TIME_ZONE})",
    )
    parser.add_argument("--seed", type=int, default=1, help="data seed (default 1)")
    parser.add_argument(
        "--token",
        default="ya29.sandbox-token",
        help="the bearer token clients may send (default ya29.sandbox-token)",
    )
    parser.add_argument(
        "--property-id", type=int, default=PROPERTY_ID, help=f"property id ({PROPERTY_ID})"
    )
    parser.add_argument(
        "--inject-429-every",
        type=int,
        default=None,
        metavar="N",
        help="refuse every Nth report request",
    )
    parser.add_argument(
        "--tokens-per-hour",
        type=int,
        default=40_000,
        help="property tokens per hour before 429 (default 40000)",
    )
    parser.add_argument(
        "--max-page-rows",
        type=int,
        default=None,
        metavar="N",
        help="return at most N rows a page, whatever the limit",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def describe(sandbox: LoopbackServer) -> str:
        assert isinstance(sandbox, GA4Sandbox)
        return (
            f"GA4 sandbox serving property {sandbox.property_id} "
            f"({sandbox.first} to {sandbox.end}) at {sandbox.url}\n"
            "hub.yaml connection config:\n"
            f"  property_id: {sandbox.property_id}\n"
            f"  access_token: {sandbox.token}\n"
            f"  base_url: {sandbox.url}\n"
            f"  token_url: {sandbox.token_url}\n"
            f"  start_date: {sandbox.first.isoformat()}\n"
            f"  timezone: {sandbox.time_zone}\n"
            "Measurement Protocol:\n"
            f"  measurement_id: {sandbox.measurement_id}\n"
            f"  api_secret: {sandbox.api_secret}\n"
            f"  mp_base_url: {sandbox.url}"
        )

    return serve_until_signal(
        lambda: GA4Sandbox(
            args.days,
            seed=args.seed,
            property_id=args.property_id,
            token=args.token,
            end=args.end,
            port=args.port,
            inject_429_every=args.inject_429_every,
            tokens_per_hour=args.tokens_per_hour,
            max_page_rows=args.max_page_rows,
        ),
        describe,
        "GA4",
    )


if __name__ == "__main__":
    sys.exit(main())
