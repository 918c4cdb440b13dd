"""Every table, imported in one place so that metadata (and Alembic) sees them all."""

from opensmm.accounts.models import ApiKey, User
from opensmm.catalog.models import Category, Service
from opensmm.db import Base
from opensmm.ledger.models import LedgerEntry
from opensmm.orders.models import Order, OrderEvent
from opensmm.refills.models import Refill

__all__ = [
    "ApiKey",
    "Base",
    "Category",
    "LedgerEntry",
    "Order",
    "OrderEvent",
    "Refill",
    "Service",
    "User",
]
