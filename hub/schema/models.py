"""The canonical ecosystem schema, v1: six tables every source is normalized into.

Each entity has a validating model (``ConversionRow``: plain pydantic, fast,
used by the runner on every mapped record) and a table model (``Conversion``)
that inherits its fields and adds only storage. Table and column names are a
public contract: merchants query them from SQL and BI tools.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    StringConstraints,
    model_validator,
)
from sqlalchemy import JSON, Boolean, Date, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from hub.schema.columns import Money, UTCDateTime
from hub.schema.enums import ConversionStatus, CustomerType, OfferKind, PartnerKind

SCHEMA_VERSION = 1

JSONColumn = JSON().with_variant(JSONB(), "postgresql")
#: The largest value an INTEGER column holds on every supported database (PostgreSQL: 32 bits).
INTEGER_MAX = 2**31 - 1


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


UTCInstant = Annotated[AwareDatetime, AfterValidator(_to_utc)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]


def _money(**kwargs: Any) -> Any:
    return Field(default=None, sa_type=Money, **kwargs)


def _instant(**kwargs: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime, **kwargs)


def _text(length: int = 255, **kwargs: Any) -> Any:
    return Field(default=None, sa_type=String(length), **kwargs)


class Envelope(SQLModel):
    """Fields every canonical row carries: who produced it, from where, and when."""

    # Amount column -> the currency column it is expressed in (checked together).
    money_fields: ClassVar[dict[str, str]] = {}

    id: str = Field(primary_key=True, sa_type=String(36))
    tenant: str = Field(index=True, sa_type=String(100))
    source: str = Field(sa_type=String(100))
    connection: str = Field(index=True, sa_type=String(100))
    external_id: str = Field(sa_type=String(255))
    source_updated_at: UTCInstant | None = _instant()
    synced_at: UTCInstant = Field(sa_type=UTCDateTime)
    extra: dict[str, Any] = Field(default_factory=dict, sa_type=JSONColumn)

    @model_validator(mode="after")
    def _money_has_currency(self) -> Envelope:
        for amount_field, currency_field in self.money_fields.items():
            if getattr(self, amount_field) is not None and getattr(self, currency_field) is None:
                raise ValueError(f"{amount_field} is set but {currency_field} is missing")
        return self


class PartnerRow(Envelope):
    name: str | None = _text()
    kind: PartnerKind = Field(default=PartnerKind.OTHER, sa_type=String(20))
    website: str | None = _text(2048)
    country: Country | None = _text(2)
    categories: list[str] = Field(default_factory=list, sa_type=JSONColumn)
    status: str | None = _text(50)
    network: str | None = _text(100)
    network_partner_id: str | None = _text(100)


class OfferRow(Envelope):
    name: str | None = _text()
    kind: OfferKind = Field(sa_type=String(20))
    commission_rules: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONColumn)
    voucher_code: str | None = _text(100)
    valid_from: UTCInstant | None = _instant()
    valid_to: UTCInstant | None = _instant()
    status: str | None = _text(50)


class SkuRow(Envelope):
    money_fields: ClassVar[dict[str, str]] = {"price": "currency", "cost": "currency"}

    sku: OptionalText = _text(255, index=True)
    title: str | None = _text(1024)
    category: str | None = _text()
    brand: str | None = _text()
    gtin: OptionalText = _text(50)
    price: Decimal | None = _money()
    currency: Currency | None = _text(3)
    cost: Decimal | None = _money()
    url: str | None = _text(2048)
    product_ref: str | None = _text(100)
    variant_ref: str | None = _text(100)
    active: bool | None = Field(default=None, sa_type=Boolean)


class ClickRow(Envelope):
    click_ref: OptionalText = _text(255, index=True)
    partner_id: str | None = _text(36, index=True)
    offer_id: str | None = _text(36)
    occurred_at: UTCInstant | None = _instant()
    day: date | None = Field(default=None, sa_type=Date)
    count: int = Field(default=1, ge=0, le=INTEGER_MAX, sa_type=Integer)
    channel_source: str | None = _text()
    channel_medium: str | None = _text()
    channel_campaign: str | None = _text()
    landing_url: str | None = _text(4096)
    referrer: str | None = _text(4096)
    device: str | None = _text(50)
    country: Country | None = _text(2)
    region: str | None = _text(100)

    @model_validator(mode="after")
    def _has_time(self) -> ClickRow:
        if self.occurred_at is None and self.day is None:
            raise ValueError("a click needs occurred_at or day")
        return self


class ConversionRow(Envelope):
    money_fields: ClassVar[dict[str, str]] = {
        "amount": "currency",
        "refunded_amount": "currency",
        "presentment_amount": "presentment_currency",
        "commission_amount": "commission_currency",
    }

    order_ref: OptionalText = _text(255, index=True)
    occurred_at: UTCInstant | None = _instant()
    status: ConversionStatus = Field(default=ConversionStatus.PENDING, sa_type=String(20))
    amount: Decimal | None = _money()
    currency: Currency | None = _text(3)
    presentment_amount: Decimal | None = _money()
    presentment_currency: Currency | None = _text(3)
    refunded_amount: Decimal | None = _money()
    commission_amount: Decimal | None = _money()
    commission_currency: Currency | None = _text(3)
    partner_id: str | None = _text(36, index=True)
    click_ref: OptionalText = _text(255, index=True)
    offer_id: str | None = _text(36)
    voucher_codes: list[str] = Field(default_factory=list, sa_type=JSONColumn)
    customer_ref: str | None = _text(64)
    customer_type: CustomerType = Field(default=CustomerType.UNKNOWN, sa_type=String(20))
    device: str | None = _text(50)
    country: Country | None = _text(2)
    channel_source: str | None = _text()
    channel_medium: str | None = _text()
    is_test: bool = Field(default=False, sa_type=Boolean)
    decline_reason: str | None = _text(1024)
    validated_at: UTCInstant | None = _instant()


class ConversionItemRow(Envelope):
    money_fields: ClassVar[dict[str, str]] = {
        "unit_price": "currency",
        "discount": "currency",
        "amount": "currency",
        "commission_amount": "currency",
    }

    conversion_id: str = Field(index=True, sa_type=String(36))
    line_ref: str | None = _text(255)
    sku: OptionalText = _text(255, index=True)
    title: str | None = _text(1024)
    category: str | None = _text()
    quantity: int = Field(default=1, ge=-INTEGER_MAX, le=INTEGER_MAX, sa_type=Integer)
    refunded_quantity: int = Field(default=0, ge=0, le=INTEGER_MAX, sa_type=Integer)
    unit_price: Decimal | None = _money()
    discount: Decimal | None = _money()
    amount: Decimal | None = _money()
    currency: Currency | None = _text(3)
    commission_group: str | None = _text()
    commission_amount: Decimal | None = _money()


class Partner(PartnerRow, table=True):
    __tablename__ = "partner"


class Offer(OfferRow, table=True):
    __tablename__ = "offer"


class Sku(SkuRow, table=True):
    __tablename__ = "sku"


class Click(ClickRow, table=True):
    __tablename__ = "click"


class Conversion(ConversionRow, table=True):
    __tablename__ = "conversion"


class ConversionItem(ConversionItemRow, table=True):
    __tablename__ = "conversion_item"


# entity name (= table name) -> (validating model, table model)
ENTITIES: dict[str, tuple[type[Envelope], type[SQLModel]]] = {
    "partner": (PartnerRow, Partner),
    "offer": (OfferRow, Offer),
    "sku": (SkuRow, Sku),
    "click": (ClickRow, Click),
    "conversion": (ConversionRow, Conversion),
    "conversion_item": (ConversionItemRow, ConversionItem),
}

ENVELOPE_FIELDS = frozenset(Envelope.model_fields)


def entity_columns(entity: str) -> frozenset[str]:
    """The column names of a canonical entity (envelope included)."""
    return frozenset(ENTITIES[entity][0].model_fields)
