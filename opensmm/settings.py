"""Settings, read from the environment with the ``OPENSMM_`` prefix."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///opensmm.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENSMM_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    currency: str = "USD"
    # Threads that run database work for the async front doors.
    db_threads: int = 16
    # Connection pool per process (PostgreSQL); SQLite uses one connection per thread.
    db_pool_size: int = 10
    log_level: str = "info"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
