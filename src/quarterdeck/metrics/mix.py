"""Mix: how bookings and pipeline split by motion (acquisition, growth, retention) and by
deal size (small, mid-sized, big), against the target mix the CEO and the sales leader
agreed, and how much of the open pipeline rests on a few large deals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal, NamedTuple

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.errors import ConfigError
from quarterdeck.history import deals_at
from quarterdeck.metrics.attainment import check_moment, report_day
from quarterdeck.metrics.bookings import in_period, ratio, rows_of
from quarterdeck.metrics.sizes import SizeBands, size_bands
from quarterdeck.model import MOTIONS
from quarterdeck.periods import Period
from quarterdeck.settings import SETTINGS, SIZE_BANDS
from quarterdeck.store import Store

__all__ = [
    "MOTION_LABELS",
    "SIZE_LABELS",
    "UNKNOWN",
    "Concentration",
    "Mix",
    "MixDeal",
    "MixLine",
    "MixView",
    "mix",
]

UNKNOWN = "unknown"
"""The key of deals whose motion (or size band) is not known, so the parts add up."""

MOTION_LABELS: dict[str, str] = {
    "new_business": "acquisition",
    "expansion": "growth",
    "renewal": "retention",
    UNKNOWN: "unknown motion",
}
"""What each motion key means for the mix."""

SIZE_LABELS: dict[str, str] = {
    "small": "small",
    "mid": "mid-sized",
    "big": "big",
    UNKNOWN: "unknown size",
}
"""How each deal-size band is shown."""

_ZERO = Decimal("0.00")
_POINTS = Decimal(100)
_SETTING_KEYS = (
    "mix.target_motion",
    "mix.target_size",
    "mix.size_bounds",
    "mix.top_deals",
    "big_deals.quantile",
    "big_deals.amount",
)

MixStatus = Literal["closed", "pipeline"]


@dataclass(frozen=True)
class MixLine:
    """One key of a mix (a motion or a size band): closed, pipeline, and the two together.

    Shares are of the view's value (closed, pipeline or closed + pipeline), None when that
    value is zero. ``target_share`` is None when no target mix is set or the key has no
    share in it (``unknown``); the differences are in points: (share - target share) x 100,
    so -10 means ten points below the agreed mix.
    """

    key: str
    label: str
    closed: Decimal
    closed_count: int
    closed_share: Decimal | None
    pipeline: Decimal
    pipeline_count: int
    pipeline_share: Decimal | None
    combined: Decimal
    combined_count: int
    combined_share: Decimal | None
    target_share: Decimal | None
    closed_diff_points: Decimal | None
    combined_diff_points: Decimal | None


@dataclass(frozen=True)
class MixView:
    """The mix along one dimension (``motion`` or ``size``): a line per key and the totals.

    ``target_set`` says whether the agreed mix (setting ``target_setting``) is set; without
    it no line has a target share or a difference.
    """

    dimension: str
    lines: tuple[MixLine, ...]
    closed: Decimal
    closed_count: int
    pipeline: Decimal
    pipeline_count: int
    target_set: bool
    target_setting: str

    def line(self, key: str) -> MixLine | None:
        """The line of ``key``, None when the view has none."""
        return next((line for line in self.lines if line.key == key), None)


@dataclass(frozen=True)
class MixDeal:
    """One deal behind the mix, as it stood at ``as_of``: ``status`` is ``closed`` (won in
    the period so far) or ``pipeline`` (open, due in the period); ``motion`` and ``band``
    are the keys it counts under."""

    deal_id: str
    name: str | None
    owner_id: str | None
    amount: Decimal | None
    close_date: date | None
    stage: str | None
    motion: str
    band: str
    status: MixStatus


@dataclass(frozen=True)
class Concentration:
    """How much of the period's open pipeline its ``top_n`` largest deals hold.

    ``share`` = ``top`` / ``pipeline``, None when the open pipeline is worth nothing.
    """

    top_n: int
    pipeline: Decimal
    pipeline_count: int
    top: Decimal
    share: Decimal | None
    deals: tuple[MixDeal, ...]


@dataclass(frozen=True)
class Mix:
    """Result of :func:`mix`: the mix by motion and by size band, the concentration of the
    open pipeline, the deals behind them and the queries they were computed from.

    The deals are kept as columns (``deals_table``, largest amount first) and turned into
    :class:`MixDeal` objects only when asked for.
    """

    as_of: datetime
    period: Period
    day: date
    motion: MixView
    size: MixView
    bands: SizeBands
    concentration: Concentration
    deals_table: pa.Table = field(compare=False, repr=False)
    lines_expr: ir.Table = field(compare=False, repr=False)
    deals_expr: ir.Table = field(compare=False, repr=False)

    @cached_property
    def closed_deals(self) -> tuple[MixDeal, ...]:
        """Every deal won in the period so far, largest first."""
        return _mix_deals(self.deals_table, "closed")

    @cached_property
    def pipeline_deals(self) -> tuple[MixDeal, ...]:
        """Every open deal due in the period, largest first."""
        return _mix_deals(self.deals_table, "pipeline")

    def expressions(self) -> dict[str, ir.Table]:
        """Every query this result was computed from, by name (for ``--explain``)."""
        return {"lines": self.lines_expr, "deals": self.deals_expr}


def _mix_deals(table: pa.Table, status: str, limit: int | None = None) -> tuple[MixDeal, ...]:
    """The deals of ``table`` with ``status``, the ``limit`` first (by default all)."""
    table = table.filter(pc.equal(table.column("status"), status))
    if limit is not None:
        table = table.slice(0, limit)
    columns = [table.column(name).to_pylist() for name in _MIX_DEAL_FIELDS]
    return tuple(MixDeal(*values) for values in zip(*columns, strict=True))


_MIX_DEAL_FIELDS = tuple(f.name for f in fields(MixDeal))


def mix(store: Store, as_of: datetime, period: Period, settings: Mapping[str, Any]) -> Mix:
    """The mix of closed bookings and open pipeline in ``period`` by motion and by deal
    size, against the agreed target mix, and the concentration of the open pipeline.

    Definition. Deals are taken as they stood at ``as_of`` (``history.deals_at``); the
    report's day is ``as_of.date()``, or the period's end when the period is past.
    *Closed* = won deals whose close date lies from the period's start to the day;
    *pipeline* = deals neither closed nor won whose close date lies in the period.
    Motion keys: ``new_business`` (acquisition), ``expansion`` (growth), ``renewal``
    (retention); size bands ``small``, ``mid``, ``big`` from
    :func:`~quarterdeck.metrics.sizes.size_bands` (``mix.size_bounds`` when set). A deal
    with any other or no motion, or without an amount (or bands), counts under
    ``unknown``, so each view's lines add up to its totals.
    Per key: value (sum of amounts), count and share of value, for closed, pipeline and
    closed + pipeline. With a target mix (``mix.target_motion``, ``mix.target_size``):
    the target share and the difference in points, (share - target) x 100, for closed and
    for closed + pipeline; without one ``target_set`` is False and those are None.
    Concentration = value of the ``mix.top_deals`` largest open deals due in the period /
    the value of all open deals due in the period (ties in amount broken by deal id); it
    reads the open pipeline due in the period, not a forecast. Shares are None, never an
    error, when the whole is zero.
    ``settings`` holds setting values by key (``Settings(store).values()``); missing keys
    take their defaults.
    """
    check_moment(as_of, period)
    values = _settings(settings)
    day = report_day(as_of, period)
    bands = size_bands(store, as_of, values)

    deals = deals_at(store, as_of)
    won_to_date = deals.is_won & deals.close_date.between(
        ibis.literal(period.start, "date"), ibis.literal(day, "date")
    )
    is_open = ~(deals.is_closed | deals.is_won)
    open_in_period = is_open & in_period(deals.close_date, period)
    status = ibis.cases(
        (won_to_date.fill_null(False), "closed"),
        (open_in_period.fill_null(False), "pipeline"),
        else_=ibis.null("string"),
    )
    labelled = deals.select(
        "deal_id",
        "name",
        "owner_id",
        "amount",
        "close_date",
        "stage",
        motion=ibis.cases(
            (deals.motion.isin(MOTIONS).fill_null(False), deals.motion), else_=UNKNOWN
        ),
        band=_band(deals.amount, bands),
        status=status,
    )
    relevant = labelled.filter(labelled.status.notnull())
    lines_expr = relevant.group_by("motion", "band", "status").aggregate(
        value=relevant.amount.sum().fill_null(0), count=relevant.count()
    )
    deals_expr = relevant.order_by(relevant.amount.isnull(), ibis.desc("amount"), "deal_id")

    cells = [
        _Cell(r["motion"], r["band"], r["status"], Decimal(r["value"]), int(r["count"]))
        for r in rows_of(store, lines_expr)
    ]
    motion_view = _view("motion", MOTIONS, MOTION_LABELS, cells, values)
    size_view = _view("size", SIZE_BANDS, SIZE_LABELS, cells, values)

    deals_table = store.to_arrow(deals_expr)

    top_n = int(values["mix.top_deals"])
    top_deals = _mix_deals(deals_table, "pipeline", top_n)
    top = sum((d.amount for d in top_deals if d.amount is not None), _ZERO)
    concentration = Concentration(
        top_n=top_n,
        pipeline=motion_view.pipeline,
        pipeline_count=motion_view.pipeline_count,
        top=top,
        share=ratio(top, motion_view.pipeline),
        deals=top_deals,
    )
    return Mix(
        as_of=as_of,
        period=period,
        day=day,
        motion=motion_view,
        size=size_view,
        bands=bands,
        concentration=concentration,
        deals_table=deals_table,
        lines_expr=lines_expr,
        deals_expr=deals_expr,
    )


def _settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The mix settings typed and checked, defaults where ``settings`` has none."""
    values: dict[str, Any] = {}
    for key in _SETTING_KEYS:
        setting = SETTINGS[key]
        raw = settings.get(key, setting.default)
        try:
            values[key] = setting.check(raw)
        except ValueError as exc:
            raise ConfigError(f"setting {key} = {raw!r}: {exc}") from None
    return values


