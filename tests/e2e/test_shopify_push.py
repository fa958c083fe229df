"""`hub push shopify-discounts`: dry run, real run, idempotent re-run, ids kept on the offer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from connectors.shopify.sandbox import ShopifySandbox
from hub.schema import OfferRow, make_id
from hub.store import LINKS_KEY, Store
from tests.e2e.support import run_hub

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def offer(code: str, kind: str = "coop") -> dict[str, Any]:
    return OfferRow(
        id=make_id("nordlicht", "partners", "offer", code),
        tenant="nordlicht",
        source="partners",
        connection="partner-list",
        external_id=code,
        source_updated_at=datetime(2025, 5, 1, tzinfo=UTC),
        synced_at=datetime(2025, 5, 1, tzinfo=UTC),
        name=f"Co-op {code}",
        kind=kind,
        commission_rules=[{"kind": "shopper_discount", "type": "percentage", "value": "10"}],
        voucher_code=code,
        valid_from=TODAY - timedelta(days=1),
        valid_to=TODAY + timedelta(days=90),
        status="active",
    ).model_dump()


def test_push_creates_discount_codes_once_and_records_their_ids(
    tmp_path: Path, hub_database: str
) -> None:
    with ShopifySandbox(orders=1, rate_limit=False) as shop:
        config = tmp_path / "hub.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "database": hub_database,
                    "tenants": {"nordlicht": {"name": "Nordlicht"}},
                    "connections": {
                        "shop": {
                            "connector": "shopify",
                            "tenant": "nordlicht",
                            "config": {
                                "shop": "nordlicht",
                                "access_token": shop.token,
                                "start_date": "2024-01-01",
                                "base_url": shop.url,
                            },
                        }
                    },
                }
            )
        )
        store = Store(hub_database)
        store.create_all()
        with store.transaction() as db:
            store.upsert(db, "offer", [offer("SOMMER10"), offer("WINTER5", kind="voucher")])

        dry = run_hub(config, "push", "shopify-discounts", "--connection", "shop", "--dry-run")
        assert "dry run" in dry.stdout and "POST" in dry.stdout and "price_rules" in dry.stdout
        assert shop.token not in dry.stdout
        assert not shop.discounts.codes

        first = run_hub(config, "push", "shopify-discounts", "--connection", "shop")
        assert "2 created" in first.stdout
        assert sorted(c["code"] for c in shop.discounts.codes.values()) == ["SOMMER10", "WINTER5"]

        again = run_hub(config, "push", "shopify-discounts", "--connection", "shop")
        assert "0 created" in again.stdout and "2 unchanged" in again.stdout
        assert len(shop.discounts.codes) == 2

    table = store.table("offer")
    with store.transaction() as db:
        extras = [row.extra for row in db.execute(select(table.c.extra))]
    assert all(extra[LINKS_KEY]["shopify"] for extra in extras)
    store.dispose()
