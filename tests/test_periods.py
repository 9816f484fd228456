"""Periods: calendar and fiscal boundaries, labels, parsing and stepping."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quarterdeck.errors import InputError
from quarterdeck.periods import Period


def span(p: Period) -> tuple[date, date, str]:
    return p.start, p.end, p.label


# -- containing -----------------------------------------------------------------------------


def test_calendar_quarter() -> None:
    p = Period.containing(date(2024, 8, 15))
    assert span(p) == (date(2024, 7, 1), date(2024, 9, 30), "2024-Q3")
    assert p.days == 92  # July 31 + August 31 + September 30


def test_month_in_a_leap_year() -> None:
    p = Period.containing(date(2024, 2, 10), "month")
    assert span(p) == (date(2024, 2, 1), date(2024, 2, 29), "2024-02")
    assert p.days == 29


def test_calendar_year() -> None:
    p = Period.containing(date(2024, 12, 31), "year")
    assert span(p) == (date(2024, 1, 1), date(2024, 12, 31), "2024")
    assert p.days == 366


def test_iso_week() -> None:
    # 2024-07-03 is a Wednesday; its Monday is 07-01, ISO week 27 (Jan 1 2024 is a Monday).
    p = Period.containing(date(2024, 7, 3), "week")
    assert span(p) == (date(2024, 7, 1), date(2024, 7, 7), "2024-W27")
    assert p.days == 7


def test_iso_week_that_starts_in_the_previous_year() -> None:
    # Monday 2024-12-30 starts the week holding 2025-01-02, Thursday: ISO 2025-W01.
    p = Period.containing(date(2024, 12, 30), "week")
    assert span(p) == (date(2024, 12, 30), date(2025, 1, 5), "2025-W01")


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # Fiscal year from February, named by the year it ends in: FY2025 = 2024-02..2025-01.
        (date(2024, 2, 1), (date(2024, 2, 1), date(2024, 4, 30), "FY2025-Q1")),
        (date(2024, 4, 30), (date(2024, 2, 1), date(2024, 4, 30), "FY2025-Q1")),
        (date(2024, 5, 1), (date(2024, 5, 1), date(2024, 7, 31), "FY2025-Q2")),
        (date(2024, 12, 25), (date(2024, 11, 1), date(2025, 1, 31), "FY2025-Q4")),
        (date(2025, 1, 31), (date(2024, 11, 1), date(2025, 1, 31), "FY2025-Q4")),
        (date(2024, 1, 31), (date(2023, 11, 1), date(2024, 1, 31), "FY2024-Q4")),
    ],
)
def test_fiscal_quarter_from_february(day: date, expected: tuple[date, date, str]) -> None:
    assert span(Period.containing(day, "quarter", fiscal_year_start_month=2)) == expected


def test_fiscal_year_from_february() -> None:
    p = Period.containing(date(2024, 6, 1), "year", fiscal_year_start_month=2)
    assert span(p) == (date(2024, 2, 1), date(2025, 1, 31), "FY2025")
    assert p.days == 366  # holds 2024-02-29


def test_fiscal_quarter_from_july() -> None:
    # FY2025 from July runs 2024-07-01..2025-06-30; Q3 is January to March 2025.
    p = Period.containing(date(2025, 2, 14), "quarter", fiscal_year_start_month=7)
    assert span(p) == (date(2025, 1, 1), date(2025, 3, 31), "FY2025-Q3")


def test_months_and_weeks_ignore_the_fiscal_year() -> None:
    assert Period.containing(date(2024, 2, 10), "month", 2).label == "2024-02"
    assert Period.containing(date(2024, 7, 3), "week", 2).label == "2024-W27"


# -- parse ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["2024-Q3", "2024Q3", " 2024-q3 "])
def test_parse_calendar_quarter(text: str) -> None:
    assert span(Period.parse(text)) == (date(2024, 7, 1), date(2024, 9, 30), "2024-Q3")


@pytest.mark.parametrize("text", ["FY2025-Q1", "FY2025Q1", "fy2025-q1"])
def test_parse_fiscal_quarter(text: str) -> None:
    p = Period.parse(text, fiscal_year_start_month=2)
    assert span(p) == (date(2024, 2, 1), date(2024, 4, 30), "FY2025-Q1")


def test_parse_fiscal_q4_ends_in_the_named_year() -> None:
    p = Period.parse("FY2025-Q4", fiscal_year_start_month=2)
    assert span(p) == (date(2024, 11, 1), date(2025, 1, 31), "FY2025-Q4")


def test_plain_quarter_stays_calendar_when_the_fiscal_year_differs() -> None:
    p = Period.parse("2024-Q3", fiscal_year_start_month=2)
    assert span(p) == (date(2024, 7, 1), date(2024, 9, 30), "2024-Q3")
    assert p.previous().label == "2024-Q2"


def test_fiscal_label_with_calendar_fiscal_year_is_the_calendar_quarter() -> None:
    p = Period.parse("FY2025-Q1")
    assert span(p) == (date(2025, 1, 1), date(2025, 3, 31), "2025-Q1")


def test_parse_month_year_week() -> None:
    assert span(Period.parse("2024-07")) == (date(2024, 7, 1), date(2024, 7, 31), "2024-07")
    assert span(Period.parse("2024")) == (date(2024, 1, 1), date(2024, 12, 31), "2024")
    assert span(Period.parse("FY2025", 2)) == (date(2024, 2, 1), date(2025, 1, 31), "FY2025")
    assert span(Period.parse("2024-W27")) == (date(2024, 7, 1), date(2024, 7, 7), "2024-W27")
    # 2020 has 53 ISO weeks; W53 is 2020-12-28..2021-01-03.
    assert span(Period.parse("2020-W53")) == (date(2020, 12, 28), date(2021, 1, 3), "2020-W53")


@pytest.mark.parametrize(
    "text",
    ["", "Q3 2024", "2024-Q5", "2024-Q0", "2024-13", "2024-00", "2024-7", "24-Q3",
     "FY2025-07", "2024-W53", "2024-W00", "2024-07-01", "next quarter"],
)  # fmt: skip
def test_parse_rejects_with_a_clear_message(text: str) -> None:
    with pytest.raises(InputError) as err:
        Period.parse(text)
    assert repr(text) in str(err.value)


def test_parse_error_lists_what_is_accepted() -> None:
    with pytest.raises(InputError, match=r"expected a quarter \(2024-Q3.*FY2025-Q1.*2024-07"):
        Period.parse("Q3 2024")


@pytest.mark.parametrize("month", [0, 13, -1])
def test_fiscal_start_month_must_be_a_month(month: int) -> None:
    with pytest.raises(InputError, match="1 to 12"):
        Period.parse("FY2025-Q1", fiscal_year_start_month=month)
    with pytest.raises(InputError, match="1 to 12"):
        Period.containing(date(2024, 1, 1), "quarter", fiscal_year_start_month=month)


def test_unknown_kind() -> None:
    with pytest.raises(InputError, match="decade"):
        Period.containing(date(2024, 1, 1), "decade")


def test_end_before_start() -> None:
    with pytest.raises(InputError, match="ends"):
        Period(date(2024, 2, 1), date(2024, 1, 31), "backwards")


# -- stepping and membership ------------------------------------------------------------------


def test_previous_and_next_cross_years() -> None:
    assert Period.parse("2024-Q1").previous().label == "2023-Q4"
    assert span(Period.parse("2024-Q4").next()) == (date(2025, 1, 1), date(2025, 3, 31), "2025-Q1")
    assert span(Period.parse("2024-01").previous()) == (
        date(2023, 12, 1),
        date(2023, 12, 31),
        "2023-12",
    )
    assert Period.parse("2024").next().label == "2025"
    # 2025-W01 starts Monday 2024-12-30; the week before is 2024-12-23..29, ISO 2024-W52.
    assert span(Period.parse("2025-W01").previous()) == (
        date(2024, 12, 23),
        date(2024, 12, 29),
        "2024-W52",
    )


def test_fiscal_previous_and_next() -> None:
    q1 = Period.parse("FY2025-Q1", 2)
    assert span(q1.previous()) == (date(2023, 11, 1), date(2024, 1, 31), "FY2024-Q4")
    assert span(q1.next()) == (date(2024, 5, 1), date(2024, 7, 31), "FY2025-Q2")
    assert Period.parse("FY2025", 2).next().label == "FY2026"


def test_custom_period_steps_by_its_length() -> None:
    p = Period(date(2024, 7, 10), date(2024, 7, 19), "ten days")
    assert p.days == 10
    assert (p.previous().start, p.previous().end) == (date(2024, 6, 30), date(2024, 7, 9))
    assert (p.next().start, p.next().end) == (date(2024, 7, 20), date(2024, 7, 29))


def test_contains_both_ends() -> None:
    q3 = Period.parse("2024-Q3")
    assert q3.contains(date(2024, 7, 1))
    assert q3.contains(date(2024, 9, 30))
    assert not q3.contains(date(2024, 6, 30))
    assert not q3.contains(date(2024, 10, 1))
    assert q3.contains(datetime(2024, 9, 30, 23, 59, 59))


def test_period_is_frozen_and_prints_its_label() -> None:
    p = Period.parse("2024-Q3")
    with pytest.raises(AttributeError):
        p.label = "other"  # type: ignore[misc]
    assert str(p) == "2024-Q3"


@given(
    day=st.dates(min_value=date(1901, 1, 1), max_value=date(2998, 12, 31)),
    kind=st.sampled_from(["week", "month", "quarter", "year"]),
    fy_start=st.integers(min_value=1, max_value=12),
)
def test_periods_tile_the_calendar(day: date, kind: str, fy_start: int) -> None:
    p = Period.containing(day, kind, fy_start)
    assert p.contains(day)
    assert p.next().start == p.end + timedelta(days=1)
    assert p.previous().end == p.start - timedelta(days=1)
    assert p.next().previous() == p
    assert Period.parse(p.label, fy_start) == p


def test_a_moment_and_a_period_are_required_by_name() -> None:
    from datetime import date, datetime

    from quarterdeck.periods import require_moment, require_period

    moment = datetime(2024, 7, 1, 9, 30)
    assert require_moment(moment) is moment
    with pytest.raises(InputError, match=r"^as_of must be a moment .* not a date$"):
        require_moment(date(2024, 7, 1))
    with pytest.raises(InputError, match=r"^start must be a moment .* not '2024-07-01'$"):
        require_moment("2024-07-01", "start")
    quarter = Period.parse("2024-Q3")
    assert require_period(quarter) is quarter
    with pytest.raises(InputError, match=r"expected a Period .* not '2024-Q3'"):
        require_period("2024-Q3")
