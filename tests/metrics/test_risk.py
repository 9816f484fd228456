"""Deal risks against hand-worked cases: every signal, its edges, and history cut at as_of.

The report's moment is Thursday 15 August 2024 at noon; ``ago(n)`` is n days before it. Each
test writes a few deals with their history (stage, amount and close-date changes) the way
an import would, so the expected signals can be read off the test itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from quarterdeck.errors import InputError
from quarterdeck.metrics.bookings import rows_of
from quarterdeck.metrics.risk import (
    SIGNALS,
    RiskReport,
    RiskSignal,
    deal_risks,
    pushes_and_peaks,
    stage_norms,
    won_stage_times,
)
from quarterdeck.settings import SETTINGS
from quarterdeck.store import Store

Rows = Callable[..., None]
Writer = Callable[[Store, str, list[dict[str, Any]]], None]

AS_OF = datetime(2024, 8, 15, 12, 0)
DEFAULTS = {key: s.default for key, s in SETTINGS.items()}
CLOSED = {"Closed Won": (True, True), "Closed Lost": (True, False)}
FUTURE = "2024-12-31"


def ago(days: int, hours: int = 0) -> datetime:
    return AS_OF - timedelta(days=days, hours=hours)


def later(days: int) -> datetime:
    return AS_OF + timedelta(days=days)


def settings(**changes: Any) -> dict[str, Any]:
    """The default settings with ``risk_pushes=1`` style changes (dots as underscores)."""
    values = dict(DEFAULTS)
    for key, value in changes.items():
        section, name = key.split("_", 1)
        values[f"{section}.{name}"] = value
    return values


@dataclass
class Book:
    """Deals and their history, written as an import would write them: a deals row with the
    latest state, an event for every value, activities. ``write(until=...)`` writes the
    store as it would have been at that moment instead."""

    deals: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)
    seq: count[int] = field(default_factory=lambda: count(1))

    def deal(
        self,
        deal_id: str,
        created: datetime,
        stage: str,
        amount: str | None,
        close: str,
        *,
        motion: str = "new_business",
        account: str | None = "a1",
        name: str | None = None,
    ) -> None:
        self.deals[deal_id] = {
            "deal_id": deal_id,
            "name": name,
            "owner_id": "u1",
            "account_id": account,
            "motion": motion,
            "created_at": created,
            "pipeline": "sales",
        }
        self.change(deal_id, created, "stage", stage)
        self.change(deal_id, created, "amount", amount)
        self.change(deal_id, created, "close_date", close)
        self.change(deal_id, created, "owner_id", "u1")

    def change(self, deal_id: str, at: datetime, field_name: str, value: str | None) -> None:
        before = [e for e in self.events if e["deal_id"] == deal_id and e["field"] == field_name]
        old = before[-1]["new_value"] if before else None
        if value is None and old is None:
            return
        self.events.append(
            {
                "deal_id": deal_id,
                "at": at,
                "field": field_name,
                "old_value": old,
                "new_value": value,
                "origin": "history",
                "seq": next(self.seq),
            }
        )

    def stages(self, deal_id: str, *moves: tuple[datetime, str]) -> None:
        for at, stage in moves:
            self.change(deal_id, at, "stage", stage)

    def activity(
        self, deal_id: str | None, at: datetime, kind: str = "call", who: str | None = None
    ) -> None:
        self.activities.append(
            {
                "activity_id": f"x{len(self.activities) + 1}",
                "deal_id": deal_id,
                "at": at,
                "kind": kind,
                "who": who,
            }
        )

    def state(self, deal_id: str, until: datetime | None) -> dict[str, Any]:
        row = dict(self.deals[deal_id])
        for e in self.events:
            if e["deal_id"] == deal_id and (until is None or e["at"] <= until):
                row[e["field"]] = e["new_value"]
        row["amount"] = None if row.get("amount") is None else Decimal(row["amount"])
        row["close_date"] = date.fromisoformat(row["close_date"])
        row["is_closed"], row["is_won"] = CLOSED.get(row.get("stage"), (False, False))
        return row

    def write(self, store: Store, put: Writer, until: datetime | None = None) -> None:
        def kept(at: datetime) -> bool:
            return until is None or at <= until

        deals = [self.state(d, until) for d, row in self.deals.items() if kept(row["created_at"])]
        put(store, "deals", deals)
        put(store, "deal_events", [e for e in self.events if kept(e["at"])])
        if self.activities:
            put(store, "activities", [a for a in self.activities if kept(a["at"])])


@pytest.fixture
def book() -> Book:
    return Book()


@pytest.fixture
def report(store: Store, book: Book, write: Writer) -> Callable[..., RiskReport]:
    """``report(**changes)`` writes the book into the test's store once and runs the report."""
    written: list[bool] = []

    def run(**changes: Any) -> RiskReport:
        if not written:
            book.write(store, write)
            written.append(True)
        return deal_risks(store, AS_OF, settings(**changes))

    return run


