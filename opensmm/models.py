"""Every table, imported in one place so that metadata (and Alembic) sees them all."""

from opensmm.accounts.models import ApiKey, User
from opensmm.audit.models import AuditEntry
from opensmm.catalog.models import CatalogUpdate, Category, Service
from opensmm.db import Base
from opensmm.ledger.models import LedgerEntry
from opensmm.news.models import Announcement
from opensmm.orders.models import Order, OrderEvent
from opensmm.panel_settings.models import PanelSetting, SettingsStamp
from opensmm.providers.models import Provider
from opensmm.refills.models import Refill
from opensmm.tickets.models import CannedReply, Ticket, TicketMessage
from opensmm.web.models import AppSecret, LoginAttempt, WebSession

__all__ = [
    "Announcement",
    "ApiKey",
    "AppSecret",
    "AuditEntry",
    "Base",
    "CannedReply",
    "CatalogUpdate",
    "Category",
    "LedgerEntry",
    "LoginAttempt",
    "Order",
    "OrderEvent",
    "PanelSetting",
    "Provider",
    "Refill",
    "Service",
    "SettingsStamp",
    "Ticket",
    "TicketMessage",
    "User",
    "WebSession",
]