def _band(amount: ir.DecimalValue, bands: SizeBands) -> ir.StringValue:
    """The size band of ``amount`` in the engine (the rule of ``SizeBands.band``)."""
    if bands.mid_from is None or bands.big_from is None:
        return ibis.literal(UNKNOWN, "string")
    return ibis.cases(
        (amount.isnull(), UNKNOWN),
        (amount >= ibis.literal(bands.big_from, "decimal(38, 2)"), "big"),
        (amount >= ibis.literal(bands.mid_from, "decimal(38, 2)"), "mid"),
        else_="small",
    )


class _Cell(NamedTuple):
    """One group of the lines query: value and count of the deals of one motion, band and
    status."""

    motion: str
    band: str
    status: str
    value: Decimal
    deals: int


def _view(
    dimension: str,
    keys: tuple[str, ...],
    labels: dict[str, str],
    cells: list[_Cell],
    values: dict[str, Any],
) -> MixView:
    """Roll the (motion, band, status) cells up along one dimension into a view."""
    setting = f"mix.target_{dimension}"
    target: dict[str, float] | None = values[setting]
    sums: dict[tuple[str, str], tuple[Decimal, int]] = {}
    for cell in cells:
        key = cell.motion if dimension == "motion" else cell.band
        old_value, old_count = sums.get((key, cell.status), (_ZERO, 0))
        sums[(key, cell.status)] = (old_value + cell.value, old_count + cell.deals)

    def part(key: str, status: str) -> tuple[Decimal, int]:
        return sums.get((key, status), (_ZERO, 0))

    shown = list(keys)
    if any(k == UNKNOWN for k, _ in sums):
        shown.append(UNKNOWN)
    closed = sum((part(k, "closed")[0] for k in shown), _ZERO)
    pipeline = sum((part(k, "pipeline")[0] for k in shown), _ZERO)
    combined = closed + pipeline

    lines = []
    for key in shown:
        c_value, c_count = part(key, "closed")
        p_value, p_count = part(key, "pipeline")
        c_share = ratio(c_value, closed)
        b_share = ratio(c_value + p_value, combined)
        goal = None if target is None or key not in target else Decimal(str(target[key]))
        lines.append(
            MixLine(
                key=key,
                label=labels[key],
                closed=c_value,
                closed_count=c_count,
                closed_share=c_share,
                pipeline=p_value,
                pipeline_count=p_count,
                pipeline_share=ratio(p_value, pipeline),
                combined=c_value + p_value,
                combined_count=c_count + p_count,
                combined_share=b_share,
                target_share=goal,
                closed_diff_points=_points(c_share, goal),
                combined_diff_points=_points(b_share, goal),
            )
        )
    return MixView(
        dimension=dimension,
        lines=tuple(lines),
        closed=closed,
        closed_count=sum(line.closed_count for line in lines),
        pipeline=pipeline,
        pipeline_count=sum(line.pipeline_count for line in lines),
        target_set=target is not None,
        target_setting=setting,
    )


def _points(share: Decimal | None, goal: Decimal | None) -> Decimal | None:
    if share is None or goal is None:
        return None
    return (share - goal) * _POINTS