def flagged(result: RiskReport, kind: str) -> dict[str, RiskSignal]:
    """Deal id -> its signal of ``kind``, in the report's order."""
    return {d.deal_id: s for d in result.deals for s in d.signals if s.kind == kind}


def evidence(result: RiskReport, kind: str) -> dict[str, str]:
    return {deal_id: s.evidence for deal_id, s in flagged(result, kind).items()}


# -- an empty store, and what cannot be judged ------------------------------------------------


def test_empty_store(store: Store) -> None:
    result = deal_risks(store, AS_OF, DEFAULTS)
    assert (result.deals, result.accounts, result.count, result.value) == ((), (), 0, 0)
    assert [(s.kind, s.count, s.value) for s in result.by_signal] == [
        (kind, 0, Decimal("0.00")) for kind in SIGNALS
    ]
    # no activity and no contact role recorded: both signals skipped and said so
    assert [s.kind for s in result.by_signal if not s.judged] == ["quiet", "single_contact"]
    assert result.notes == (
        "quiet not judged: no activity on any deal is recorded by this date",
        "single_contact not judged: no buyer contact roles are recorded by this date",
    )
    assert set(result.expressions()) == {"deals", "stages"}
    assert all("deal_events" in store.sql(e) for e in result.expressions().values())
    with pytest.raises(InputError, match="unknown risk signal 'stale'"):
        result.signal("stale")


def test_as_of_must_be_a_moment(store: Store) -> None:
    with pytest.raises(InputError, match="as_of must be a moment"):
        deal_risks(store, date(2024, 8, 15), DEFAULTS)  # type: ignore[arg-type]


# -- past_close_date ------------------------------------------------------------------------


def test_past_close_date(book: Book, report: Callable[..., RiskReport]) -> None:
    book.deal("P1", ago(60), "Qualify", "100.00", "2024-08-14")  # yesterday: 1 day
    book.deal("P2", ago(60), "Qualify", "200.00", "2024-08-15")  # today: not past
    book.deal("P3", ago(60), "Qualify", "300.00", "2024-08-03")  # Aug 3 -> 15: 12 days
    book.deal("P4", ago(60), "Closed Won", "400.00", "2024-08-01")  # closed: not a risk
    book.deal("P5", ago(60), "Closed Lost", "500.00", "2024-08-01")
    result = report()
    assert evidence(result, "past_close_date") == {
        "P3": "close date 2024-08-03 passed 12 days ago",
        "P1": "close date 2024-08-14 passed 1 day ago",
    }
    assert flagged(result, "past_close_date")["P3"].value == 12
    assert [d.deal_id for d in result.deals] == ["P3", "P1"]  # 300 before 100


def test_open_deal_without_a_stage(book: Book, report: Callable[..., RiskReport]) -> None:
    book.deal("N1", ago(60), None, "100.00", "2024-08-01")  # type: ignore[arg-type]
    book.deal("N2", ago(60), "Qualify", "50.00", "2024-08-10")
    result = report()
    # both past their close date (14 and 5 days); no stage: never stalled, no note about it
    assert evidence(result, "past_close_date") == {
        "N1": "close date 2024-08-01 passed 14 days ago",
        "N2": "close date 2024-08-10 passed 5 days ago",
    }
    assert (result.deals[0].stage, flagged(result, "stalled")) == (None, {})
    assert not any("None" in note for note in result.notes)


# -- pushed ---------------------------------------------------------------------------------


@pytest.fixture
def pushes(book: Book) -> None:
    """U1 pushed twice (and pulled in once between); U2 once; U3 once by as_of and once
    after it."""
    for deal_id in ("U1", "U2", "U3"):
        book.deal(deal_id, datetime(2024, 6, 1), "Qualify", "1000.00", "2024-06-30")
    book.change("U1", datetime(2024, 6, 10), "close_date", "2024-07-31")  # push 1
    book.change("U1", datetime(2024, 7, 1), "close_date", "2024-07-15")  # pulled in
    book.change("U1", datetime(2024, 7, 20), "close_date", "2024-08-31")  # push 2
    book.change("U2", datetime(2024, 6, 10), "close_date", "2024-09-30")  # push 1
    book.change("U3", datetime(2024, 6, 10), "close_date", "2024-08-31")  # push 1
    book.change("U3", later(5), "close_date", "2024-09-30")  # after as_of: does not count


