"""``python -m connectors.shopify.sandbox``: run the fake Shopify shop until SIGINT or SIGTERM.

Prints the URL and a hub.yaml connection block to paste, so a newcomer can
sync a shop without credentials.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence

from hub.sandbox import LoopbackServer, serve_until_signal

from .basics import SHOP_DOMAIN
from .server import ShopifySandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m connectors.shopify.sandbox",
        description="A local fake Shopify Admin REST API on 127.0.0.1 with deterministic data.",
    )
    parser.add_argument("--port", type=int, default=8001, help="TCP port (0: any free port)")
    parser.add_argument("--orders", type=int, default=500, help="number of orders (default 500)")
    parser.add_argument("--seed", type=int, default=1, help="data seed (default 1)")
    parser.add_argument(
        "--token",
        default="shpat_sandbox",
        help="the access token clients must send (default shpat_sandbox)",
    )
    parser.add_argument("--bucket-size", type=int, default=40, help="leaky bucket size")
    parser.add_argument("--leak-rate", type=float, default=2.0, help="requests leaked per second")
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="never answer 429 (benchmarks)"
    )
    parser.add_argument(
        "--retry-after", type=float, default=2.0, help="Retry-After of a 429 (seconds)"
    )
    parser.add_argument(
        "--inject-429-every", type=int, default=None, metavar="N", help="refuse every Nth request"
    )
    parser.add_argument(
        "--mutate-during-paging",
        action="store_true",
        help="update one order of every page right after serving it (it reappears later)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The process only serves: long-lived objects (the index, caches) need no collecting,
    # and fewer young collections make pages noticeably cheaper to build.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)

    shop = SHOP_DOMAIN.removesuffix(".myshopify.com")

    def describe(sandbox: LoopbackServer) -> str:
        return (
            f"Shopify sandbox serving {args.orders} orders at {sandbox.url}\n"
            "hub.yaml connection config:\n"
            f"  shop: {shop}\n"
            f"  access_token: {args.token}\n"
            f"  base_url: {sandbox.url}\n"
            "  start_date: 2024-01-01"
        )

    return serve_until_signal(
        lambda: ShopifySandbox(
            orders=args.orders,
            token=args.token,
            seed=args.seed,
            port=args.port,
            bucket_size=args.bucket_size,
            leak_rate=args.leak_rate,
            rate_limit=not args.no_rate_limit,
            retry_after=args.retry_after,
            inject_429_every=args.inject_429_every,
            mutate_during_paging=args.mutate_during_paging,
        ),
        describe,
        "Shopify",
    )


if __name__ == "__main__":
    sys.exit(main())
