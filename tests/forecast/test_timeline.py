"""Deals as they stood at a past moment, and the forecast's features, worked out by hand.

The company (pipeline ``sales``; Qualify's default probability 0.2, Negotiate's 0.6), as
of Thursday 2024-08-15 00:00, in 2024-Q3:

A  created 06-01 12:00 in Qualify, 1,000, due 08-31, owner u1; 07-01 Proposal; 07-10
   amount 1,500; 08-01 due 09-30 (a push); 08-05 back to Qualify (a regression);
   activities 07-20 and 08-10. After the moment: won 08-20 at 1,400, close date 08-20.
B  created 05-01 in Proposal, 2,000, due 07-15, owner u2; won 07-15 12:00.
C  created 04-01 in Prospect, 500, due 06-30, owner u1; lost 06-20.
E  created 08-20 (after the moment) in Qualify, 700; won 09-01, close date 09-01.
F  created 07-01 in Negotiate, 3,000, due 10-15 (Q4), CRM probability 0.7, owner u2;
   07-15 amount 2,400; won 09-10 with close date 09-10 (after the moment).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from quarterdeck.errors import InputError
from quarterdeck.forecast import timeline as timeline_module
from quarterdeck.forecast.ladder import Forecaster
from quarterdeck.forecast.timeline import DealTimeline, load_timeline
from quarterdeck.model import TABLES
from quarterdeck.periods import Period
from quarterdeck.store import Store

Q3 = Period.parse("2024-Q3")
AT = datetime(2024, 8, 15)
STAGES = (
    # stage, sort_order, is_closed, is_won, probability
    ("Prospect", 1, False, False, 0.1),
    ("Qualify", 2, False, False, 0.2),
    ("Proposal", 3, False, False, 0.4),
    ("Negotiate", 4, False, False, 0.6),
    ("Closed Won", 5, True, True, 1.0),
    ("Closed Lost", 6, True, False, 0.0),
)


def insert(store: Store, table: str, rows: list[dict[str, Any]]) -> None:
    store.insert(table, pa.Table.from_pylist(rows, schema=TABLES[table].schema.to_pyarrow()))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "t.duckdb")
    insert(
        s,
        "stages",
        [
            {"pipeline": "sales", "stage": n, "sort_order": o, "is_closed": c, "is_won": w,
             "probability": p}
            for n, o, c, w, p in STAGES
        ],
    )  # fmt: skip
    yield s
    s.close()


class History:
    """deal_events rows in the order given (``seq`` numbered as written)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows: list[dict[str, Any]] = []

    def __call__(self, deal_id: str, when: datetime, **values: str) -> None:
        for name, value in values.items():
            self.rows.append(
                {"deal_id": deal_id, "at": when, "field": name, "new_value": value,
                 "origin": "history", "seq": len(self.rows) + 1}
            )  # fmt: skip

    def write(self) -> None:
        insert(self.store, "deal_events", self.rows)


def noon(text: str) -> datetime:
    return datetime.combine(date.fromisoformat(text), datetime.min.time()).replace(hour=12)