@pytest.mark.usefixtures("pushes")
def test_pushed_at_the_threshold_counts(report: Callable[..., RiskReport]) -> None:
    result = report()  # risk.pushes = 2: U1 has exactly 2, U2 and U3 one each
    assert evidence(result, "pushed") == {
        "U1": "close date pushed twice, from 2024-06-30 to 2024-08-31",
    }
    assert (flagged(result, "pushed")["U1"].value, flagged(result, "pushed")["U1"].threshold) == (
        2,
        2,
    )


@pytest.mark.usefixtures("pushes")
def test_pushed_threshold_from_settings(report: Callable[..., RiskReport]) -> None:
    result = report(risk_pushes=1)
    assert evidence(result, "pushed") == {
        "U1": "close date pushed twice, from 2024-06-30 to 2024-08-31",
        "U2": "close date pushed once, from 2024-06-30 to 2024-09-30",
        # the push after as_of is not known yet: once, and the close date of as_of
        "U3": "close date pushed once, from 2024-06-30 to 2024-08-31",
    }


# -- stalled --------------------------------------------------------------------------------


@pytest.fixture
def stalls(book: Book) -> None:
    """Five won deals passed through Proposal and Qualify, three through Prospect.

    Days in Proposal: W1 10, W2 20, W3 30, W4 40, W5 30 + 20 = 50 (it went back once).
    Sorted 10, 20, 30, 40, 50: shares 0.2, 0.4, 0.6, 0.8, 1.0, so 75% of won deals left
    Proposal within 40 days (the first share >= 0.75), and half within 30 days (0.6).
    Days in Qualify: W1-W3 40, W4 50, W5 50: 75% left within 50 days (0.6, 0.6, 0.6, 1.0),
    half within 40 days.
    Not counted: L1, lost after 290 days in Proposal, and W6, won only after as_of (with
    either counted, 75% of Proposal would be 50 days).
    """
    for i, days in enumerate((10, 20, 30), start=1):
        book.deal(f"W{i}", ago(200), "Prospect", "10.00", "2024-03-01")
        book.stages(f"W{i}", (ago(190), "Qualify"), (ago(150), "Proposal"))
        book.stages(f"W{i}", (ago(150 - days), "Closed Won"))
    book.deal("W4", ago(200), "Qualify", "10.00", "2024-03-01")
    book.stages("W4", (ago(150), "Proposal"), (ago(110), "Closed Won"))
    book.deal("W5", ago(200), "Qualify", "10.00", "2024-03-01")
    book.stages("W5", (ago(150), "Proposal"), (ago(120), "Negotiate"), (ago(110), "Proposal"))
    book.stages("W5", (ago(90), "Closed Won"))
    book.deal("L1", ago(300), "Proposal", "10.00", "2024-03-01")
    book.stages("L1", (ago(10), "Closed Lost"))
    book.deal("W6", ago(150), "Proposal", "900.00", FUTURE)
    book.stages("W6", (later(5), "Closed Won"))  # open at as_of, 150 days in Proposal

    book.deal("S1", ago(100), "Qualify", "610.00", FUTURE)
    book.stages("S1", (ago(40), "Proposal"))  # exactly 40 days: not longer
    book.deal("S2", ago(100), "Qualify", "600.00", FUTURE)
    book.stages("S2", (ago(41), "Proposal"))  # 41 days
    book.deal("S3", ago(100), "Proposal", "700.00", FUTURE)
    book.stages("S3", (ago(90), "Negotiate"), (ago(45), "Proposal"))  # back: 45, not 100
    book.deal("S4", ago(100), "Proposal", "650.00", FUTURE)
    book.stages("S4", (ago(90), "Negotiate"), (ago(10), "Proposal"))  # back: 10 days
    book.deal("R1", ago(120), "Proposal", "800.00", FUTURE)
    book.stages("R1", (ago(60), "Closed Lost"), (ago(50), "Proposal"))  # reopened 50 days ago
    book.deal("S6", ago(300), "Prospect", "550.00", FUTURE)  # Prospect: only 3 won deals
    book.deal("S7", ago(51), "Qualify", "500.00", FUTURE)  # 51 days
    book.deal("S8", ago(50), "Qualify", "450.00", FUTURE)  # exactly 50 days


@pytest.mark.usefixtures("stalls")
def test_stalled_against_won_deals(report: Callable[..., RiskReport]) -> None:
    result = report()
    assert evidence(result, "stalled") == {
        "W6": "in Proposal 150 days; 75% of won deals left it within 40 days",
        "R1": "in Proposal 50 days; 75% of won deals left it within 40 days",
        "S3": "in Proposal 45 days; 75% of won deals left it within 40 days",
        "S2": "in Proposal 41 days; 75% of won deals left it within 40 days",
        "S7": "in Qualify 51 days; 75% of won deals left it within 50 days",
    }
    signal = flagged(result, "stalled")["S2"]
    assert (signal.value, signal.threshold) == (41, 40)
    # won and lost deals are not open, so never flagged
    assert [d.deal_id for d in result.deals] == ["W6", "R1", "S3", "S2", "S7"]
    assert (
        "stalled not judged in Prospect: 3 won deals passed through it (5 needed); "
        "1 open deal there"
    ) in result.notes


