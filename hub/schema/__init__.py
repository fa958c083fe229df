"""The canonical ecosystem schema: partner, offer, sku, click, conversion, conversion_item."""

from hub.schema.enums import ConversionStatus, CustomerType, OfferKind, PartnerKind
from hub.schema.ids import make_id
from hub.schema.models import (
    ENTITIES,
    ENVELOPE_FIELDS,
    SCHEMA_VERSION,
    Click,
    ClickRow,
    Conversion,
    ConversionItem,
    ConversionItemRow,
    ConversionRow,
    Envelope,
    Offer,
    OfferRow,
    Partner,
    PartnerRow,
    Sku,
    SkuRow,
    entity_columns,
)

__all__ = [
    "ENTITIES",
    "ENVELOPE_FIELDS",
    "SCHEMA_VERSION",
    "Click",
    "ClickRow",
    "Conversion",
    "ConversionItem",
    "ConversionItemRow",
    "ConversionRow",
    "ConversionStatus",
    "CustomerType",
    "Envelope",
    "Offer",
    "OfferKind",
    "OfferRow",
    "Partner",
    "PartnerKind",
    "PartnerRow",
    "Sku",
    "SkuRow",
    "entity_columns",
    "make_id",
]
