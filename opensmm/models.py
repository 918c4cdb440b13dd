"""Every table, imported in one place so that metadata (and Alembic) sees them all."""

from opensmm.accounts.models import ApiKey, User
from opensmm.affiliates.models import Affiliate, AffiliateCommission, AffiliateEntry, Referral
from opensmm.audit.models import AuditEntry
from opensmm.catalog.models import Category, Service
from opensmm.coupons.models import Coupon, CouponUse
from opensmm.db import Base
from opensmm.ledger.models import LedgerEntry
from opensmm.orders.models import Order, OrderEvent
from opensmm.panel_settings.models import PanelSetting, SettingsStamp
from opensmm.payments.models import (
    Payment,
    PaymentEvent,
    PaymentMethod,
    PaymentProof,
    PaymentReference,
)
from opensmm.providers.models import Provider
from opensmm.refills.models import Refill
from opensmm.web.models import AppSecret, LoginAttempt, WebSession

__all__ = [
    "Affiliate",
    "AffiliateCommission",
    "AffiliateEntry",
    "ApiKey",
    "AppSecret",
    "AuditEntry",
    "Base",
    "Category",
    "Coupon",
    "CouponUse",
    "LedgerEntry",
    "LoginAttempt",
    "Order",
    "OrderEvent",
    "PanelSetting",
    "Payment",
    "PaymentEvent",
    "PaymentMethod",
    "PaymentProof",
    "PaymentReference",
    "Provider",
    "Referral",
    "Refill",
    "Service",
    "SettingsStamp",
    "User",
    "WebSession",
]
