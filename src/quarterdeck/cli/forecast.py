"""The forecast commands: forecast and backtest."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.table import Table

from quarterdeck.cli.common import (
    JsonOption,
    PeriodOption,
    _datetime,
    _progress,
    app,
    out,
    state,
)
from quarterdeck.report.format import money_short
from quarterdeck.workspace import Workspace

DEALS_SHOWN = 10
"""How many open deals ``quarterdeck forecast`` lists with their probability and reasons."""

GROUPS_SHOWN = 15
"""How many teams, reps or motions ``quarterdeck forecast`` lists (largest P50 first; all
of them in ``--json``)."""


def _amount(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _short(value: float | None) -> str:
    """An amount in a few characters: 12,400, 350k, 1.2M."""
    return "-" if value is None else money_short(Decimal(str(round(value, 2))))


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


@app.command("forecast")
def forecast_(
    period: PeriodOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Forecast as it would have been made then: YYYY-MM-DD[THH:MM] "
            "(default: the time of the latest import).",
        ),
    ] = None,
    save: Annotated[
        bool,
        typer.Option(
            help="Keep the forecast in the database's record of forecasts (the brief shows "
            "the latest). A forecast --as-of a past moment is never saved."
        ),
    ] = True,
    json_out: JsonOption = False,
) -> None:
    """The period's bookings forecast by every method, the range (P10-P90), the chance of
    making the target, the leader's call, the range of each team, rep and motion, and the
    open deals' probabilities with reasons."""
    moment = _datetime(as_of, "--as-of")
    keep = save and moment is None
    with Workspace(state.db, read_only=not keep) as ws:
        result = ws.forecast(period, moment, save=keep)
    deals = _deal_rows(result)
    if json_out:
        out.print_json(
            json.dumps(
                {
                    "period": result.period.label,
                    "as_of": result.at.isoformat(),
                    "closed_won": round(result.closed_won, 2),
                    "target": result.target,
                    "forecast": _method(result.best),
                    "arrivals": None if result.arrivals is None else round(result.arrivals, 2),
                    "methods": [_method(m) for m in result.methods.values()],
                    "groups": {
                        by: [_group(g) for g in ranges] for by, ranges in result.groups.items()
                    },
                    "deals": deals,
                }
            )
        )
        return
    best = result.best
    out.print(
        f"Forecast of {result.period.label} as of {result.at:%Y-%m-%d %H:%M}: won so far "
        f"{_amount(result.closed_won)}"
        + ("" if result.target is None else f" of the {_amount(result.target)} target")
    )
    if best.p10 is not None and best.p90 is not None:
        chance = (
            ""
            if best.p_target is None
            else f"; chance of making the target {_share(best.p_target)}"
        )
        out.print(
            f"Expected {_amount(best.forecast)} (80% range {_amount(best.p10)} to "
            f"{_amount(best.p90)}){chance}."
        )
    table = Table(title="Every method")
    for column in ("method", "forecast", "P10", "P90", "from open deals"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for m in result.methods.values():
        table.add_row(
            m.method, _amount(m.forecast), _amount(m.p10), _amount(m.p90), _amount(m.open_part)
        )
    out.print(table)
    for m in result.methods.values():
        out.print(f"  {m.method}: {m.note}", highlight=False)
    titles = {"team": "team", "owner": "rep", "motion": "motion"}
    for by, ranges in result.groups.items():
        if not ranges:
            continue
        shown = ranges[:GROUPS_SHOWN]
        more = f", the {GROUPS_SHOWN} largest of {len(ranges)}" if len(ranges) > len(shown) else ""
        table = Table(title=f"By {titles.get(by, by)}{more}")
        table.add_column(titles.get(by, by), no_wrap=True)
        for column in ("won", "P10", "P50", "P90", "target", "chance"):
            table.add_column(column, justify="right", no_wrap=True)
        for g in shown:
            table.add_row(
                g.key or "(none)", _short(g.closed_won), _short(g.p10), _short(g.p50),
                _short(g.p90), _short(g.target), _share(g.p_target),
            )  # fmt: skip
        out.print(table)
    if deals:
        out.print(
            f"Largest open deals by expected value ({min(DEALS_SHOWN, len(deals))} of "
            f"{len(deals):,}), with what moves their probability most:"
        )
        for d in deals[:DEALS_SHOWN]:
            out.print(
                f"  {d['deal_id']}  {d['stage'] or '-'}, {_amount(d['amount'])}, "
                f"{_share(d['probability'])} (owner {d['owner_id'] or '-'})",
                highlight=False,
            )
            for words in d["reasons"]:
                out.print(f"      {words}", highlight=False)


@app.command("backtest")
def backtest_(
    kind: Annotated[
        str, typer.Option(help="Periods to forecast: quarter, month, week or year.")
    ] = "quarter",
    periods: Annotated[int, typer.Option(help="How many completed periods to walk over.")] = 8,
    named_only: Annotated[
        bool,
        typer.Option(
            "--named-only",
            help="Only the named check points (day 1, week 4, 30 and 14 days before the end) "
            "instead of every week.",
        ),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Walk-forward backtest: each method's forecast of past periods at each check point,
    made from what was knowable then, scored against what closed."""
    with Workspace(state.db, read_only=True) as ws, _progress(not json_out) as report:
        result = ws.backtest(kind, periods, named_only=named_only, progress=report)
    if json_out:
        out.print_json(json.dumps(result.as_dict()))
        return
    labels = ", ".join(p.label for p in result.periods)
    out.print(
        f"Backtest of {len(result.periods)} {kind}s ({labels}) at {result.check_points} check "
        f"points, in {result.seconds:.0f} s"
    )
    table = Table(
        title="Whole period at every check point (n forecasts; in 10%: the share within 10% "
        "of the actual; 80%: the share inside P10-P90; wk 4: WAPE at the start of week 4; "
        "--json has accuracy, within 5%, pinball, CRPS and the open deals' scores)"
    )
    table.add_column("method", no_wrap=True)
    for column in ("n", "WAPE", "bias", "in 10%", "80%", "wk 4"):
        table.add_column(column, justify="right", no_wrap=True)
    for m in result.methods:
        w = m.whole
        week4 = m.by_point.get("week 4")
        if w is None:
            table.add_row(m.method, "0", "-", "-", "-", "-", "-")
            continue
        table.add_row(
            m.method, f"{w.periods:,}", _share(w.wape), _share(w.bias), _share(w.within_10),
            _share(w.coverage), _share(None if week4 is None else week4.wape),
        )  # fmt: skip
    out.print(table)
    if result.deals is not None:
        d = result.deals
        out.print(
            f"Deal probabilities ({d.deals:,} deal-check points, {d.won:,} won): AUC "
            f"{d.auc if d.auc is None else f'{d.auc:.3f}'}, Brier {d.brier:.4f}, skill against "
            f"{result.deals_reference} {_share(d.brier_skill)}, calibration error {d.ece:.4f}"
        )
    for note in result.notes:
        out.print(f"note: {note}")


def _method(m: Any) -> dict[str, Any]:
    return {
        "method": m.method,
        "forecast": None if m.forecast is None else round(m.forecast, 2),
        "p10": None if m.p10 is None else round(m.p10, 2),
        "p90": None if m.p90 is None else round(m.p90, 2),
        "open_deals": None if m.open_part is None else round(m.open_part, 2),
        "p_target": None if m.p_target is None else round(m.p_target, 4),
        "note": m.note,
    }


def _group(g: Any) -> dict[str, Any]:
    return {
        "key": g.key,
        "won": round(g.closed_won, 2),
        "p10": round(g.p10, 2),
        "p50": round(g.p50, 2),
        "p90": round(g.p90, 2),
        "target": g.target,
        "p_target": None if g.p_target is None else round(g.p_target, 4),
        "open_deals": g.open_deals,
    }


def _deal_rows(result: Any) -> list[dict[str, Any]]:
    """The open deals with the deal model's probability and reasons, largest expected value
    first."""
    deals = result.deals
    if deals is None:
        return []
    table = result.snapshot.table
    amount = table.column("amount").to_pylist()
    owners = table.column("owner_id").to_pylist()
    stages = table.column("stage").to_pylist()
    ids = table.column("deal_id").to_pylist()
    rows = []
    for i, p in enumerate(deals.probability.tolist()):
        reasons = deals.reasons[i] if i < len(deals.reasons) else ()
        rows.append(
            {
                "deal_id": ids[i],
                "owner_id": owners[i],
                "stage": stages[i],
                "amount": amount[i],
                "probability": round(p, 4),
                "expected": round(p * amount[i], 2),
                "reasons": [words for words, _ in reasons],
            }
        )
    rows.sort(key=lambda r: (-r["expected"], r["deal_id"]))
    return rows
