"""`hub push` to the local Awin sandbox: validation decisions and server-to-server orders.

Validations: sync, push a decisions file (dry run, real, again), let time pass
in the sandbox, sync again; the database then holds Awin's new statuses, the
decided ones included, with sums equal to the generator's. S2S: the Shopify
sandbox's orders that carry an Awin click id reach the Awin sandbox's
Conversion API once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import yaml

from connectors.awin.sandbox import AwinSandbox
from connectors.shopify.sandbox import ShopifySandbox
from hub.store import LINKS_KEY
from tests.e2e.support import json_value, query, run_hub
from tests.e2e.test_awin_sync import expected, stored

TENANT = "alpenglueck"


def awin_connection(awin: AwinSandbox, **push: dict[str, Any]) -> dict[str, Any]:
    return {
        "connector": "awin",
        "tenant": TENANT,
        "config": {
            "api_token": awin.token,
            "account_type": "advertiser",
            "account_id": awin.account_id,
            "start_date": awin.anchor.date().isoformat(),
            "timezone": "Europe/Berlin",
            "base_url": awin.url,
            "requests_per_minute": 60000,
            # the sandbox's validations after advance() are dated before the previous sync's
            # real time, so only the lookback re-read can see them: it covers all 52 days
            "lookback_days": 90,
        },
        "push": push,
    }


def write_config(directory: Path, connections: dict[str, Any], database: str) -> Path:
    config = directory / "hub.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": database,
                "tenants": {TENANT: {"name": "Alpenglück"}},
                "connections": connections,
            }
        )
    )
    return config


def test_validation_decisions_reach_awin_once_and_come_back_with_the_next_sync(
    tmp_path: Path, hub_database: str
) -> None:
    with AwinSandbox.anchored_now(transactions=300, ago=timedelta(days=20)) as awin:
        config = write_config(
            tmp_path,
            {"awin": awin_connection(awin, **{"awin-validations": {"job_poll_seconds": 0.05}})},
            hub_database,
        )
        run_hub(config, "sync")
        database = hub_database
        assert stored(database) == expected(awin, 300)

        pending = query(
            database,
            "select id, external_id, order_ref, amount, extra from conversion "
            "where status = 'pending' and order_ref is not null order by external_id",
        )
        single = [row for row in pending if len(json_value(row.extra)["transactionParts"]) == 1]
        multi = [row for row in pending if len(json_value(row.extra)["transactionParts"]) > 1]
        approve_by_ref, approve_by_conversion, approve_by_id, decline_a, decline_b = single[:5]
        amend = multi[0]
        parts = json_value(amend.extra)["transactionParts"]
        first, rest = parts[0], parts[1:]
        new_first = Decimal(str(first["amount"])) - Decimal("10.00")
        new_sale = new_first + sum(Decimal(str(p["amount"])) for p in rest)
        split = "|".join(
            f"{p['commissionGroupCode']}:{Decimal(str(p['amount'])):.2f}" for p in rest
        )
        decisions = tmp_path / "decisions.csv"
        with decisions.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(
                [
                    "action",
                    "transaction_id",
                    "conversion_id",
                    "order_ref",
                    "reason",
                    "sale_amount",
                    "currency",
                    "parts",
                    "approve",
                ]
            )
            writer.writerow(["approve", "", "", approve_by_ref.order_ref, "", "", "", "", ""])
            writer.writerow(["approve", "", approve_by_conversion.id, "", "", "", "", "", ""])
            writer.writerow(["approve", approve_by_id.external_id, "", "", "", "", "", "", ""])
            writer.writerow(
                ["decline", decline_a.external_id, "", "", "Ware retourniert", "", "", "", ""]
            )
            writer.writerow(
                ["decline", "", "", decline_b.order_ref, "Bestellung storniert", "", "", "", ""]
            )
            writer.writerow(
                [
                    "amend",
                    amend.external_id,
                    "",
                    "",
                    "Teilretoure",
                    f"{new_sale:.2f}",
                    "EUR",
                    f"{first['commissionGroupCode']}:{new_first:.2f}|{split}",
                    "false",
                ]
            )

        dry = run_hub(
            config, "push", "awin-validations", "-c", "awin", "--input", str(decisions), "--dry-run"
        )
        assert "to send 1 amend, 3 approve, 2 decline; 0 unchanged, 0 failed" in dry.stdout
        assert '"declineReason":"Bestellung storniert"' in dry.stdout
        assert awin.validations.jobs == {} and awin.token not in dry.stdout

        real = run_hub(config, "push", "awin-validations", "-c", "awin", "--input", str(decisions))
        assert "sent 1 amend, 3 approve, 2 decline; 0 unchanged, 0 failed" in real.stdout
        assert len(awin.validations.jobs) == 1
        again = run_hub(config, "push", "awin-validations", "-c", "awin", "--input", str(decisions))
        assert "sent nothing; 6 unchanged, 0 failed" in again.stdout
        assert len(awin.validations.jobs) == 1

        awin.advance(days=20)  # other transactions are validated meanwhile
        run_hub(config, "sync")
        assert stored(database) == expected(awin, 300)

        status = dict(query(database, "select external_id, status from conversion"))
        for row in (approve_by_ref, approve_by_conversion, approve_by_id):
            assert status[row.external_id] == "approved"
        assert status[decline_a.external_id] == status[decline_b.external_id] == "declined"
        (amended,) = query(
            database,
            "select status, amount, extra from conversion where id = :id",
            id=amend.id,
        )
        assert amended.status == "pending" and Decimal(str(amended.amount)) == new_sale
        extra = json_value(amended.extra)
        assert extra["amended"] is True and extra["amendReason"] == "Teilretoure"
        assert Decimal(str(extra["oldSaleAmount"]["amount"])) == Decimal(str(amend.amount))
        link = extra[LINKS_KEY]["awin_validation"]
        assert link["action"] == "amend" and link["status"] == "done"
        assert link["job_id"] == next(iter(awin.validations.jobs))
        (declined,) = query(
            database, "select decline_reason from conversion where id = :id", id=decline_a.id
        )
        assert declined.decline_reason == "Ware retourniert"


def test_shop_orders_with_an_awin_click_id_become_conversion_api_orders_once(
    tmp_path: Path, hub_database: str
) -> None:
    with ShopifySandbox(orders=120, rate_limit=False) as shop, AwinSandbox(transactions=0) as awin:
        config = write_config(
            tmp_path,
            {
                "shop": {
                    "connector": "shopify",
                    "tenant": TENANT,
                    "config": {
                        "shop": "alpenglueck",
                        "access_token": shop.token,
                        "start_date": "2024-01-01",
                        "base_url": shop.url,
                    },
                },
                "awin": awin_connection(
                    awin,
                    **{
                        "awin-conversions": {
                            "s2s_api_key": awin.s2s_api_key,
                            "max_age_days": 100_000,  # the shop's orders are from 2025
                            "category_groups": {"Zubehör": "ACC"},
                        }
                    },
                ),
            },
            hub_database,
        )
        run_hub(config, "sync", "shop")
        database = hub_database
        wanted = {row.order_ref: row for row in eligible(database, awin.account_id)}
        assert len(wanted) > 10

        dry = run_hub(config, "push", "awin-conversions", "-c", "awin", "--dry-run")
        assert f"{len(wanted)} to send" in dry.stdout and awin.conversions.orders == {}
        assert awin.s2s_api_key not in dry.stdout + dry.stderr

        result = run_hub(config, "push", "awin-conversions", "-c", "awin")
        assert f"{len(wanted)} sent, 0 unchanged" in result.stdout, result.stdout
        received = awin.conversions.orders
        assert set(received) == set(wanted)
        for ref, row in wanted.items():
            order = received[ref]
            assert order["awc"] == row.click_ref and order["currency"] == row.currency
            assert Decimal(str(order["amount"])) == net_amount(database, row.id)
        extras = query(database, "select extra from conversion")
        marked = [
            e
            for (e,) in extras
            if (json_value(e) or {}).get(LINKS_KEY, {}).get("awin_s2s") is not None
        ]
        assert len(marked) == len(wanted)

        again = run_hub(config, "push", "awin-conversions", "-c", "awin")
        assert f"0 sent, {len(wanted)} unchanged" in again.stdout
        assert awin.conversions.batches == 1


def eligible(database: str, advertiser: int) -> Iterator[Any]:
    """The conversions the Conversion API should get, chosen in SQL by the documented rules."""
    return iter(
        query(
            database,
            "select id, order_ref, click_ref, currency from conversion where source = 'shopify' "
            "and click_ref like :prefix escape '\\' and status in ('pending', 'approved') "
            "and not is_test",
            prefix=f"{advertiser}\\_%",
        )
    )


def net_amount(database: str, conversion_id: str) -> Decimal:
    """Items after discounts without included tax, for the units not refunded (per line cents)."""
    (conversion,) = query(database, "select extra from conversion where id = :id", id=conversion_id)
    taxes_included = json_value(conversion.extra).get("taxes_included")
    total = Decimal(0)
    for item in query(
        database,
        "select amount, quantity, refunded_quantity, extra from conversion_item "
        "where conversion_id = :id",
        id=conversion_id,
    ):
        net = Decimal(str(item.amount))
        if taxes_included:
            net -= sum(Decimal(t["price"]) for t in json_value(item.extra).get("tax_lines", []))
        kept = item.quantity - (item.refunded_quantity or 0)
        total += (net * kept / item.quantity).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return total