@pytest.fixture
def company(store: Store) -> Store:
    deals = {
        # id: created, final stage, final amount, final close
        "A": ("2024-06-01", "Closed Won", "1400", "2024-08-20"),
        "B": ("2024-05-01", "Closed Won", "2000", "2024-07-15"),
        "C": ("2024-04-01", "Closed Lost", "500", "2024-06-20"),
        "E": ("2024-08-20", "Closed Won", "700", "2024-09-01"),
        "F": ("2024-07-01", "Closed Won", "2400", "2024-09-10"),
    }
    insert(
        store,
        "deals",
        [
            {"deal_id": d, "account_id": "a1", "motion": "new_business", "pipeline": "sales",
             "created_at": noon(created), "stage": stage, "amount": Decimal(amount),
             "close_date": date.fromisoformat(close), "is_closed": True,
             "is_won": stage == "Closed Won"}
            for d, (created, stage, amount, close) in deals.items()
        ],
    )  # fmt: skip
    insert(store, "accounts", [{"account_id": "a1", "segment": "SMB"}])
    h = History(store)
    h(
        "A",
        noon("2024-06-01"),
        stage="Qualify",
        amount="1000",
        close_date="2024-08-31",
        owner_id="u1",
    )
    h("A", noon("2024-07-01"), stage="Proposal")
    h("A", noon("2024-07-10"), amount="1500")
    h("A", noon("2024-08-01"), close_date="2024-09-30")
    h("A", noon("2024-08-05"), stage="Qualify")
    h("A", noon("2024-08-20"), stage="Closed Won", amount="1400", close_date="2024-08-20")
    h(
        "B",
        noon("2024-05-01"),
        stage="Proposal",
        amount="2000",
        close_date="2024-07-15",
        owner_id="u2",
    )
    h("B", noon("2024-07-15"), stage="Closed Won")
    h(
        "C",
        noon("2024-04-01"),
        stage="Prospect",
        amount="500",
        close_date="2024-06-30",
        owner_id="u1",
    )
    h("C", noon("2024-06-20"), stage="Closed Lost")
    h(
        "E",
        noon("2024-08-20"),
        stage="Qualify",
        amount="700",
        close_date="2024-09-15",
        owner_id="u1",
    )
    h("E", noon("2024-09-01"), stage="Closed Won", close_date="2024-09-01")
    h("F", noon("2024-07-01"), stage="Negotiate", amount="3000", close_date="2024-10-15",
      owner_id="u2", probability="0.7")  # fmt: skip
    h("F", noon("2024-07-15"), amount="2400")
    h("F", noon("2024-09-10"), stage="Closed Won", close_date="2024-09-10")
    h.write()
    insert(
        store,
        "activities",
        [
            {"activity_id": "x1", "deal_id": "A", "at": datetime(2024, 7, 20), "kind": "call"},
            {"activity_id": "x2", "deal_id": "A", "at": datetime(2024, 8, 10), "kind": "email"},
            {"activity_id": "x3", "deal_id": "A", "at": datetime(2024, 8, 16), "kind": "email"},
        ],
    )
    return store


def row(timeline: DealTimeline, deal_id: str) -> dict[str, Any]:
    snap = timeline.features(AT, Q3)
    rows = {r["deal_id"]: r for r in snap.table.to_pylist()}
    return rows[deal_id]


def test_open_deals_and_closed_won_at_the_moment(company: Store) -> None:
    timeline = load_timeline(company)
    snap = timeline.features(AT, Q3)
    # A and F are open on 08-15; B was won 07-15 (2,000 in Q3), C lost, E not yet created.
    assert sorted(snap.table.column("deal_id").to_pylist()) == ["A", "F"]
    assert snap.closed_won == 2000.0
    assert snap.closed_won_count == 1


def test_features_of_a_deal_that_moved_back(company: Store) -> None:
    a = row(load_timeline(company), "A")
    assert a["stage"] == "Qualify" and a["stage_order"] == 2.0
    assert a["probability"] == 0.2  # no CRM probability: Qualify's default
    assert a["amount"] == 1500.0
    assert a["amount_change"] == pytest.approx(0.5)  # 1,500 / 1,000 - 1
    assert a["amount_cut"] == 0.0  # 1,500 is its highest
    assert a["days_to_close"] == 46.0  # 09-30 - 08-15
    assert a["due_in_period"] == 1.0  # 09-30 is in Q3
    assert a["pushes"] == 1.0  # 08-31 -> 09-30
    assert a["stage_changes"] == 2.0  # Qualify -> Proposal -> Qualify
    assert a["regressions"] == 1.0
    assert a["days_in_stage"] == pytest.approx(9.5)  # 08-05 12:00 -> 08-15 00:00
    assert a["age"] == pytest.approx(74.5)  # 06-01 12:00 -> 08-15 00:00
    # Activities 07-20 and 08-10 (the one on 08-16 is after the moment).
    assert a["activities"] == 2.0 and a["activities_30d"] == 2.0
    assert a["days_since_activity"] == 5.0
    # Closed by then: B (won, u2) and C (lost, u1); the segment's rate 1/2.
    # u1: (0 won + 10 x 0.5) / (1 closed + 10) = 5/11.
    assert a["owner_win_rate"] == pytest.approx(5 / 11)
    assert a["segment"] == "SMB" and a["motion"] == "new_business"


