"""Initial schema: every hub table as the last release before migrations created it.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

The types are spelled out portably instead of importing the hub's column types,
so this revision stays what it is however hub/schema/columns.py evolves:

- money (``hub.schema.columns.Money``): ``NUMERIC(24, 8)``, exact decimal text
  (``VARCHAR(40)``) on SQLite, which has no decimal type;
- instants (``UTCDateTime``): ``TIMESTAMP WITH TIME ZONE`` (SQLite keeps UTC text);
- JSON documents: ``JSONB`` on PostgreSQL, ``JSON`` elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(24, 8).with_variant(sa.String(40), "sqlite")
UTC_INSTANT = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create every table and index of the hub."""
    op.create_table(
        "click",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("source_updated_at", UTC_INSTANT, nullable=True),
        sa.Column("synced_at", UTC_INSTANT, nullable=False),
        sa.Column("extra", JSON, nullable=False),
        sa.Column("click_ref", sa.String(length=255), nullable=True),
        sa.Column("partner_id", sa.String(length=36), nullable=True),
        sa.Column("offer_id", sa.String(length=36), nullable=True),
        sa.Column("occurred_at", UTC_INSTANT, nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("channel_source", sa.String(length=255), nullable=True),
        sa.Column("channel_medium", sa.String(length=255), nullable=True),
        sa.Column("channel_campaign", sa.String(length=255), nullable=True),
        sa.Column("landing_url", sa.String(length=4096), nullable=True),
        sa.Column("referrer", sa.String(length=4096), nullable=True),
        sa.Column("device", sa.String(length=50), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_click_click_ref"), "click", ["click_ref"], unique=False)
    op.create_index(op.f("ix_click_connection"), "click", ["connection"], unique=False)
    op.create_index(op.f("ix_click_partner_id"), "click", ["partner_id"], unique=False)
    op.create_index(op.f("ix_click_tenant"), "click", ["tenant"], unique=False)

    op.create_table(
        "conversion",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("source_updated_at", UTC_INSTANT, nullable=True),
        sa.Column("synced_at", UTC_INSTANT, nullable=False),
        sa.Column("extra", JSON, nullable=False),
        sa.Column("order_ref", sa.String(length=255), nullable=True),
        sa.Column("occurred_at", UTC_INSTANT, nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount", MONEY, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("presentment_amount", MONEY, nullable=True),
        sa.Column("presentment_currency", sa.String(length=3), nullable=True),
        sa.Column("refunded_amount", MONEY, nullable=True),
        sa.Column("commission_amount", MONEY, nullable=True),
        sa.Column("commission_currency", sa.String(length=3), nullable=True),
        sa.Column("partner_id", sa.String(length=36), nullable=True),
        sa.Column("click_ref", sa.String(length=255), nullable=True),
        sa.Column("offer_id", sa.String(length=36), nullable=True),
        sa.Column("voucher_codes", JSON, nullable=False),
        sa.Column("customer_ref", sa.String(length=64), nullable=True),
        sa.Column("customer_type", sa.String(length=20), nullable=False),
        sa.Column("device", sa.String(length=50), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("channel_source", sa.String(length=255), nullable=True),
        sa.Column("channel_medium", sa.String(length=255), nullable=True),
        sa.Column("is_test", sa.Boolean(), nullable=False),
        sa.Column("decline_reason", sa.String(length=1024), nullable=True),
        sa.Column("validated_at", UTC_INSTANT, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_conversion_click_ref"), "conversion", ["click_ref"], unique=False)
    op.create_index(op.f("ix_conversion_connection"), "conversion", ["connection"], unique=False)
    op.create_index(op.f("ix_conversion_order_ref"), "conversion", ["order_ref"], unique=False)
    op.create_index(op.f("ix_conversion_partner_id"), "conversion", ["partner_id"], unique=False)
    op.create_index(op.f("ix_conversion_tenant"), "conversion", ["tenant"], unique=False)

    op.create_table(
        "conversion_item",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("source_updated_at", UTC_INSTANT, nullable=True),
        sa.Column("synced_at", UTC_INSTANT, nullable=False),
        sa.Column("extra", JSON, nullable=False),
        sa.Column("conversion_id", sa.String(length=36), nullable=False),
        sa.Column("line_ref", sa.String(length=255), nullable=True),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("title", sa.String(length=1024), nullable=True),
        sa.Column("category", sa.String(length=255), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("refunded_quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", MONEY, nullable=True),
        sa.Column("discount", MONEY, nullable=True),
        sa.Column("amount", MONEY, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("commission_group", sa.String(length=255), nullable=True),
        sa.Column("commission_amount", MONEY, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_conversion_item_connection"), "conversion_item", ["connection"], unique=False
    )
    op.create_index(
        op.f("ix_conversion_item_conversion_id"), "conversion_item", ["conversion_id"], unique=False
    )
    op.create_index(op.f("ix_conversion_item_sku"), "conversion_item", ["sku"], unique=False)
    op.create_index(op.f("ix_conversion_item_tenant"), "conversion_item", ["tenant"], unique=False)

    op.create_table(
        "offer",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("source_updated_at", UTC_INSTANT, nullable=True),
        sa.Column("synced_at", UTC_INSTANT, nullable=False),
        sa.Column("extra", JSON, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("commission_rules", JSON, nullable=False),
        sa.Column("voucher_code", sa.String(length=100), nullable=True),
        sa.Column("valid_from", UTC_INSTANT, nullable=True),
        sa.Column("valid_to", UTC_INSTANT, nullable=True),
        sa.Column("status", sa.String(length=50), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_offer_connection"), "offer", ["connection"], unique=False)
    op.create_index(op.f("ix_offer_tenant"), "offer", ["tenant"], unique=False)

    op.create_table(
        "partner",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("source_updated_at", UTC_INSTANT, nullable=True),
        sa.Column("synced_at", UTC_INSTANT, nullable=False),
        sa.Column("extra", JSON, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("website", sa.String(length=2048), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("categories", JSON, nullable=False),
        sa.Column("status", sa.String(length=50), nullable=True),
        sa.Column("network", sa.String(length=100), nullable=True),
        sa.Column("network_partner_id", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_partner_connection"), "partner", ["connection"], unique=False)
    op.create_index(op.f("ix_partner_tenant"), "partner", ["tenant"], unique=False)

    op.create_table(
        "quarantine",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column("record", JSON, nullable=False),
        sa.Column("record_key", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_INSTANT, nullable=False),
        sa.Column("resolved_at", UTC_INSTANT, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_quarantine_connection"), "quarantine", ["connection"], unique=False)
    op.create_index(op.f("ix_quarantine_record_key"), "quarantine", ["record_key"], unique=False)
    op.create_index(op.f("ix_quarantine_run_id"), "quarantine", ["run_id"], unique=False)

    op.create_table(
        "sku",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("source_updated_at", UTC_INSTANT, nullable=True),
        sa.Column("synced_at", UTC_INSTANT, nullable=False),
        sa.Column("extra", JSON, nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("title", sa.String(length=1024), nullable=True),
        sa.Column("category", sa.String(length=255), nullable=True),
        sa.Column("brand", sa.String(length=255), nullable=True),
        sa.Column("gtin", sa.String(length=50), nullable=True),
        sa.Column("price", MONEY, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("cost", MONEY, nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("product_ref", sa.String(length=100), nullable=True),
        sa.Column("variant_ref", sa.String(length=100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_sku_connection"), "sku", ["connection"], unique=False)
    op.create_index(op.f("ix_sku_sku"), "sku", ["sku"], unique=False)
    op.create_index(op.f("ix_sku_tenant"), "sku", ["tenant"], unique=False)

    op.create_table(
        "sync_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("started_at", UTC_INSTANT, nullable=False),
        sa.Column("finished_at", UTC_INSTANT, nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("full_refresh", sa.Boolean(), nullable=False),
        sa.Column("counts", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_sync_run_connection"), "sync_run", ["connection"], unique=False)

    op.create_table(
        "sync_state",
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC_INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("connection", "stream"),
    )


def downgrade() -> None:
    """Drop every hub table (and all its data)."""
    op.drop_table("sync_state")
    op.drop_index(op.f("ix_sync_run_connection"), table_name="sync_run")

    op.drop_table("sync_run")
    op.drop_index(op.f("ix_sku_tenant"), table_name="sku")
    op.drop_index(op.f("ix_sku_sku"), table_name="sku")
    op.drop_index(op.f("ix_sku_connection"), table_name="sku")

    op.drop_table("sku")
    op.drop_index(op.f("ix_quarantine_run_id"), table_name="quarantine")
    op.drop_index(op.f("ix_quarantine_record_key"), table_name="quarantine")
    op.drop_index(op.f("ix_quarantine_connection"), table_name="quarantine")

    op.drop_table("quarantine")
    op.drop_index(op.f("ix_partner_tenant"), table_name="partner")
    op.drop_index(op.f("ix_partner_connection"), table_name="partner")

    op.drop_table("partner")
    op.drop_index(op.f("ix_offer_tenant"), table_name="offer")
    op.drop_index(op.f("ix_offer_connection"), table_name="offer")

    op.drop_table("offer")
    op.drop_index(op.f("ix_conversion_item_tenant"), table_name="conversion_item")
    op.drop_index(op.f("ix_conversion_item_sku"), table_name="conversion_item")
    op.drop_index(op.f("ix_conversion_item_conversion_id"), table_name="conversion_item")
    op.drop_index(op.f("ix_conversion_item_connection"), table_name="conversion_item")

    op.drop_table("conversion_item")
    op.drop_index(op.f("ix_conversion_tenant"), table_name="conversion")
    op.drop_index(op.f("ix_conversion_partner_id"), table_name="conversion")
    op.drop_index(op.f("ix_conversion_order_ref"), table_name="conversion")
    op.drop_index(op.f("ix_conversion_connection"), table_name="conversion")
    op.drop_index(op.f("ix_conversion_click_ref"), table_name="conversion")

    op.drop_table("conversion")
    op.drop_index(op.f("ix_click_tenant"), table_name="click")
    op.drop_index(op.f("ix_click_partner_id"), table_name="click")
    op.drop_index(op.f("ix_click_connection"), table_name="click")
    op.drop_index(op.f("ix_click_click_ref"), table_name="click")

    op.drop_table("click")
