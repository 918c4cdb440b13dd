"""Database access: engines, the unit of work, and the shared declarative base."""

from opensmm.db.base import Base
from opensmm.db.engine import Database, get_database
from opensmm.db.types import Money, UTCDateTime, utcnow

__all__ = ["Base", "Database", "Money", "UTCDateTime", "get_database", "utcnow"]