def test_features_of_a_cut_deal_due_next_quarter(company: Store) -> None:
    f = row(load_timeline(company), "F")
    assert f["probability"] == 0.7  # the CRM's own probability wins over the stage default
    assert f["amount"] == 2400.0
    assert f["amount_cut"] == pytest.approx(0.2)  # 1 - 2,400 / 3,000
    assert f["amount_change"] == pytest.approx(-0.2)
    assert f["due_in_period"] == 0.0  # 10-15 is in Q4
    assert f["pushes"] == 0.0 and f["regressions"] == 0.0 and f["stage_changes"] == 0.0
    assert f["owner_win_rate"] == pytest.approx(6 / 11)  # u2: (1 + 5) / (1 + 10)
    assert f["activities"] == 0.0 and math.isnan(f["days_since_activity"])


def test_stage_time_against_the_median_of_finished_visits(
    company: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    timeline = load_timeline(company)
    # Fewer than 5 finished visits of Qualify: no median, no ratio.
    assert math.isnan(row(timeline, "A")["stage_time_ratio"])
    # Finished Qualify visits by 08-15: A's 06-01 -> 07-01 (30 days) alone.
    monkeypatch.setattr(timeline_module, "MIN_VISITS", 1)
    assert row(timeline, "A")["stage_time_ratio"] == pytest.approx(9.5 / 30)


def test_outcomes_bookings_and_arrivals(company: Store) -> None:
    timeline = load_timeline(company)
    snap = timeline.features(AT, Q3)
    end = datetime(2024, 9, 30, 23, 59, 59)
    done = timeline.outcomes(snap.deal, end, Q3)
    ids = snap.table.column("deal_id").to_pylist()
    assert dict(zip(ids, done.won.tolist(), strict=True)) == {"A": True, "F": True}
    assert dict(zip(ids, done.amount.tolist(), strict=True)) == {"A": 1400.0, "F": 2400.0}
    # Q3's bookings at its end: B 2,000 + A 1,400 + E 700 + F 2,400.
    assert timeline.bookings(end, Q3) == (6500.0, 4)
    forecaster = Forecaster(timeline, "quarter")
    assert forecaster.actual(Q3) == 6500.0
    # Arrivals: 6,500 - 2,000 won by 08-15 - 3,800 from A and F = 700 (E).
    assert forecaster.arrivals(Q3, AT) == 700.0


def test_stage_weighted_counts_only_deals_due_in_the_period(company: Store) -> None:
    forecaster = Forecaster(load_timeline(company), "quarter")
    result = forecaster.forecast(Q3, AT, methods=("stage_weighted",))
    weighted = result.methods["stage_weighted"]
    # 2,000 won + A 1,500 x 0.2 (F is due in Q4).
    assert weighted.forecast == pytest.approx(2300.0)
    assert weighted.open_part == pytest.approx(300.0)


def test_the_moment_must_be_a_datetime(company: Store) -> None:
    with pytest.raises(InputError, match="moment"):
        load_timeline(company).features(date(2024, 8, 15), Q3)  # type: ignore[arg-type]


def test_a_cut_history_reads_the_same_at_the_cut(company: Store) -> None:
    full = load_timeline(company).features(AT, Q3).table
    cut = load_timeline(company, until=AT).features(AT, Q3).table
    assert same_rows(full, cut) == {}


def same_rows(a: pa.Table, b: pa.Table) -> dict[str, tuple[list[Any], list[Any]]]:
    """The columns in which two tables differ (NaN equal to NaN); empty when none."""
    assert a.column_names == b.column_names

    def key(values: list[Any]) -> list[Any]:
        return ["NaN" if isinstance(v, float) and math.isnan(v) else v for v in values]

    return {
        name: (a.column(name).to_pylist(), b.column(name).to_pylist())
        for name in a.column_names
        if key(a.column(name).to_pylist()) != key(b.column(name).to_pylist())
    }


@pytest.fixture
def conversion_company(store: Store) -> Store:
    """Two earlier quarters to learn conversion from, and Q3 to forecast at 08-15 00:00
    (45 days in; the same point of Q2 is 05-16 00:00, of Q1 02-15 00:00).

    Q1 at 02-15: P1 Qualify 1,000 due 03-20 (won 03-10); P2 Qualify 3,000 due 05-20, not
    due in Q1 (lost 05-01). Q2 at 05-16: P3 Qualify 2,000 due 06-20 (lost 06-01); P4
    Proposal 500 due 06-25 (won 06-10 at 600). Q3 at 08-15: A Qualify 1,500 due 09-30;
    F Negotiate 2,400 due 10-15; B (created 05-01 in Proposal, 2,000, due 07-15) won 07-15.
    """
    insert(store, "accounts", [{"account_id": "a1", "segment": "SMB"}])
    insert(
        store,
        "deals",
        [{"deal_id": d, "account_id": "a1", "pipeline": "sales", "motion": "new_business"}
         for d in ("P1", "P2", "P3", "P4", "A", "F", "B")],
    )  # fmt: skip
    h = History(store)
    h("P1", noon("2024-01-10"), stage="Qualify", amount="1000", close_date="2024-03-20")
    h("P1", noon("2024-03-10"), stage="Closed Won", close_date="2024-03-10")
    h("P2", noon("2024-01-20"), stage="Qualify", amount="3000", close_date="2024-05-20")
    h("P2", noon("2024-05-01"), stage="Closed Lost")
    h("P3", noon("2024-04-10"), stage="Qualify", amount="2000", close_date="2024-06-20")
    h("P3", noon("2024-06-01"), stage="Closed Lost")
    h("P4", noon("2024-04-20"), stage="Proposal", amount="500", close_date="2024-06-25")
    h("P4", noon("2024-06-10"), stage="Closed Won", amount="600", close_date="2024-06-10")
    h("A", noon("2024-07-05"), stage="Qualify", amount="1500", close_date="2024-09-30")
    h("F", noon("2024-07-01"), stage="Negotiate", amount="2400", close_date="2024-10-15")
    h("B", noon("2024-05-01"), stage="Proposal", amount="2000", close_date="2024-07-15")
    h("B", noon("2024-07-15"), stage="Closed Won")
    h.write()
    return store


def test_conversion_learns_the_share_won_at_the_same_point(conversion_company: Store) -> None:
    forecaster = Forecaster(load_timeline(conversion_company), "quarter")
    result = forecaster.forecast(Q3, AT, methods=("last_period", "trailing_mean", "conversion"))
    conversion = result.methods["conversion"]
    # Open at Q1's point: P1 (Qualify, due), P2 (Qualify, not due); at Q2's: P3 (Qualify,
    # due), P4 (Proposal, due) and B (Proposal, due 07-15: not due in Q2). Learned, per
    # (stage, due in the period): (Qualify, due) 1,000 won of 1,000 + 2,000 open = 1/3;
    # (Qualify, not due) 0 of 3,000; (Proposal, due) 600 of 500 = 1.2; (Proposal, not due)
    # 0 of 2,000; overall 1,600 of 8,500. Q3: A (Qualify, due) 1,500 x 1/3 = 500; F
    # (Negotiate, not due) was never seen: 2,400 x 1,600 / 8,500. No arrivals in Q1 or Q2
    # (every booking came from a deal open at the point). Won by 08-15: B, 2,000.
    open_part = 500 + 2400 * 1600 / 8500
    assert conversion.open_part == pytest.approx(open_part)
    assert conversion.forecast == pytest.approx(2000 + open_part)
    assert result.arrivals == 0.0
    # The run rates read the completed quarters: Q1 1,000, Q2 600.
    assert result.methods["last_period"].forecast == 600.0
    assert result.methods["trailing_mean"].forecast is None  # 4 periods needed, 2 known


def test_too_little_history_says_so(company: Store) -> None:
    forecaster = Forecaster(load_timeline(company), "quarter")
    result = forecaster.forecast(Q3, AT)
    # Q2 (B was won in Q3; nothing else closed before) holds no booking: nothing to learn.
    for name in ("conversion", "deal_model"):
        assert result.methods[name].forecast is None
        assert "completed periods" in result.methods[name].note
    assert result.best.method == "last_period"


def monthly_company(store: Store, june_won: bool) -> Store:
    """One deal open at each month's start (00:00), Qualify, 1,000, due in that month,
    created on the 15th of the month before; no arrivals. March (month 3 of its quarter)
    won 1,000; April (month 1) won 250; May (month 2) lost; June (month 3) won 1,000 when
    ``june_won``, else lost; July (month 1) is forecast at its start."""
    months = ("03", "04", "05", "06", "07")
    insert(store, "accounts", [{"account_id": "a1", "segment": "SMB"}])
    insert(
        store,
        "deals",
        [{"deal_id": f"M{m}", "account_id": "a1", "pipeline": "sales", "motion": "new_business"}
         for m in months],
    )  # fmt: skip
    outcomes = {"03": "1000", "04": "250", "05": None, "06": "1000" if june_won else None}
    h = History(store)
    for m in months:
        before = f"2024-{int(m) - 1:02d}-15"
        h(f"M{m}", noon(before), stage="Qualify", amount="1000", close_date=f"2024-{m}-20")
        if m in outcomes:
            won = outcomes[m]
            closed = noon(f"2024-{m}-10")
            if won is None:
                h(f"M{m}", closed, stage="Closed Lost")
            else:
                h(f"M{m}", closed, stage="Closed Won", amount=won)
    h.write()
    return store


@pytest.mark.parametrize("june_won", [True, False])
def test_conversion_learns_from_the_season_that_forecast_better(
    store: Store, june_won: bool
) -> None:
    forecaster = Forecaster(load_timeline(monthly_company(store, june_won)), "month")
    july = Period.parse("2024-07")
    result = forecaster.forecast(july, datetime(2024, 7, 1), methods=("conversion",))
    conversion = result.methods["conversion"]
    # July learns from June, May, April, March at their starts. Only June can tell the two
    # choices apart (its own priors hold March, of its season, and April and May, of
    # others; May's and April's do not). June forecast from March alone: 1,000 x 1,000 /
    # 1,000 = 1,000; from all three: 1,000 x 1,250 / 3,000 = 416.67. June won 1,000: the
    # same season is nearer (0 against 583.33), and July learns from April alone: 1,000 x
    # 250 / 1,000. June lost: all are nearer (416.67 against 1,000), and July learns from
    # all four: 1,000 x 1,250 / 4,000.
    if june_won:
        assert conversion.open_part == pytest.approx(250.0)
        assert "the 1 month of the same season" in conversion.note
    else:
        assert conversion.open_part == pytest.approx(1000 * 1250 / 4000)
        assert "all forecast the last 1 month better" in conversion.note
    assert conversion.forecast == pytest.approx(conversion.open_part)


def test_conversion_without_a_period_to_test_bets_on_the_season(store: Store) -> None:
    forecaster = Forecaster(load_timeline(monthly_company(store, True)), "month")
    june = Period.parse("2024-06")
    result = forecaster.forecast(june, datetime(2024, 6, 1), methods=("conversion",))
    # June learns from May, April and March; neither May (its priors April and March) nor
    # April (March alone) can tell the choices apart, so June learns from March, of its
    # season: 1,000 x 1,000 / 1,000.
    assert result.methods["conversion"].open_part == pytest.approx(1000.0)
    assert "no earlier period yet tells" in result.methods["conversion"].note
