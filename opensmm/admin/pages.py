"""Every back-office page collection, for the app builder."""

from __future__ import annotations

from opensmm.web.framework import Pages


def all_pages() -> list[Pages]:
    from opensmm.admin import (
        catalog,
        content,
        coupons,
        currencies,
        dashboard,
        emails,
        money,
        news,
        orders,
        payments,
        providers,
        scorecards,
        settings,
        tickets,
        tokens,
        users,
    )

    return [
        dashboard.pages,
        users.pages,
        tickets.pages,
        news.pages,
        catalog.pages,
        orders.pages,
        providers.pages,
        scorecards.pages,
        payments.pages,
        money.pages,
        emails.pages,
        settings.pages,
        content.pages,
        coupons.pages,
        currencies.pages,
        tokens.pages,
    ]
