"""Staff page of the scorecards: providers ranked by their figures, then services."""

from __future__ import annotations

from starlette.responses import Response

from opensmm.scorecards import service as scorecards
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()


@pages.get("/admin/scorecards", who="staff")
def scorecard_page(ctx: Ctx) -> Response:
    averages = {
        service_id: scorecards.human_duration(ctx.t, seconds)
        for service_id, seconds in scorecards.average_times(ctx.db).items()
    }
    return ctx.render(
        "admin/scorecards.html",
        providers=scorecards.provider_ranking(ctx.db),
        services=scorecards.service_figures(ctx.db),
        averages=averages,
        stuck_hours=scorecards.stuck_after(ctx.db).total_seconds() // 3600,
        window_days=scorecards.WINDOW.days,
    )
