"""Every table, imported in one place so that metadata (and Alembic) sees them all."""

from opensmm.accounts.models import AccountToken, ApiKey, User
from opensmm.adminapi.models import AdminToken
from opensmm.affiliates.models import Affiliate, AffiliateCommission, AffiliateEntry, Referral
from opensmm.audit.models import AuditEntry
from opensmm.branding.models import ContentPage, PanelAsset
from opensmm.catalog.models import CatalogUpdate, Category, Service
from opensmm.coupons.models import Coupon, CouponUse
from opensmm.currencies.models import DisplayCurrency
from opensmm.db import Base
from opensmm.ledger.models import LedgerEntry
from opensmm.mail.models import MailOutbox
from opensmm.news.models import Announcement
from opensmm.notifications.models import Notice, NotificationPrefs, TelegramMessage
from opensmm.orders.models import IdempotencyKey, Order, OrderEvent
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
from opensmm.scorecards.models import ProviderScore, ServiceScore
from opensmm.subscriptions.models import SubscriptionPost
from opensmm.tickets.models import CannedReply, Ticket, TicketMessage
from opensmm.twofactor.models import LoginChallenge, RecoveryCode, TwoFactor
from opensmm.web.models import AppSecret, LoginAttempt, WebSession
from opensmm.webhooks.models import WebhookDelivery

__all__ = [
    "AccountToken",
    "AdminToken",
    "Affiliate",
    "AffiliateCommission",
    "AffiliateEntry",
    "Announcement",
    "ApiKey",
    "AppSecret",
    "AuditEntry",
    "Base",
    "CannedReply",
    "CatalogUpdate",
    "Category",
    "ContentPage",
    "Coupon",
    "CouponUse",
    "DisplayCurrency",
    "IdempotencyKey",
    "LedgerEntry",
    "LoginAttempt",
    "LoginChallenge",
    "MailOutbox",
    "Notice",
    "NotificationPrefs",
    "Order",
    "OrderEvent",
    "PanelAsset",
    "PanelSetting",
    "Payment",
    "PaymentEvent",
    "PaymentMethod",
    "PaymentProof",
    "PaymentReference",
    "Provider",
    "ProviderScore",
    "RecoveryCode",
    "Referral",
    "Refill",
    "Service",
    "ServiceScore",
    "SettingsStamp",
    "SubscriptionPost",
    "TelegramMessage",
    "Ticket",
    "TicketMessage",
    "TwoFactor",
    "User",
    "WebSession",
    "WebhookDelivery",
]
