"""Apply and check the Alembic migrations that ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, pool

from opensmm.db.engine import normalize_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's config is an INI file: a literal % must be doubled.
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def shipped_revisions() -> tuple[str, list[str]]:
    """The head revision of the migrations in this package, and every revision they know."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(MIGRATIONS))
    head = scripts.get_current_head()
    if head is None:  # pragma: no cover - the package always ships its migrations
        raise RuntimeError("no migrations found")
    return head, [script.revision for script in scripts.walk_revisions()]


def pending_differences(url: str) -> list[object]:
    """What the models declare that the migrated database does not have (empty when equal)."""
    from opensmm.models import Base

    engine = create_engine(normalize_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def not_migrated(url: str) -> str | None:
    """Why the database at ``url`` cannot be used yet (no such file, never migrated), or
    None. Never creates anything: a SQLite file that does not exist is not made empty."""
    from sqlalchemy import inspect, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    parsed = make_url(normalize_url(url))
    path = parsed.database or ""
    if (
        parsed.get_backend_name() == "sqlite"
        and path not in ("", ":memory:")
        and not path.startswith("file:")
        and not Path(path).exists()
    ):
        return f"there is no database at {path}"
    engine = create_engine(parsed, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return "the database has never been migrated"
            if connection.scalar(text("SELECT count(*) FROM alembic_version")) == 0:
                return "the database has never been migrated"
    except SQLAlchemyError as exc:
        return f"the database cannot be opened ({str(exc).splitlines()[0][:200]})"
    finally:
        engine.dispose()
    return None
