"""The panel's state as Prometheus gauges: a few grouped counts, read at scrape time."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select

from opensmm.db import Database
from opensmm.fulfillment.states import HELD
from opensmm.orders.models import Order
from opensmm.providers.models import Provider
from opensmm.refills.models import Refill


def read_state(db: Database) -> list[Metric]:
    orders = GaugeMetricFamily("opensmm_orders", "Orders by status", labels=["status"])
    refills = GaugeMetricFamily("opensmm_refills", "Refills by status", labels=["status"])
    sending = GaugeMetricFamily(
        "opensmm_orders_by_send_state",
        "Orders handled by the worker, by send state (new, sending, sent, held)",
        labels=["state"],
    )
    held = GaugeMetricFamily(
        "opensmm_orders_held", "Orders held for a person: a call to the provider ended in doubt"
    )
    failures = GaugeMetricFamily(
        "opensmm_provider_consecutive_failures",
        "Failed calls in a row to each upstream provider (0 when the last call worked)",
        labels=["provider"],
    )
    alerts = GaugeMetricFamily(
        "opensmm_provider_alert", "1 when a provider has an alert for staff", labels=["provider"]
    )
    with db.read() as session:
        for status, count in session.execute(
            select(Order.status, func.count()).group_by(Order.status)
        ):
            orders.add_metric([status], count)
        for status, count in session.execute(
            select(Refill.status, func.count()).group_by(Refill.status)
        ):
            refills.add_metric([status], count)
        held_count = 0
        for state, count in session.execute(
            select(Order.send_state, func.count())
            .where(Order.send_state.is_not(None))
            .group_by(Order.send_state)
        ):
            sending.add_metric([str(state)], count)
            if state == HELD:
                held_count = count
        held.add_metric([], held_count)
        for name, failed, alert in session.execute(
            select(Provider.name, Provider.failures, Provider.alert)
        ):
            failures.add_metric([name], failed)
            alerts.add_metric([name], 1 if alert else 0)
    return [orders, refills, sending, held, failures, alerts]
