"""The forecast: the latest saved forecast's range (P10, P50, P90) and chance of making the
goal, and the leader's calls against what happened.

A forecast is computed on demand (a button for the leader, the CEO and the analyst, in a
background thread); the page always shows the latest saved one, so opening it never waits
for the models.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from quarterdeck.access import Viewer
from quarterdeck.web.charts import forecast_spec
from quarterdeck.web.context import Asker, asker, render, writer
from quarterdeck.web.hub import Hub
from quarterdeck.web.models import CallScore, ForecastOut, RangeOut, call_out, money

__all__ = ["router"]

router = APIRouter()

COMPUTE_ROLES = ("leader", "ceo", "analyst", "admin")


def _state(who: Asker) -> dict[str, Any]:
    return state_of(who.hub, who.viewer)


def prepare(hub: Hub, viewer: Viewer) -> None:
    """What a login opens first, computed ahead: the forecast page's figures."""
    state_of(hub, viewer)


def state_of(hub: Hub, viewer: Viewer) -> dict[str, Any]:
    """The forecast page's figures as ``viewer`` sees them."""

    def build(ws: Any) -> dict[str, Any]:
        period = ws.period()
        moment = ws.moment()
        saved = ws.latest_forecast(period)
        calls = ws.calls(period).calls
        actual = ws.bookings(period).total if calls else None
        return {
            "period": period,
            "moment": moment,
            "saved": saved,
            "calls": calls,
            "actual": actual,
        }

    result: dict[str, Any] = hub.read(viewer, "forecast", None, build, depends=("calls",))
    return result


def forecast_out(who: Asker) -> ForecastOut:
    state = _state(who)
    saved = state["saved"]
    period = state["period"]
    complete = state["moment"].date() > period.end
    actual = state["actual"]
    actual_amount = getattr(actual, "bookings", None) if actual is not None else None
    scores = []
    for call in state["calls"]:
        error = None
        if complete and actual_amount:
            error = str(((actual_amount - call.commit) / actual_amount).quantize(Decimal("0.0001")))
        scores.append(
            CallScore(
                call=call_out(call),
                actual=money(actual_amount),
                complete=complete,
                commit_error=error,
            )
        )
    latest = None
    if saved is not None:
        latest = RangeOut(
            method=saved.method,
            made_at=saved.made_at,
            created_at=saved.created_at,
            p10=money(saved.p10),
            p50=money(saved.forecast),
            p90=money(saved.p90),
            target=money(saved.target),
            chance_of_target=None if saved.p_target is None else f"{saved.p_target:.4f}",
            closed_won=money(saved.closed_won),
            note=saved.note,
        )
    jobs = who.request.app.state.jobs
    return ForecastOut(
        period=period.label, latest=latest, calls=scores, computing=jobs.running("forecast")
    )


@router.get("/forecast", include_in_schema=False)
def forecast_page(request: Request, who: Annotated[Asker, Depends(asker)]) -> Response:
    out = forecast_out(who)
    return render(
        request, "forecast.html.j2", who, out=out, can_compute=who.viewer.role in COMPUTE_ROLES
    )


@router.get("/api/forecast", response_model=ForecastOut, tags=["forecast"])
def forecast_api(who: Annotated[Asker, Depends(asker)]) -> ForecastOut:
    """The latest saved forecast of the current quarter and the leader's calls scored
    against closed won."""
    return forecast_out(who)


@router.get("/api/forecast/chart", tags=["forecast"])
def forecast_chart(who: Annotated[Asker, Depends(asker)]) -> dict[str, Any]:
    """The range, the target, closed won and the calls as a Vega-Lite spec."""
    out = forecast_out(who)
    latest = out.latest

    def num(text: str | None) -> float | None:
        return None if text is None else float(text)

    calls = [
        (s.call.called_at.strftime("%Y-%m-%d"), float(s.call.commit), float(s.call.best_case))
        for s in out.calls[-5:]
    ]
    return forecast_spec(
        f"Forecast of {out.period}",
        num(latest.p10) if latest else None,
        num(latest.p50) if latest else None,
        num(latest.p90) if latest else None,
        num(latest.target) if latest else None,
        num(latest.closed_won) if latest else None,
        calls,
    )


def _compute(who: Asker) -> None:
    if who.viewer.role not in COMPUTE_ROLES:
        who.require("call_forecast")
    jobs = who.request.app.state.jobs
    if not jobs.running("forecast"):
        jobs.start(
            who.hub, who.viewer, "forecast", lambda ws, job: ws.forecast(save=True, reasons=False)
        )


@router.post("/api/forecast", status_code=202, tags=["forecast"])
def compute_api(who: Annotated[Asker, Depends(writer)]) -> dict[str, bool]:
    """Compute and save a forecast of the current quarter in the background."""
    _compute(who)
    return {"computing": True}


@router.post("/forecast", include_in_schema=False)
def compute_form(who: Annotated[Asker, Depends(writer)]) -> Response:
    _compute(who)
    return RedirectResponse("/forecast", status_code=303)
