"""Panel settings (issue 10): typed and validated by one registry, stored in the database,
cached per process behind a stamp that any writer renews, audited; the same from the CLI;
and migration 0006, which turns the old audit sentences into codes and parameters."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import column, func, select, table, text

from opensmm.audit.actions import DESCRIPTIONS, LEGACY, describe
from opensmm.audit.actor import Actor
from opensmm.audit.models import AuditEntry
from opensmm.db import Database, UTCDateTime
from opensmm.db.migrate import alembic_config
from opensmm.errors import DomainError
from opensmm.panel_settings import service as panel_settings
from opensmm.panel_settings.models import PanelSetting
from opensmm.panel_settings.registry import SETTINGS
from opensmm.web.i18n import LANGUAGES
from tests.api.test_cli import Run, in_process_runner, refused
from tests.support.panel import run_cli

CLI = Actor.cli()


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    with in_process_runner(database_url, monkeypatch) as runner:
        yield runner


def stored(db: Database) -> tuple[int, int]:
    """(setting rows, audit rows): what a refusal must leave as it was."""
    with db.read() as session:
        return (session.scalar(select(func.count()).select_from(PanelSetting)) or 0,
                session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_defaults_then_a_change_is_typed_stored_and_audited(db: Database) -> None:
    with db.read() as session:
        assert panel_settings.values(session) == {
            "panel_name": "opensmm", "signups": "open", "email_verification": "off",
            "default_language": "en", "languages": list(LANGUAGES), "staff_2fa_required": "off",
            "affiliate_percent": "0", "affiliate_min_transfer": "0", "stuck_hours": 24,
            "logo": "", "favicon": "", "theme_mode": "light", "theme_primary": "#4f46e5",
            "theme_accent": "#111827", "theme_primary_dark": "#a5b4fc",
            "theme_accent_dark": "#000000", "maintenance": "off",
            "maintenance_message": "The panel is down for maintenance. Please come back soon.",
            "currency_rates_url": "",
        }
    with db.write() as session:
        assert panel_settings.set_value(session, "panel_name", "  Acme SMM ", CLI) == "Acme SMM"
        assert panel_settings.set_value(session, "signups", "CLOSED", CLI) == "closed"
        assert panel_settings.set_value(session, "languages", "ar, en, ar", CLI) == ["ar", "en"]
    with db.read() as session:
        assert panel_settings.panel_name(session) == "Acme SMM"
        assert panel_settings.signups_open(session) is False
        assert panel_settings.languages(session) == ["ar", "en"]
        assert panel_settings.default_language(session) == "en"
        rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(r.action, r.door, r.target) for r in rows] == [
        ("settings.set", "cli", "setting:panel_name"),
        ("settings.set", "cli", "setting:signups"),
        ("settings.set", "cli", "setting:languages"),
    ]
    assert rows[0].params == {"name": "panel_name", "before": "opensmm", "after": "Acme SMM"}
    template, values = describe(rows[2].action, rows[2].params)
    assert template.format(**values) == (
        f"Changed the setting languages from {', '.join(LANGUAGES)} to ar, en"
    )


HOSTILE = [
    ("panel_name", ""), ("panel_name", "   "), ("panel_name", "x" * 101),
    ("panel_name", "a\x00b"), ("panel_name", "tab\there"), ("panel_name", "\u202eevil"),
    ("panel_name", "y" * 5000),
    ("signups", ""), ("signups", "maybe"), ("signups", "open; closed"), ("signups", "\x00"),
    ("default_language", "fr"), ("default_language", ""), ("default_language", "en\x00"),
    ("default_language", "../en"), ("languages", ""), ("languages", ", ,"),
    ("languages", "en, xx"), ("languages", "ar"),  # leaves out the default (en)
    ("no_such_setting", "x"), ("", "x"), ("panel_name\x00", "x"),
]


@pytest.mark.parametrize(("name", "value"), HOSTILE)
def test_a_bad_name_or_value_is_refused_and_changes_nothing(
    db: Database, name: str, value: str
) -> None:
    before = stored(db)
    with pytest.raises(DomainError), db.write() as session:
        panel_settings.set_value(session, name, value, CLI)
    assert stored(db) == before


def test_the_default_language_must_stay_enabled(db: Database) -> None:
    with db.write() as session:
        panel_settings.set_value(session, "default_language", "ar", CLI)
        panel_settings.set_value(session, "languages", "ar", CLI)
    with pytest.raises(DomainError, match="must include the default"), db.write() as session:
        panel_settings.set_value(session, "default_language", "en", CLI)
    with db.read() as session:
        assert panel_settings.default_language(session) == "ar"
        assert panel_settings.languages(session) == ["ar"]


def test_a_change_by_another_process_is_seen_at_once(db: Database, database_url: str) -> None:
    with db.read() as session:
        assert panel_settings.panel_name(session) == "opensmm"  # now cached here
    run_cli(database_url, "settings", "set", "panel_name", "From the CLI")
    with db.read() as session:
        assert panel_settings.panel_name(session) == "From the CLI"
    # Even plain SQL renews the stamp (database triggers), so no process keeps a stale value.
    with db.write() as session:
        session.execute(text("UPDATE panel_settings SET value = :v WHERE name = 'panel_name'"),
                        {"v": json.dumps("By hand")})
    with db.read() as session:
        assert panel_settings.panel_name(session) == "By hand"


# --- the CLI ------------------------------------------------------------------------------------
def test_settings_list_get_and_set(run: Run) -> None:
    listed = run("settings", "list", "--json")
    assert listed.exit_code == 0
    assert json.loads(listed.stdout) == {name: s.default for name, s in SETTINGS.items()}
    plain = run("settings", "list").stdout
    assert "panel_name = opensmm" in plain and "languages = en, ar" in plain
    assert run("settings", "set", "signups", "closed").stdout.strip() == "signups = closed"
    assert run("settings", "get", "signups").stdout.strip() == "closed"
    assert run("settings", "set", "languages", "en,ar").stdout.strip() == "languages = en, ar"


@pytest.mark.parametrize(("name", "value", "message"), [
    ("nope", "x", "Unknown setting 'nope'"),
    ("signups", "maybe", "The value must be one of: open, closed"),
    ("panel_name", "", "The value must not be empty"),
    ("default_language", "fr", "Unknown language"),
    ("languages", "ar", "must include the default language"),
])
def test_settings_set_refusals_exit_non_zero_and_write_nothing(
    run: Run, db: Database, name: str, value: str, message: str
) -> None:
    before = stored(db)
    refused(run("settings", "set", name, value), message)
    assert stored(db) == before


def test_settings_get_of_an_unknown_name(run: Run) -> None:
    refused(run("settings", "get", "nope"), "Unknown setting 'nope'")


# --- migration 0006 ------------------------------------------------------------------------------
def test_old_audit_sentences_become_codes_and_parameters(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "0005")
    database = Database(database_url)
    try:
        old_audit_log = table(
            "audit_log", column("actor_id"), column("actor"), column("action"),
            column("target"), column("details"), column("ip"),
            column("created_at", UTCDateTime()),
        )
        with database.write() as session:
            for action, details in (("funds.adjust", "alice: 10.50 (wire 7)"),
                                    ("user.suspend", "alice"),
                                    ("service.move", "Followers up")):
                session.execute(old_audit_log.insert().values(
                    actor_id=None, actor="boss", action=action, target="user:1",
                    details=details, ip="127.0.0.1", created_at=datetime.now(UTC)))
    finally:
        database.dispose()
    command.upgrade(config, "head")
    database = Database(database_url)
    try:
        with database.read() as session:
            rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
            shown = [describe(r.action, r.params) for r in rows]
            assert [(r.door, r.params) for r in rows] == [
                ("web", {"user": "alice", "amount": "10.50", "memo": "wire 7"}),
                ("web", {"user": "alice"}),
                ("web", {"details": "Followers up"}),
            ]
    finally:
        database.dispose()
    assert [template.format(**values) for template, values in shown] == [
        "Adjusted the balance of alice by 10.50: wire 7", "Suspended alice", "Followers up"
    ]


# --- who acts ---------------------------------------------------------------------------------
def test_the_actor_of_each_door() -> None:
    cli = Actor.cli()
    assert (cli.name, cli.door, cli.user_id, cli.label) == (
        f"cli:{getpass.getuser()}", "cli", None, f"cli:{getpass.getuser()}")
    staff = Actor.staff(7, "boss", "203.0.113.9")
    assert (staff.door, staff.user_id, staff.ip, staff.label) == ("web", 7, "203.0.113.9",
                                                                  "staff:boss")
    token = Actor.token(12, "nightly", ip="198.51.100.1")
    assert (token.name, token.door, token.user_id, token.ip, token.label) == (
        "token:12:nightly", "api", None, "198.51.100.1", "token:12:nightly")
    # An unknown code, or parameters that do not fill the description, still show something.
    assert describe("made.up", {"a": 1}) == (LEGACY, {"details": "made.up a=1"})
    assert describe("funds.adjust", {"user": "x"})[0] == LEGACY
    assert all(isinstance(v, str | tuple) for v in DESCRIPTIONS.values())
