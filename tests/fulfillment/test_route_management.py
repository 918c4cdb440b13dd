"""Managing routes and services from the CLI (in this process: the same Typer app a person
runs), and what keeps a service's route 1 and its provider columns the same: the
migration, imports, price sync. Refusals exit 1 with one ``error:`` line, no traceback,
and change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opensmm.audit.models import AuditEntry
from opensmm.catalog import routes
from opensmm.catalog.models import Service, ServiceRoute
from opensmm.client import Service as UpstreamService
from opensmm.db import Database
from opensmm.db.migrate import alembic_config
from opensmm.providers import service as providers
from opensmm.providers.models import Provider
from tests.api.test_cli import Run, in_process_runner, refused
from tests.fulfillment import helpers as h


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    with in_process_runner(database_url, monkeypatch) as run:
        yield run


def route_rows(db: Database, service_id: int) -> list[tuple[int, int, Decimal | None]]:
    with db.read() as session:
        return [(r.provider_id, r.provider_service_id, r.cost)
                for r in routes.list_routes(session, service_id)]


def service_row(db: Database, service_id: int) -> Service:
    with db.read() as session:
        found = session.get(Service, service_id)
        assert found is not None
        return found


def _name(session: Session, provider_id: int) -> str:
    provider = session.get(Provider, provider_id)
    assert provider is not None
    return provider.name


def test_routes_and_service_edit_from_the_cli_and_hostile_input(
    db: Database, cli: Run
) -> None:
    first = h.provider(db, "http://127.0.0.1:9/api/v2")
    other = h.provider(db, "http://127.0.0.1:9/api/v2")
    with db.read() as session:
        other_name = _name(session, other)
    service_id = h.provider_service(db, first, 11, provider_rate=Decimal("0.5"))

    added = cli("service", "route", "add", str(service_id), "--provider", other_name,
                "--provider-service", "22", "--cost", "0.7", "--json")
    assert added.exit_code == 0, added.stderr
    route_id = json.loads(added.stdout)["id"]
    assert json.loads(added.stdout)["position"] == 2
    assert route_rows(db, service_id) == [(first, 11, Decimal("0.5")), (other, 22, Decimal("0.7"))]

    moved = cli("service", "route", "move", str(service_id), str(route_id), "1")
    assert moved.exit_code == 0, moved.stderr
    listed = json.loads(cli("service", "route", "list", str(service_id), "--json").stdout)
    assert [(r["position"], r["provider_id"], r["provider_service"], r["cost"])
            for r in listed["routes"]] == [(1, other, 22, "0.70"), (2, first, 11, "0.50")]
    service = service_row(db, service_id)  # route 1 is the service's own provider now
    assert (service.provider_id, service.provider_service_id, service.provider_rate) == (
        other, 22, Decimal("0.7")
    )
    plain = cli("service", "route", "list", str(service_id)).stdout
    assert f"1. route {route_id}: {other_name} service 22" in plain

    [first_route] = [r["id"] for r in listed["routes"] if r["provider_id"] == first]
    assert cli("service", "route", "remove", str(service_id), str(first_route)).exit_code == 0
    assert route_rows(db, service_id) == [(other, 22, Decimal("0.7"))]
    refused(cli("service", "route", "remove", str(service_id), str(route_id)),
            "keeps at least one route")

    edited = cli("service", "edit", str(service_id), "--name", "Likes HQ", "--rate", "2.5",
                 "--min", "10", "--max", "500", "--no-refill")
    assert edited.exit_code == 0, edited.stderr
    service = service_row(db, service_id)
    assert (service.name, service.rate, service.min_quantity, service.max_quantity,
            service.refill, service.cancel) == ("Likes HQ", Decimal("2.5"), 10, 500, False, True)
    with db.read() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["service.route_add", "service.route_move", "service.route_remove",
                       "service.edit"]
    hostile_input_is_refused_clearly_and_changes_nothing(db, cli)


HOSTILE = [
    (("service", "edit", "999999", "--rate", "1"), "Incorrect service ID"),
    (("service", "edit", "99999999999999", "--rate", "1"), "No service"),
    (("service", "edit", "0", "--rate", "1"), "No service"),
    (("service", "edit", "{svc}", "--rate", "abc"), "Incorrect rate"),
    (("service", "edit", "{svc}", "--rate", "-1"), "must not be negative"),
    (("service", "edit", "{svc}", "--min", "50", "--max", "5"),
     "must not be less than the minimum"),
    (("service", "edit", "{svc}", "--type", "Telepathy"), "Unknown service type"),
    (("service", "edit", "{svc}", "--name", "x" * 301), "1 to 300 characters"),
    (("service", "edit", "{svc}", "--description", "d" * 10_001), "at most 10000"),
    (("service", "route", "add", "{svc}", "--provider", "nope", "--provider-service", "3"),
     "No provider named"),
    (("service", "route", "add", "{svc}", "--provider", "{prov}", "--provider-service",
      "99999999999999999999"), "positive whole number"),
    (("service", "route", "add", "{svc}", "--provider", "{prov}", "--provider-service", "4",
      "--cost", "-0.5"), "cost must not be negative"),
    (("service", "route", "add", "{svc}", "--provider", "{prov}", "--provider-service", "4",
      "--cost", "1e999"), "Incorrect cost"),
    (("service", "route", "add", "{svc}", "--provider", "{prov}", "--provider-service", "11"),
     "already has this route"),
    (("service", "route", "add", "{manual}", "--provider", "{prov}", "--provider-service", "4"),
     "Only provider services have routes"),
    (("service", "route", "move", "{svc}", "{route}", "7"), "between 1 and 1"),
    (("service", "route", "move", "{svc}", "99999", "1"), "No such route"),
    (("service", "route", "move", "{manual}", "{route}", "1"), "Only provider services"),
    (("service", "route", "remove", "{svc}", "0"), "No route"),
    (("service", "route", "list", "99999999999"), "No service"),
]


def hostile_input_is_refused_clearly_and_changes_nothing(db: Database, cli: Run) -> None:
    prov = h.provider(db, "http://127.0.0.1:9/api/v2")
    with db.read() as session:
        name = _name(session, prov)
    svc = h.provider_service(db, prov, 11)
    manual = h.service(db)
    [route] = [r.id for r in _routes(db, svc)]
    values = {"svc": svc, "prov": name, "manual": manual, "route": route}
    before = (route_rows(db, svc), service_row(db, svc).rate, _audit_count(db))
    for args, message in HOSTILE:
        result = cli(*[arg.format(**values) for arg in args])
        try:
            refused(result, message)
        except AssertionError as exc:
            raise AssertionError(f"{args}: {exc}") from None
    assert (route_rows(db, svc), service_row(db, svc).rate, _audit_count(db)) == before


def _routes(db: Database, service_id: int) -> list[ServiceRoute]:
    with db.read() as session:
        return routes.list_routes(session, service_id)


def _audit_count(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count(AuditEntry.id))) or 0


def _upstream(service_id: int, rate: str) -> UpstreamService:
    return UpstreamService(
        id=service_id, name="Followers", type="Default", category="Instagram",
        rate=Decimal(rate), min=1, max=100_000, refill=True, cancel=True, dripfeed=False,
        description=None,
    )


def test_import_and_price_sync_keep_every_route_cost(db: Database) -> None:
    first = h.provider(db, "http://127.0.0.1:9/api/v2")
    other = h.provider(db, "http://127.0.0.1:9/api/v2")
    with db.write() as session:
        report = providers.import_services(
            session, first, [_upstream(5, "0.40")], markup_percent=Decimal("50")
        )
    [imported] = report.created
    service_id = imported.service_id
    assert route_rows(db, service_id) == [(first, 5, Decimal("0.40"))]
    with db.write() as session:
        routes.add_route(session, service_id, other, 8, Decimal("0.30"))
    with db.write() as session:
        providers.sync_services(session, other, [_upstream(8, "0.35")])
        providers.sync_services(session, first, [_upstream(5, "0.44")])
    assert route_rows(db, service_id) == [
        (first, 5, Decimal("0.44")), (other, 8, Decimal("0.35"))
    ]
    service = service_row(db, service_id)
    assert (service.provider_rate, service.rate) == (Decimal("0.44"), Decimal("0.66"))


def _routes_revision(config: Config) -> Script:
    for script in ScriptDirectory.from_config(config).walk_revisions():
        if "routes with failover" in (script.doc or ""):
            return script
    raise AssertionError("no routes migration")


def test_the_migration_makes_each_services_provider_its_route_1(
    database_url: str, db: Database
) -> None:
    provider_id = h.provider(db, "http://127.0.0.1:9/api/v2")
    service_id = h.provider_service(db, provider_id, 42, provider_rate=Decimal("0.25"))
    manual = h.service(db)
    order_id = h.place(db, h.customer(db), service_id, 100)
    db.dispose()
    config = alembic_config(database_url)
    script = _routes_revision(config)
    assert isinstance(script.down_revision, str)
    command.downgrade(config, script.down_revision)
    command.upgrade(config, "head")
    assert route_rows(db, service_id) == [(provider_id, 42, Decimal("0.25"))]
    assert route_rows(db, manual) == []
    order = h.get_order(db, order_id)
    assert (order.provider_id, order.provider_service_id) == (provider_id, 42)
    assert order.routed_at == order.created_at and order.upstream_charge is None
