"""Every back-office page collection, for the app builder."""

from __future__ import annotations

from opensmm.web.framework import Pages


def all_pages() -> list[Pages]:
    from opensmm.admin import (
        catalog,
        coupons,
        dashboard,
        money,
        orders,
        providers,
        settings,
        users,
    )

    return [
        dashboard.pages,
        users.pages,
        catalog.pages,
        orders.pages,
        providers.pages,
        money.pages,
        settings.pages,
        coupons.pages,
    ]
