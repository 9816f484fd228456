"""The "next quarter" ledger: slip counts, promises and promise keeping, worked out by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quarterdeck.errors import InputError
from quarterdeck.metrics import pipeline_by_stage
from quarterdeck.metrics.slips import (
    OwnerPromise,
    PeriodPromise,
    PromisedDeal,
    SlipLedger,
    slip_ledger,
)
from quarterdeck.metrics.slips import _ordinal as ordinal
from quarterdeck.periods import Period
from quarterdeck.store import Store

Rows = Callable[..., None]
DealFactory = Callable[..., dict[str, Any]]

Q1, Q2, Q3 = (Period.parse(f"2024-Q{q}") for q in (1, 2, 3))
AS_OF = datetime(2024, 8, 15, 12)  # in Q3 2024


def D(text: str) -> date:
    return date.fromisoformat(text)


def slipped(ledger: SlipLedger) -> list[tuple[str, int, str | None, str | None]]:
    return [
        (
            d.deal_id,
            d.slips,
            d.first_period.label if d.first_period else None,
            d.current_period.label if d.current_period else None,
        )
        for d in ledger.deals
    ]


def outcomes(promise: PeriodPromise) -> dict[str, str]:
    return {d.deal_id: d.outcome for d in promise.deals}


# -- slip counts ----------------------------------------------------------------------------------


@pytest.fixture
def slips(put: Rows, deal: DealFactory, history: Rows) -> None:
    """Close-date histories, as of Aug 15 2024 (Q3):

    S2  due Mar 20 (Q1); Mar 25 -> May 15 (Q2, slip); Jun 20 -> Jun 28 (same quarter);
        Jun 29 -> Sep 10 (Q3, slip): 2 slips. Open, 1,000.
    X   due Sep 1 (Q3); Jul 10 -> Oct 5 (Q4, slip); Jul 20 -> Sep 15 (back, no slip);
        Aug 1 -> Nov 1 (Q4, slip): 2 slips. Open, 200.
    S1  due Jun 15 (Q2); Jun 10 -> Jul 25 (Q3, slip): 1 slip. Open, 3,000.
    R   due Mar 15 (Q1), lost Mar 1, reopened Apr 5 due May 20 (Q2, slip), then May 25 ->
        May 28 (same quarter): 1 slip. Open, 700, due in the past.
    S1b due Jun 30 (Q2); Jul 1 -> Jul 2 (Q3: one day, but a later quarter): 1 slip. 500.
    S0  due Aug 1; Jul 20 -> Sep 25 (same quarter): no slip.
    P   due Dec 15 (Q4); Jul 10 -> Sep 1 (Q3, earlier): no slip.
    W   due Mar 31; Mar 30 -> Apr 10 (slip), won Apr 10: not open, not listed.
    Y   due Aug 30; moved to Oct 10 on Aug 20, after as_of: no slip yet.
    """
    rows = {
        "S2": ("open", "1000.00", "2024-09-10"),
        "X": ("open", "200.00", "2024-11-01"),
        "S1": ("open", "3000.00", "2024-07-25"),
        "R": ("open", "700.00", "2024-05-28"),
        "S1b": ("open", "500.00", "2024-07-02"),
        "S0": ("open", "50.00", "2024-09-25"),
        "P": ("open", "60.00", "2024-09-01"),
        "W": ("won", "70.00", "2024-04-10"),
        "Y": ("open", "80.00", "2024-10-10"),
    }
    put(
        "deals",
        *[
            deal(d, outcome, amount, D(close), stage="Proposal" if outcome == "open" else None)
            | {"name": f"Deal {d}"}
            for d, (outcome, amount, close) in rows.items()
        ],
    )

    def born(deal_id: str, when: date, close: str, stage: str = "Proposal") -> None:
        amount = rows[deal_id][1]
        history(deal_id, when, stage=stage, amount=amount, close_date=close, owner_id="u1")

    born("S2", D("2024-01-10"), "2024-03-20")
    history("S2", D("2024-03-25"), close_date="2024-05-15")
    history("S2", D("2024-06-20"), close_date="2024-06-28")
    history("S2", D("2024-06-29"), close_date="2024-09-10")
    born("X", D("2024-07-01"), "2024-09-01")
    history("X", D("2024-07-10"), close_date="2024-10-05")
    history("X", D("2024-07-20"), close_date="2024-09-15")
    history("X", D("2024-08-01"), close_date="2024-11-01")
    born("S1", D("2024-04-01"), "2024-06-15")
    history("S1", D("2024-06-10"), close_date="2024-07-25")
    born("R", D("2024-01-05"), "2024-03-15")
    history("R", D("2024-03-01"), stage="Closed Lost")
    history("R", D("2024-04-05"), stage="Proposal", close_date="2024-05-20")
    history("R", D("2024-05-25"), close_date="2024-05-28")
    born("S1b", D("2024-05-01"), "2024-06-30")
    history("S1b", D("2024-07-01"), close_date="2024-07-02")
    born("S0", D("2024-07-02"), "2024-08-01")
    history("S0", D("2024-07-20"), close_date="2024-09-25")
    born("P", D("2024-05-01"), "2024-12-15")
    history("P", D("2024-07-10"), close_date="2024-09-01")
    born("W", D("2024-02-01"), "2024-03-31")
    history("W", D("2024-03-30"), close_date="2024-04-10")
    history("W", D("2024-04-10"), stage="Closed Won")
    born("Y", D("2024-07-01"), "2024-08-30")
    history("Y", D("2024-08-20"), close_date="2024-10-10")


@pytest.mark.usefixtures("slips")
def test_slip_counts_by_hand(store: Store) -> None:
    ledger = slip_ledger(store, AS_OF, Q3)
    # Most slips first, then the largest amount: S2 (2, 1,000), X (2, 200), S1 (1, 3,000),
    # R (1, 700), S1b (1, 500); S0, P, Y never slipped by Aug 15, W is won.
    assert slipped(ledger) == [
        ("S2", 2, "2024-Q1", "2024-Q3"),
        ("X", 2, "2024-Q3", "2024-Q4"),
        ("S1", 1, "2024-Q2", "2024-Q3"),
        ("R", 1, "2024-Q1", "2024-Q2"),
        ("S1b", 1, "2024-Q2", "2024-Q3"),
    ]
    first = ledger.deals[0]
    assert (first.name, first.owner_id, first.stage) == ("Deal S2", "u1", "Proposal")
    assert (first.amount, first.close_date) == (Decimal("1000.00"), D("2024-09-10"))


@pytest.mark.usefixtures("slips")
def test_slips_count_up_to_as_of(store: Store) -> None:
    # On Jul 15: S2 has both its slips; X one (Jul 10); S1 (Jun 10) and S1b (Jul 1) one;
    # R one (and R was open then too). Y's move (Aug 20) and X's second (Aug 1) are later.
    ledger = slip_ledger(store, datetime(2024, 7, 15), Q3)
    assert [(d.deal_id, d.slips) for d in ledger.deals] == [
        ("S2", 2),
        ("S1", 1),
        ("R", 1),
        ("S1b", 1),
        ("X", 1),
    ]


@pytest.mark.usefixtures("slips")
def test_slips_follow_the_fiscal_quarters(store: Store) -> None:
    # Fiscal years starting in February (FY2025 = Feb 2024 .. Jan 2025): quarters Feb-Apr,
    # May-Jul, Aug-Oct, Nov-Jan.
    # S2: Mar 20 (Feb-Apr) -> May 15 (May-Jul, slip) -> Jun 28 -> Sep 10 (Aug-Oct, slip): 2
    # X: Sep 1 -> Oct 5 (same) -> Sep 15 -> Nov 1 (Nov-Jan, slip): 1
    # S1: Jun 15 -> Jul 25, both May-Jul: 0. S1b: Jun 30 -> Jul 2: 0.
    # R: Mar 15 (Feb-Apr) -> May 20 (May-Jul, slip) -> May 28: 1
    # S0: Aug 1 -> Sep 25 (both Aug-Oct): 0. P: Dec 15 -> Sep 1: earlier, 0.
    fiscal_q3 = Period.parse("FY2025-Q3", fiscal_year_start_month=2)
    assert (fiscal_q3.start, fiscal_q3.end) == (D("2024-08-01"), D("2024-10-31"))
    ledger = slip_ledger(store, AS_OF, fiscal_q3)
    assert slipped(ledger) == [
        ("S2", 2, "FY2025-Q1", "FY2025-Q3"),
        ("R", 1, "FY2025-Q1", "FY2025-Q2"),
        ("X", 1, "FY2025-Q3", "FY2025-Q4"),
    ]


@pytest.mark.usefixtures("slips")
def test_slips_by_month(store: Store) -> None:
    # Months: S2 Mar -> May -> Jun -> Sep: 3. X Sep -> Oct -> Sep -> Nov: 2. S1 Jun -> Jul: 1.
    # R Mar -> May -> May: 1. S1b Jun -> Jul: 1. S0 Aug -> Sep: 1. P Dec -> Sep: 0.
    ledger = slip_ledger(store, AS_OF, Period.parse("2024-08"), periods_back=0)
    assert [(d.deal_id, d.slips) for d in ledger.deals] == [
        ("S2", 3),
        ("X", 2),
        ("S1", 1),
        ("R", 1),
        ("S1b", 1),
        ("S0", 1),
    ]


def test_no_slips(store: Store) -> None:
    ledger = slip_ledger(store, AS_OF, Q3)
    assert ledger.deals == ()
    assert [p.period for p in ledger.periods] == [
        Period.parse(label) for label in ("2023-Q3", "2023-Q4", "2024-Q1", "2024-Q2", "2024-Q3")
    ]
    assert all(p.promised_count == 0 and p.promised == 0 for p in ledger.periods)
    assert all(p.arrived_share is None for p in ledger.periods)
    assert ledger.owners == ()
    assert ledger.total == OwnerPromise(None, Decimal("0"), 0, Decimal("0"), 0, None, ())


# -- promises -------------------------------------------------------------------------------------


@pytest.fixture
def promises(put: Rows, deal: DealFactory, history: Rows) -> None:
    """Deals due in Q2 and Q3 2024, seen on Aug 15 2024.

    A  Mar 1, u1: Proposal 1,000 due May 15; won May 20 at 1,100, close date May 20;
       its amount corrected to 1,150 on Jun 10, after the win
    B  Mar 5, u1: Qualify 2,000 due Jun 10; lost Jun 1
    C  Feb 1, u2: Negotiate 500 due Jun 20; pushed Jun 15 to Aug 10; still open
    D  Apr 10 (inside Q2), u1: Qualify 900 due May 30: never promised for Q2
    E  Mar 10, u2: Proposal 800 due Apr 20; lost Mar 20; reopened Apr 15 due Jun 25, won
       Jun 26: closed when Q2 began, so not promised
    F  Mar 1, u2: Qualify 300 due May 1; handed to u1 Apr 10; won Apr 30
    G  Mar 1, u1: Proposal 400 due Jun 15; won Jun 28 with its close date set to Jul 2
    K  exactly Apr 1 00:00, u3: Prospect 100 due Jun 1; never closed
    I  Jun 1, u1: Qualify 250 due Jul 31; won Aug 1 (close date Aug 1)
    J  Jul 5 (inside Q3), u1: Qualify 600 due Sep 1
    """
    put(
        "deals",
        *[deal(d, "open", "1.00", D("2024-09-01")) | {"name": f"Deal {d}"} for d in "ABCDEFGKIJ"],
    )

    def born(deal_id: str, when: date | datetime, owner: str, stage: str, amount: str, due: str):
        history(deal_id, when, stage=stage, amount=amount, close_date=due, owner_id=owner)

    born("A", D("2024-03-01"), "u1", "Proposal", "1000.00", "2024-05-15")
    history("A", D("2024-05-20"), stage="Closed Won", amount="1100.00", close_date="2024-05-20")
    history("A", D("2024-06-10"), amount="1150.00")
    born("B", D("2024-03-05"), "u1", "Qualify", "2000.00", "2024-06-10")
    history("B", D("2024-06-01"), stage="Closed Lost")
    born("C", D("2024-02-01"), "u2", "Negotiate", "500.00", "2024-06-20")
    history("C", D("2024-06-15"), close_date="2024-08-10")
    born("D", D("2024-04-10"), "u1", "Qualify", "900.00", "2024-05-30")
    born("E", D("2024-03-10"), "u2", "Proposal", "800.00", "2024-04-20")
    history("E", D("2024-03-20"), stage="Closed Lost")
    history("E", D("2024-04-15"), stage="Negotiate", close_date="2024-06-25")
    history("E", D("2024-06-26"), stage="Closed Won")
    born("F", D("2024-03-01"), "u2", "Qualify", "300.00", "2024-05-01")
    history("F", D("2024-04-10"), owner_id="u1")
    history("F", D("2024-04-30"), stage="Closed Won")
    born("G", D("2024-03-01"), "u1", "Proposal", "400.00", "2024-06-15")
    history("G", D("2024-06-28"), stage="Closed Won", close_date="2024-07-02")
    born("K", datetime(2024, 4, 1), "u3", "Prospect", "100.00", "2024-06-01")
    born("I", D("2024-06-01"), "u1", "Qualify", "250.00", "2024-07-31")
    history("I", D("2024-08-01"), stage="Closed Won", close_date="2024-08-01")
    born("J", D("2024-07-05"), "u1", "Qualify", "600.00", "2024-09-01")


@pytest.mark.usefixtures("promises")
def test_promised_and_arrived_by_hand(store: Store) -> None:
    ledger = slip_ledger(store, AS_OF, Q3, periods_back=1)
    q2, q3 = ledger.periods
    assert (q2.period, q3.period) == (Q2, Q3)
    assert (q2.complete, q3.complete) == (True, False)
    # Q2, open at Apr 1 00:00 and due in Q2: A 1,000 + B 2,000 + C 500 + F 300 + G 400 +
    # K 100 (created at that very moment) = 4,300 over 6 deals; D was created inside Q2,
    # E was lost then.
    assert (q2.promised, q2.promised_count) == (Decimal("4300.00"), 6)
    assert outcomes(q2) == {
        "A": "arrived",
        "B": "lost",
        "C": "slipped",
        "F": "arrived",
        "G": "won_outside",
        "K": "open",
    }
    # arrived: A at the 1,100 it was won at (not the 1,150 of later) + F 300 = 1,400
    assert (q2.arrived, q2.arrived_count) == (Decimal("1400.00"), 2)
    # slipped: C, open at Jun 30 and due Aug 10: 500
    assert (q2.slipped, q2.slipped_count) == (Decimal("500.00"), 1)
    # 1,400 / 4,300
    assert q2.arrived_share == Decimal(1400) / Decimal(4300)
    assert (q2.promised_ids, q2.arrived_ids, q2.slipped_ids) == (
        ["B", "A", "C", "G", "F", "K"],
        ["A", "F"],
        ["C"],
    )
    assert q2.deals[1] == PromisedDeal(
        deal_id="A",
        name="Deal A",
        owner_id="u1",
        amount=Decimal("1000.00"),
        close_date=D("2024-05-15"),
        outcome="arrived",
        arrived_amount=Decimal("1100.00"),
        end_amount=Decimal("1150.00"),
        end_close_date=D("2024-05-20"),
    )
    # F was u2's when Q2 began, though u1's when won
    assert {d.deal_id: d.owner_id for d in q2.deals}["F"] == "u2"

    # Q3 so far (to Aug 15 noon): open at Jul 1 and due in Q3: C (pushed to Aug 10) 500 +
    # I 250 = 750; J was created inside Q3; I won Aug 1: arrived 250; C still open, due in Q3
    assert (q3.promised, q3.promised_count) == (Decimal("750.00"), 2)
    assert outcomes(q3) == {"C": "open", "I": "arrived"}
    assert (q3.arrived, q3.slipped) == (Decimal("250.00"), Decimal("0.00"))


@pytest.mark.usefixtures("promises")
def test_promised_is_the_pipeline_due_at_the_period_start(store: Store) -> None:
    ledger = slip_ledger(store, AS_OF, Q3, periods_back=1)
    for promise in ledger.periods:
        start = datetime.combine(promise.period.start, datetime.min.time())
        pipeline = pipeline_by_stage(store, as_of=start, period=promise.period)
        assert (promise.promised, promise.promised_count) == (pipeline.amount, pipeline.count)


@pytest.mark.usefixtures("promises")
def test_promise_keeping_per_owner_by_hand(store: Store) -> None:
    ledger = slip_ledger(store, AS_OF, Q3, periods_back=1)
    owners = {o.owner_id: o for o in ledger.owners}
    # Completed periods: Q2 only (Q3 is under way). Owners at Apr 1:
    # u1: A 1,000 + B 2,000 + G 400 = 3,400 promised; A arrived at 1,100 -> 1,100 / 3,400
    assert (owners["u1"].promised, owners["u1"].promised_count) == (Decimal("3400.00"), 3)
    assert (owners["u1"].arrived, owners["u1"].arrived_count) == (Decimal("1100.00"), 1)
    assert owners["u1"].rate == Decimal(1100) / Decimal(3400)
    # u2: C 500 + F 300 = 800; F arrived, 300 -> 300 / 800 = 0.375
    assert (owners["u2"].promised, owners["u2"].arrived) == (Decimal("800.00"), Decimal("300.00"))
    assert owners["u2"].rate == Decimal("0.375")
    # u3: K 100, nothing arrived -> 0
    assert owners["u3"].rate == Decimal("0")
    assert [o.owner_id for o in ledger.owners] == ["u1", "u2", "u3"]  # most promised first
    assert sorted(owners["u2"].deal_ids) == ["C", "F"]
    # company: 1,400 / 4,300
    assert (ledger.total.promised, ledger.total.arrived) == (Decimal("4300.00"), Decimal("1400.00"))
    assert ledger.total.rate == Decimal(1400) / Decimal(4300)


@pytest.mark.usefixtures("promises")
def test_an_empty_period_promises_nothing(store: Store) -> None:
    ledger = slip_ledger(store, AS_OF, Q3, periods_back=2)
    q1 = ledger.periods[0]
    # Nothing existed on Jan 1 2024
    assert q1.period == Q1 and q1.complete
    assert (q1.promised, q1.promised_count, q1.arrived, q1.deals) == (Decimal("0"), 0, 0, ())
    assert q1.arrived_share is None
    # Q1 adds nothing to the owners' record: still Q2 alone
    assert ledger.total.promised == Decimal("4300.00")


@pytest.mark.usefixtures("promises")
def test_the_current_period_counts_once_it_is_over(store: Store) -> None:
    # At the very end of Q3, Q3 is complete: its promises join the owners' record.
    # I (u1) arrived 250 of u1's 250 in Q3; C (u2) is still open, due Aug 10: not arrived.
    end_of_q3 = datetime(2024, 9, 30, 23, 59, 59, 999999)
    ledger = slip_ledger(store, end_of_q3, Q3, periods_back=1)
    assert ledger.periods[1].complete
    owners = {o.owner_id: o for o in ledger.owners}
    # u1: Q2 3,400 + Q3 250 = 3,650 promised; 1,100 + 250 = 1,350 arrived
    assert (owners["u1"].promised, owners["u1"].arrived) == (
        Decimal("3650.00"),
        Decimal("1350.00"),
    )
    # u2: Q2 800 + Q3 C 500 = 1,300 promised; 300 arrived
    assert (owners["u2"].promised, owners["u2"].arrived) == (Decimal("1300.00"), Decimal("300.00"))
    assert owners["u2"].promised_count == 3  # C counts once for each period it was promised


def test_bad_arguments(store: Store) -> None:
    with pytest.raises(InputError, match="datetime"):
        slip_ledger(store, date(2024, 8, 15), Q3)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="not begun"):
        slip_ledger(store, datetime(2024, 6, 30), Q3)
    with pytest.raises(InputError, match="custom"):
        custom = Period(D("2024-07-01"), D("2024-07-10"), "ten days")
        slip_ledger(store, AS_OF, custom)
    with pytest.raises(InputError, match="periods_back"):
        slip_ledger(store, AS_OF, Q3, periods_back=-1)


@pytest.mark.usefixtures("promises")
def test_shows_its_sql(store: Store) -> None:
    ledger = slip_ledger(store, AS_OF, Q3)
    assert set(ledger.expressions()) == {"open", "promised", "events"}
    assert '"deal_events"' in store.sql(ledger.expressions()["events"])


# -- periods as numbers ---------------------------------------------------------------------------


@given(
    days=st.lists(st.dates(date(1990, 1, 1), date(2060, 12, 31)), min_size=2, max_size=20),
    kind=st.sampled_from(["week", "month", "quarter", "year"]),
    fy_start=st.integers(1, 12),
)
def test_period_numbers_follow_period_containing(
    days: list[date], kind: str, fy_start: int
) -> None:
    """Two days get the same number when they share a period, and a later period always
    has the larger number (what "a later period" means for a slip)."""
    numbers = ordinal(np.array([(d - date(1970, 1, 1)).days for d in days]), kind, fy_start)
    starts = [Period.containing(d, kind, fy_start).start for d in days]
    for i in range(len(days)):
        for j in range(len(days)):
            assert (numbers[i] < numbers[j]) == (starts[i] < starts[j])
            assert (numbers[i] == numbers[j]) == (starts[i] == starts[j])
