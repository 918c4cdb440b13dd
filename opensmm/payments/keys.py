"""The panel's secret, from which payment credentials' encryption key is derived.

The same secret that signs the pages' CSRF tokens (``OPENSMM_SECRET_KEY``, or the random one
kept in the database): every door (pages, CLI, worker) reads credentials with it.
"""

from __future__ import annotations

from opensmm.db import Database
from opensmm.settings import get_settings
from opensmm.web.secret import SecretKey


def panel_secret(db: Database) -> str:
    return SecretKey(db, get_settings().secret_key).get().decode()
