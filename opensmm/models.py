"""Every table, imported in one place so that metadata (and Alembic) sees them all."""

from opensmm.accounts.models import AccountToken, ApiKey, User
from opensmm.audit.models import AuditEntry
from opensmm.catalog.models import Category, Service
from opensmm.db import Base
from opensmm.ledger.models import LedgerEntry
from opensmm.mail.models import MailOutbox
from opensmm.orders.models import Order, OrderEvent
from opensmm.panel_settings.models import PanelSetting, SettingsStamp
from opensmm.providers.models import Provider
from opensmm.refills.models import Refill
from opensmm.web.models import AppSecret, LoginAttempt, WebSession

__all__ = [
    "AccountToken",
    "ApiKey",
    "AppSecret",
    "AuditEntry",
    "Base",
    "Category",
    "LedgerEntry",
    "LoginAttempt",
    "MailOutbox",
    "Order",
    "OrderEvent",
    "PanelSetting",
    "Provider",
    "Refill",
    "Service",
    "SettingsStamp",
    "User",
    "WebSession",
]