@pytest.mark.usefixtures("stalls")
def test_stalled_quantile_from_settings(report: Callable[..., RiskReport]) -> None:
    result = report(risk_stalled_quantile=0.5)  # Proposal 30 days, Qualify 40 days
    assert list(flagged(result, "stalled")) == ["W6", "R1", "S3", "S1", "S2", "S7", "S8"]
    assert evidence(result, "stalled")["S1"] == (
        "in Proposal 40 days; 50% of won deals left it within 30 days"
    )
    # 0.6 is exactly the share of won deals out of Proposal by 30 days and out of Qualify by
    # 40 days: "at least that share" takes those days
    assert evidence(report(risk_stalled_quantile=0.6), "stalled") == {
        "W6": "in Proposal 150 days; 60% of won deals left it within 30 days",
        "R1": "in Proposal 50 days; 60% of won deals left it within 30 days",
        "S3": "in Proposal 45 days; 60% of won deals left it within 30 days",
        "S1": "in Proposal 40 days; 60% of won deals left it within 30 days",
        "S2": "in Proposal 41 days; 60% of won deals left it within 30 days",
        "S7": "in Qualify 51 days; 60% of won deals left it within 40 days",
        "S8": "in Qualify 50 days; 60% of won deals left it within 40 days",
    }


def test_stalled_needs_five_won_deals(book: Book, report: Callable[..., RiskReport]) -> None:
    for i in range(1, 5):  # four won deals, 10 days each in Proposal
        book.deal(f"W{i}", ago(100), "Proposal", "10.00", "2024-03-01")
        book.stages(f"W{i}", (ago(90), "Closed Won"))
    book.deal("S", ago(300), "Proposal", "100.00", FUTURE)  # 300 days, but no norm
    result = report()
    assert flagged(result, "stalled") == {}
    assert (
        "stalled not judged in Proposal: 4 won deals passed through it (5 needed); "
        "1 open deal there"
    ) in result.notes


