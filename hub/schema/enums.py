"""Closed vocabularies of the canonical schema (stored as their string values)."""

from __future__ import annotations

from enum import StrEnum


class PartnerKind(StrEnum):
    PUBLISHER = "publisher"
    CONTENT = "content"
    CASHBACK = "cashback"
    VOUCHER = "voucher"
    INFLUENCER = "influencer"
    NETWORK = "network"
    AGENCY = "agency"
    TECHNOLOGY = "technology"
    MERCHANT = "merchant"
    OTHER = "other"


class OfferKind(StrEnum):
    PROGRAM = "program"
    COMMISSION_GROUP = "commission_group"
    VOUCHER = "voucher"
    COOP = "coop"
    CAMPAIGN = "campaign"


class ConversionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class CustomerType(StrEnum):
    NEW = "new"
    RETURNING = "returning"
    UNKNOWN = "unknown"
