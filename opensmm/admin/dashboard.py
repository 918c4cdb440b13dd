"""The back office's first page: what is going on, and what needs a person."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, func, select, type_coerce
from starlette.responses import Response

from opensmm.accounts.models import User
from opensmm.admin import charts
from opensmm.fulfillment import held
from opensmm.i18n.languages import language
from opensmm.money import from_minor
from opensmm.orders import queries
from opensmm.orders import statuses as st
from opensmm.payments import queries as payment_queries
from opensmm.providers import service as providers
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()

CHART_DAYS = 30


def customer_totals(ctx: Ctx) -> tuple[int, Decimal]:
    """How many customers, and what the panel owes them (the sum of their balances)."""
    count, owed = ctx.db.execute(
        select(func.count(), func.coalesce(func.sum(type_coerce(User.balance, BigInteger)), 0))
        .where(User.is_admin.is_(False))
    ).one()
    return int(count), from_minor(int(owed))


@pages.get("/admin", who="staff")
def dashboard(ctx: Ctx) -> Response:
    by_status = queries.count_by_status(ctx.db)
    statuses = tuple(dict.fromkeys((*st.ORDER_STATUSES, *by_status)))
    days = queries.daily_totals(ctx.db, CHART_DAYS)
    t = ctx.t
    rtl = language(ctx.lang).direction == "rtl"
    attention, provider_alerts = held.needing_attention(ctx.db)
    customers, owed = customer_totals(ctx)
    deposits = dict(payment_queries.deposits_per_day(ctx.db, CHART_DAYS))
    zero = Decimal(0)
    return ctx.render(
        "admin/dashboard.html",
        by_status=by_status,
        status_chart=charts.horizontal_bars(
            [(t(name), by_status.get(name, 0)) for name in statuses], t("Orders by status"),
            rtl=rtl,
        ),
        money_chart=charts.columns(
            [day.day.strftime("%m-%d") for day in days],
            [
                charts.Series(t("Revenue"), "bar", [day.revenue for day in days]),
                charts.Series(t("Profit"), "bar profit", [day.profit for day in days]),
                charts.Series(t("Deposits"), "bar deposit",
                              [deposits.get(day.day, zero) for day in days]),
            ],
            t("Revenue, profit and deposits per day"),
            rtl=rtl,
        ),
        revenue=sum((day.revenue for day in days), Decimal(0)),
        profit=sum((day.profit for day in days), Decimal(0)),
        orders_total=sum(by_status.values()),
        attention=attention[:20],
        attention_count=len(attention),
        provider_alerts=provider_alerts,
        providers=providers.list_providers(ctx.db),
        customers=customers,
        owed=owed,
        days=CHART_DAYS,
        deposits_total=sum(deposits.values(), zero),
        payments_waiting=payment_queries.waiting_for_staff(ctx.db),
    )
