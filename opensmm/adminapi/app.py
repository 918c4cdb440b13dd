"""The admin API as the panel serves it (``opensmm.app.OpenSMM`` sends ``/api/admin/v1/*``
here)."""

from __future__ import annotations

from opensmm.adminapi.framework import PREFIX, AdminApi
from opensmm.adminapi.openapi import served_document
from opensmm.adminapi.routes import operations
from opensmm.db import Database
from opensmm.settings import Settings

__all__ = ["PREFIX", "build"]


def build(db: Database, settings: Settings) -> AdminApi:
    return AdminApi(db, settings, operations, served_document)