@pytest.mark.usefixtures("stalls")
def test_won_stage_times_and_norms_in_the_engine(store: Store, book: Book, write: Writer) -> None:
    """The engine's definition of the norms, which the report reads in memory."""
    book.write(store, write)
    times = {
        (r["stage"], r["deal_id"]): r["seconds"]
        for r in rows_of(store, won_stage_times(store, AS_OF))
    }
    day = 86_400
    assert times[("Proposal", "W5")] == (30 + 20) * day  # two visits, summed
    assert times[("Prospect", "W1")] == (200 - 190) * day
    assert times[("Negotiate", "W5")] == (120 - 110) * day
    # W6 is won only after as_of and L1 was lost; a won deal's last stage has no end
    assert {deal for _, deal in times} == {"W1", "W2", "W3", "W4", "W5"}
    assert {stage for stage, _ in times} == {"Prospect", "Qualify", "Proposal", "Negotiate"}
    only = rows_of(store, won_stage_times(store, AS_OF, ["Proposal"]))
    assert sorted((r["deal_id"], r["seconds"] // day) for r in only) == [
        ("W1", 10), ("W2", 20), ("W3", 30), ("W4", 40), ("W5", 50),
    ]  # fmt: skip
    assert rows_of(store, won_stage_times(store, AS_OF, [])) == []

    def norms(quantile: float) -> dict[str, tuple[int, int]]:
        rows = rows_of(store, stage_norms(won_stage_times(store, AS_OF), quantile))
        return {r["stage"]: (r["won_deals"], r["limit_days"]) for r in rows}

    # Proposal 10, 20, 30, 40, 50; Qualify 40, 40, 40, 50, 50; Prospect 10, 10, 10;
    # Negotiate 10 (W5 alone)
    assert norms(0.75) == {
        "Prospect": (3, 10), "Qualify": (5, 50), "Proposal": (5, 40), "Negotiate": (1, 10),
    }  # fmt: skip
    assert norms(0.5)["Proposal"] == (5, 30)  # shares 0.2, 0.4, 0.6: first >= 0.5 at 30
    assert norms(0.6)["Qualify"] == (5, 40)  # exactly 0.6 at 40 days
    assert norms(0.2)["Proposal"] == (5, 10)


def test_stage_changes_at_the_same_moment_follow_seq(
    store: Store, book: Book, write: Writer, report: Callable[..., RiskReport]
) -> None:
    """T1 leaves Proposal for Negotiate and comes back to it in the same second (Negotiate
    is recorded first, by seq): 0 days in Negotiate, and 50 + 10 = 60 days in Proposal.
    Read in the other order it would be 50 days in Proposal and 10 in Negotiate."""
    book.deal("T1", ago(100), "Proposal", "10.00", "2024-03-01")
    book.stages("T1", (ago(50), "Negotiate"), (ago(50), "Proposal"), (ago(40), "Closed Won"))
    for i in range(2, 6):  # four more won deals, 10 days each in Proposal
        book.deal(f"T{i}", ago(100), "Proposal", "10.00", "2024-03-01")
        book.stages(f"T{i}", (ago(90), "Closed Won"))
    book.deal("O1", ago(61), "Proposal", "100.00", FUTURE)  # 61 days
    book.deal("O2", ago(60), "Proposal", "90.00", FUTURE)  # exactly 60: not stalled
    result = report(risk_stalled_quantile=1.0)  # all won deals: the longest, 60 days
    assert evidence(result, "stalled") == {
        "O1": "in Proposal 61 days; 100% of won deals left it within 60 days",
    }
    engine = rows_of(store, stage_norms(won_stage_times(store, AS_OF), 1.0))
    assert {r["stage"]: (r["won_deals"], r["limit_days"]) for r in engine} == {
        "Proposal": (5, 60), "Negotiate": (1, 0),
    }  # fmt: skip


# -- amount_cut -----------------------------------------------------------------------------


@pytest.fixture
def cuts(book: Book) -> None:
    for deal_id, first in (("C1", "1000.00"), ("C2", "1000.00"), ("C3", "500.00")):
        book.deal(deal_id, ago(60), "Qualify", first, FUTURE)
    book.deal("C4", ago(60), "Qualify", "500.00", FUTURE)
    book.deal("C5", ago(60), "Qualify", "1000.00", FUTURE)
    book.change("C1", ago(30), "amount", "800.00")  # (1000 - 800) / 1000 = 20%: counts
    book.change("C2", ago(30), "amount", "800.01")  # 199.99 / 1000 = 19.999%: does not
    book.change("C3", ago(40), "amount", "1000.00")  # grew, then
    book.change("C3", ago(30), "amount", "600.00")  # (1000 - 600) / 1000 = 40%
    book.change("C4", ago(30), "amount", "700.00")  # grew only
    book.change("C5", later(5), "amount", "500.00")  # cut after as_of: not yet


@pytest.mark.usefixtures("cuts")
def test_amount_cut_at_the_threshold_counts(report: Callable[..., RiskReport]) -> None:
    result = report()
    assert evidence(result, "amount_cut") == {
        "C1": "amount cut from 1,000.00 to 800.00 (20% below its highest)",
        "C3": "amount cut from 1,000.00 to 600.00 (40% below its highest)",
    }
    assert flagged(result, "amount_cut")["C1"].value == Decimal("0.2")
    assert [d.deal_id for d in result.deals] == ["C1", "C3"]  # 800 before 600


@pytest.mark.usefixtures("cuts")
def test_amount_cut_from_settings(report: Callable[..., RiskReport]) -> None:
    assert list(flagged(report(risk_amount_cut=0.4), "amount_cut")) == ["C3"]  # 40% exactly


@pytest.mark.usefixtures("pushes", "cuts")
def test_pushes_and_peaks_in_one_pass(store: Store, book: Book, write: Writer) -> None:
    book.write(store, write)
    rows = {r["deal_id"]: r for r in rows_of(store, pushes_and_peaks(store, AS_OF))}
    # U1: pushed on Jun 10 and Jul 20 (pulled in between); first from 2024-06-30
    assert (rows["U1"]["pushes"], rows["U1"]["pushed_from"]) == (2, date(2024, 6, 30))
    assert (rows["U3"]["pushes"], rows["U1"]["peak_amount"]) == (1, Decimal("1000.00"))
    # C3: 500 -> 1,000 -> 600, never pushed; C5's cut comes after as_of
    assert (rows["C3"]["pushes"], rows["C3"]["pushed_from"]) == (0, None)
    assert rows["C3"]["peak_amount"] == Decimal("1000.00")
    assert rows["C5"]["peak_amount"] == Decimal("1000.00")


# -- quiet ----------------------------------------------------------------------------------


@pytest.fixture
def quiet(book: Book) -> None:
    """Last activities against 14 quiet days (no activity in (as_of - 14 days, as_of])."""
    for deal_id, created in (("Q1", 60), ("Q2", 60), ("Q3", 30), ("Q4", 10), ("Q5", 60)):
        book.deal(deal_id, ago(created), "Qualify", f"{created}0.00", FUTURE)
    book.deal("Q6", ago(14), "Qualify", "1.00", FUTURE)
    book.activity("Q1", ago(60))
    book.activity("Q1", ago(14))  # exactly 14 days ago: quiet
    book.activity("Q2", ago(13, hours=23))  # just inside the 14 days: not quiet
    # Q3 (30 days old) and Q6 (exactly 14 days old) never had an activity: quiet since
    # creation; Q4 is 10 days old: too young to be quiet
    book.activity("Q5", ago(20), kind="email")
    book.activity("Q5", later(1))  # after as_of: not known yet
    book.activity(None, ago(1))  # an account-level activity belongs to no deal
    book.deal("Q7", ago(10), "Qualify", "2.00", FUTURE)
    book.activity("Q7", ago(20))  # logged before the deal was created: still too young


@pytest.mark.usefixtures("quiet")
def test_quiet_at_the_threshold_counts(report: Callable[..., RiskReport]) -> None:
    result = report()
    assert evidence(result, "quiet") == {
        "Q1": "no activity for 14 days (last on 2024-08-01)",
        "Q5": "no activity for 20 days (last on 2024-07-26)",
        "Q3": "no activity since it was created 30 days ago",
        "Q6": "no activity since it was created 14 days ago",
    }
    assert result.signal("quiet").judged
    assert "quiet not judged: no activity on any deal is recorded by this date" not in result.notes


@pytest.mark.usefixtures("quiet")
def test_quiet_days_from_settings(report: Callable[..., RiskReport]) -> None:
    assert evidence(report(risk_quiet_days=21), "quiet") == {
        "Q3": "no activity since it was created 30 days ago",
    }


def test_no_activities_skips_quiet(book: Book, report: Callable[..., RiskReport]) -> None:
    book.deal("Q", ago(300), "Qualify", "100.00", FUTURE)
    book.activity("Q", later(1))  # only after as_of: nothing was recorded by then
    book.activity(None, ago(1))  # on the account, not on a deal
    result = report()
    assert result.deals == ()
    assert not result.signal("quiet").judged
    assert "quiet not judged: no activity on any deal is recorded by this date" in result.notes


# -- single_contact -------------------------------------------------------------------------


@pytest.fixture
def contacts(book: Book) -> None:
    """Young deals (5 days old: never quiet) and their buyer contacts."""
    for i, deal_id in enumerate(("K1", "K2", "K3", "K4", "K5"), start=1):
        book.deal(deal_id, ago(5), "Qualify", f"{i}00.00", FUTURE)
    book.activity("K1", ago(4), "contact_role", "c1")
    book.activity("K1", ago(3), "contact_role", "c1")  # the same person again: 1
    book.activity("K2", ago(4), "contact_role", "c1")
    book.activity("K2", ago(4), "contact_role", "c2")  # 2
    book.activity("K3", ago(4), "meeting", "c9")  # a meeting is no contact role: 0
    book.activity("K4", ago(4), "contact_role", "c1")
    book.activity("K4", later(1), "contact_role", "c2")  # after as_of: 1
    book.activity("K5", ago(4), "contact_role", "c1")
    book.activity("K5", AS_OF, "contact_role", "c2")  # at as_of: 2


@pytest.mark.usefixtures("contacts")
def test_single_contact(report: Callable[..., RiskReport]) -> None:
    result = report()  # risk.min_contacts = 2
    assert evidence(result, "single_contact") == {
        "K4": "1 buyer contact involved (2 wanted)",
        "K3": "no buyer contact involved (2 wanted)",
        "K1": "1 buyer contact involved (2 wanted)",
    }
    assert flagged(result, "quiet") == {}


@pytest.mark.usefixtures("contacts")
def test_min_contacts_from_settings(report: Callable[..., RiskReport]) -> None:
    assert list(flagged(report(risk_min_contacts=1), "single_contact")) == ["K3"]
    assert list(flagged(report(risk_min_contacts=3), "single_contact")) == [
        "K5",
        "K4",
        "K3",
        "K2",
        "K1",
    ]


def test_no_contact_roles_skips_single_contact(
    book: Book, report: Callable[..., RiskReport]
) -> None:
    book.deal("K", ago(5), "Qualify", "100.00", FUTURE)
    book.activity("K", ago(1), "call")
    result = report()
    assert result.deals == ()
    assert result.signal("quiet").judged
    assert not result.signal("single_contact").judged
    assert result.notes[0] == (
        "single_contact not judged: no buyer contact roles are recorded by this date"
    )


# -- churn ----------------------------------------------------------------------------------


@pytest.fixture
def churn(book: Book) -> None:
    """Open renewals and what happened to their accounts.

    365 days before 2024-08-15 is 2023-08-16 (2024 is a leap year), so a lost deal counts
    with a close date from 2023-08-17 to 2024-08-15.
    """

    def renewal(deal_id: str, account: str, amount: str = "3000.00") -> None:
        book.deal(deal_id, ago(30), "Qualify", amount, FUTURE, motion="renewal", account=account)

    renewal("N1", "X")  # X lost an expansion on 2024-05-07
    book.deal(
        "L1",
        ago(200),
        "Closed Lost",
        "50.00",
        "2024-05-07",
        motion="expansion",
        account="X",
        name="X upsell",
    )
    renewal("N2", "Y")  # an expansion of Y was cut by exactly 20% 30 days ago
    book.deal("EY", ago(100), "Qualify", "1000.00", FUTURE, motion="expansion", account="Y")
    book.change("EY", ago(30), "amount", "800.00")
    renewal("N3", "Z")  # Z lost a renewal 364 days ago; its lost new business does not count
    book.deal("LZ", ago(500), "Closed Lost", "50.00", "2023-08-17", motion="renewal", account="Z")
    book.deal("ZN", ago(100), "Closed Lost", "50.00", "2024-08-01", account="Z")
    renewal("N4", "Y2")  # Y2 lost a renewal exactly 365 days ago: out of the window
    book.deal("LY", ago(500), "Closed Lost", "50.00", "2023-08-16", motion="renewal", account="Y2")
    book.deal("NW", ago(30), "Qualify", "3000.00", FUTURE, account="W")  # not a renewal
    book.deal("LW", ago(100), "Closed Lost", "50.00", "2024-08-01", motion="expansion", account="W")
    renewal("N5", "V", "3500.00")  # the other renewal of V, N6, was cut by 30%
    renewal("N6", "V", "1000.00")
    book.change("N6", ago(10), "amount", "700.00")
    renewal("N7", "U")  # U's expansion was cut 400 days ago: too long ago
    book.deal("EU", ago(500), "Qualify", "1000.00", FUTURE, motion="expansion", account="U")
    book.change("EU", ago(400), "amount", "500.00")
    renewal("N8", "T")  # T's expansion was cut in two steps: 1,000 -> 900 -> 780, 22% below
    book.deal("ET", ago(100), "Qualify", "1000.00", FUTURE, motion="expansion", account="T")
    book.change("ET", ago(50), "amount", "900.00")  # 10%
    book.change("ET", ago(20), "amount", "780.00")  # 13.3% of 900, but 22% of the highest


@pytest.mark.usefixtures("churn")
def test_churn(report: Callable[..., RiskReport]) -> None:
    result = report()
    assert evidence(result, "churn") == {
        "N5": "account churn in the last 365 days: renewal N6 cut from 1,000.00 to 700.00 "
        "(30%) on 2024-08-05",
        "N1": "account churn in the last 365 days: expansion L1 (X upsell) lost on 2024-05-07",
        "N2": "account churn in the last 365 days: expansion EY cut from 1,000.00 to 800.00 "
        "(20%) on 2024-07-16",
        "N3": "account churn in the last 365 days: renewal LZ lost on 2023-08-17",
        "N8": "account churn in the last 365 days: expansion ET cut from 1,000.00 to 780.00 "
        "(22%) on 2024-07-26",
    }
    assert flagged(result, "churn")["N1"].related == ("L1",)
    # N6's own cut is its amount_cut, not churn
    assert [s.kind for d in result.deals if d.deal_id == "N6" for s in d.signals] == ["amount_cut"]


@pytest.mark.usefixtures("churn")
def test_churn_days_from_settings(report: Callable[..., RiskReport]) -> None:
    # 100 days before 2024-08-15 is 2024-05-07: L1's loss on that day no longer counts
    assert list(flagged(report(risk_churn_days=100), "churn")) == ["N5", "N2", "N8"]


# -- ranking, accounts, summaries -----------------------------------------------------------


@pytest.fixture
def ranking(book: Book, put: Rows) -> None:
    put("accounts", {"account_id": "a1", "name": "Acme"}, {"account_id": "a2", "name": "Beta"})
    book.deal("D1", ago(60), "Qualify", "500.00", "2024-08-01", account="a1")
    book.deal("D2", ago(60), "Qualify", "2000.00", "2024-06-30", account="a2")
    book.change("D2", ago(50), "close_date", "2024-07-15")
    book.change("D2", ago(40), "close_date", "2024-08-01")  # pushed twice, and past
    book.deal("D3", ago(60), "Qualify", "1800.00", "2024-08-01", account="a1")
    book.deal("D4", ago(60), "Qualify", None, "2024-08-01", account="a2")  # no amount: last
    book.deal("D5", ago(60), "Qualify", "900.00", FUTURE, account="a1")  # no signal
    book.deal("D6", ago(60), "Qualify", "100.00", "2024-08-01", account="a3")  # unnamed


@pytest.mark.usefixtures("ranking")
def test_ranking_accounts_and_summary(report: Callable[..., RiskReport]) -> None:
    result = report()
    assert [(d.deal_id, d.value_at_risk) for d in result.deals] == [
        ("D2", Decimal("2000.00")),
        ("D3", Decimal("1800.00")),
        ("D1", Decimal("500.00")),
        ("D6", Decimal("100.00")),
        ("D4", Decimal("0.00")),
    ]
    assert result.deals[0].kinds == ("past_close_date", "pushed")
    d2 = result.deals[0]
    assert (d2.name, d2.owner_id, d2.account_id, d2.stage, d2.amount, d2.close_date) == (
        None,
        "u1",
        "a2",
        "Qualify",
        Decimal("2000.00"),
        date(2024, 8, 1),
    )
    # Acme: 1,800 + 500 = 2,300; Beta: 2,000 + nothing = 2,000; a3: 100
    assert [(a.account_id, a.name, a.deal_ids, a.value) for a in result.accounts] == [
        ("a1", "Acme", ("D3", "D1"), Decimal("2300.00")),
        ("a2", "Beta", ("D2", "D4"), Decimal("2000.00")),
        ("a3", None, ("D6",), Decimal("100.00")),
    ]
    past = result.signal("past_close_date")  # 2,000 + 1,800 + 500 + 100 + 0 = 4,400
    assert (past.count, past.value) == (5, Decimal("4400.00"))
    assert past.deal_ids == ("D2", "D3", "D1", "D6", "D4")
    pushed = result.signal("pushed")
    assert (pushed.count, pushed.value, pushed.deal_ids) == (1, Decimal("2000.00"), ("D2",))
    assert (result.count, result.value) == (5, Decimal("4400.00"))  # D2 counted once


@pytest.mark.usefixtures("ranking")
def test_deals_and_accounts_read_like_tuples(report: Callable[..., RiskReport]) -> None:
    """The flagged deals (D2 2,000, D3 1,800, D1 500, D6 100, D4 none) and accounts (a1, a2,
    a3) are made into objects as they are read; they index, slice and compare as tuples."""
    result = report()
    assert (result.count, len(result.deals), len(result.accounts)) == (5, 5, 3)
    assert result.value == Decimal("4400.00")  # 2,000 + 1,800 + 500 + 100
    assert (result.deals[0].deal_id, result.deals[-1].deal_id) == ("D2", "D4")
    assert [d.deal_id for d in result.deals[1:3]] == ["D3", "D1"]
    assert [d.deal_id for d in result.deals[::2]] == ["D2", "D1", "D4"]
    assert result.deals[:2][1].signals == result.deals[1].signals
    with pytest.raises(IndexError):
        result.deals[5]
    assert (result.accounts[0].account_id, result.accounts[-1].account_id) == ("a1", "a3")
    assert result.accounts[:1][0].deal_ids == ("D3", "D1")
    whole = tuple(result.deals)
    assert result.deals == whole and whole == result.deals
    assert [d.deal_id for d in reversed(result.deals)] == ["D4", "D6", "D1", "D3", "D2"]
    assert result.deals[1:3] == whole[1:3]
    assert result.deals != whole[:4]


# -- history after as_of changes nothing ----------------------------------------------------


@pytest.mark.usefixtures("stalls", "pushes", "cuts", "quiet", "contacts", "churn")
def test_truncated_history_gives_the_same_report(
    store: Store, book: Book, write: Writer, make_store: Callable[[], Store]
) -> None:
    # After as_of: U3 pushed again, C5 cut, W6 won, activities of Q5 and K4; and more:
    book.change("S2", later(1), "stage", "Closed Lost")
    book.change("N1", later(2), "stage", "Closed Won")
    book.change("EY", later(3), "amount", "100.00")
    book.deal("NEW", later(4), "Qualify", "99999.00", "2024-08-01", motion="renewal", account="X")
    book.activity("Q1", later(1))
    book.deal("PAST", ago(30), "Qualify", "10.00", "2024-08-10")
    book.change("PAST", later(1), "close_date", "2024-09-30")
    book.write(store, write)
    cut = make_store()
    book.write(cut, write, until=AS_OF)
    full, truncated = deal_risks(store, AS_OF, DEFAULTS), deal_risks(cut, AS_OF, DEFAULTS)
    assert full == truncated
    kinds = {s.kind for d in full.deals for s in d.signals}
    assert kinds == set(SIGNALS)  # every signal shows, so the comparison says something
    assert "S2" in flagged(full, "stalled") and "N1" in flagged(full, "churn")
    cut.close()
