"""``python -m connectors.awin.sandbox``: run the fake Awin API until SIGINT or SIGTERM.

Prints the URL and a hub.yaml connection block to paste, so a newcomer can
sync Awin transactions without credentials.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hub.sandbox import LoopbackServer, serve_until_signal

from .server import AwinSandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m connectors.awin.sandbox",
        description="A local fake Awin API on 127.0.0.1 with deterministic transactions.",
    )
    parser.add_argument("--port", type=int, default=8002, help="TCP port (0: any free port)")
    parser.add_argument(
        "--transactions", type=int, default=300, help="number of transactions (default 300)"
    )
    parser.add_argument("--seed", type=int, default=1, help="data seed (default 1)")
    parser.add_argument(
        "--token",
        default="awin_sandbox_token",
        help="the bearer token clients must send (default awin_sandbox_token)",
    )
    parser.add_argument("--account-id", type=int, default=15880, help="advertiser id (15880)")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=None,
        metavar="N",
        help="answer 429 after N requests within a minute (Awin: 20; default: no limit)",
    )
    parser.add_argument(
        "--inject-429-every", type=int, default=None, metavar="N", help="refuse every Nth request"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def describe(sandbox: LoopbackServer) -> str:
        return (
            f"Awin sandbox serving {args.transactions} transactions of advertiser "
            f"{args.account_id} at {sandbox.url}\n"
            "hub.yaml connection config:\n"
            f"  api_token: {args.token}\n"
            "  account_type: advertiser\n"
            f"  account_id: {args.account_id}\n"
            f"  base_url: {sandbox.url}\n"
            "  start_date: 2025-03-01\n"
            "  timezone: Europe/Berlin"
        )

    return serve_until_signal(
        lambda: AwinSandbox(
            args.transactions,
            token=args.token,
            account_id=args.account_id,
            seed=args.seed,
            port=args.port,
            rate_limit_per_minute=args.rate_limit,
            inject_429_every=args.inject_429_every,
        ),
        describe,
        "Awin",
    )


if __name__ == "__main__":
    sys.exit(main())
