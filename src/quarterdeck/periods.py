"""Reporting periods: weeks, months, quarters and years, calendar or fiscal.

A ``Period`` is a closed range of days (``end`` is inclusive) with the label a user reads
and types. Fiscal years are named by the calendar year they end in: with a fiscal year
that starts in February, FY2025 runs from 2024-02-01 to 2025-01-31 and FY2025-Q1 is
February to April 2024. Labels are canonical, so ``Period.parse(p.label) == p`` for
calendar periods and, given the same ``fiscal_year_start_month``, for fiscal ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from quarterdeck.errors import InputError

__all__ = ["PERIOD_KINDS", "Period", "PeriodKind", "require_moment", "require_period"]

PeriodKind = Literal["week", "month", "quarter", "year", "custom"]

PERIOD_KINDS: tuple[str, ...] = ("week", "month", "quarter", "year")
"""The kinds ``Period.containing`` understands; ``custom`` is any other range of days."""

_QUARTER = re.compile(r"^(?P<fy>FY)?(?P<year>\d{4})-?Q(?P<quarter>[1-4])$")
_MONTH = re.compile(r"^(?P<year>\d{4})-(?P<month>\d{2})$")
_YEAR = re.compile(r"^(?P<fy>FY)?(?P<year>\d{4})$")
_WEEK = re.compile(r"^(?P<year>\d{4})-?W(?P<week>\d{2})$")

_EXPECTED = (
    "expected a quarter (2024-Q3, 2024Q3, FY2025-Q1), a month (2024-07), "
    "a year (2024, FY2025) or an ISO week (2024-W27)"
)


@dataclass(frozen=True)
class Period:
    """A range of days from ``start`` to ``end``, both included, named by ``label``.

    ``kind`` and ``fiscal_year_start_month`` say how the period was cut, so that
    ``previous()`` and ``next()`` step to the neighbouring period of the same calendar.
    """

    start: date
    end: date
    label: str
    kind: PeriodKind = "custom"
    fiscal_year_start_month: int = 1

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise InputError(
                f"period {self.label!r} ends ({self.end}) before it starts ({self.start})"
            )
        _check_start_month(self.fiscal_year_start_month)

    # -- building -------------------------------------------------------------------------

    @classmethod
    def containing(
        cls,
        day: date,
        kind: str = "quarter",
        fiscal_year_start_month: int = 1,
    ) -> Period:
        """The week, month, quarter or year that ``day`` falls in.

        Weeks are ISO weeks (Monday to Sunday) and months are calendar months whatever the
        fiscal year; quarters and years follow ``fiscal_year_start_month`` (1 = calendar).
        """
        day = _as_date(day)
        fy_start = _check_start_month(fiscal_year_start_month)
        if kind == "week":
            start = day - timedelta(days=day.weekday())
            iso_year, iso_week, _ = day.isocalendar()
            return cls(start, start + timedelta(days=6), f"{iso_year}-W{iso_week:02d}", "week")
        if kind == "month":
            start = day.replace(day=1)
            return cls(start, _add_months(start, 1) - timedelta(days=1), f"{day:%Y-%m}", "month")
        if kind == "quarter":
            # Months since the fiscal year began, 0..11; three to a quarter.
            offset = (day.month - fy_start) % 12
            quarter = offset // 3 + 1
            start = _add_months(date(day.year, day.month, 1), -(offset % 3))
            end = _add_months(start, 3) - timedelta(days=1)
            label = f"{_year_label(_fiscal_year(day, fy_start), fy_start)}-Q{quarter}"
            return cls(start, end, label, "quarter", fy_start)
        if kind == "year":
            fiscal_year = _fiscal_year(day, fy_start)
            start = _fiscal_year_start(fiscal_year, fy_start)
            end = _add_months(start, 12) - timedelta(days=1)
            return cls(start, end, _year_label(fiscal_year, fy_start), "year", fy_start)
        raise InputError(f"unknown period kind {kind!r}: expected one of {', '.join(PERIOD_KINDS)}")

    @classmethod
    def parse(cls, text: str, fiscal_year_start_month: int = 1) -> Period:
        """Read a period as a user types it: ``2024-Q3``, ``2024Q3``, ``FY2025-Q1``,
        ``2024-07``, ``2024``, ``FY2025`` or ``2024-W27``.

        Plain years and quarters are calendar ones; an ``FY`` prefix means the fiscal year
        that starts in ``fiscal_year_start_month`` and ends in the year named.
        """
        fy_start = _check_start_month(fiscal_year_start_month)
        if not isinstance(text, str):
            raise InputError(f"cannot read period {text!r}: {_EXPECTED}")
        cleaned = text.strip().upper()
        if match := _QUARTER.match(cleaned):
            months_from = fy_start if match["fy"] else 1
            year = int(match["year"])
            first = _add_months(
                _fiscal_year_start(year, months_from), 3 * (int(match["quarter"]) - 1)
            )
            return cls.containing(first, "quarter", months_from)
        if match := _MONTH.match(cleaned):
            month = int(match["month"])
            if not 1 <= month <= 12:
                raise InputError(f"cannot read period {text!r}: month {month} is not 01 to 12")
            return cls.containing(date(int(match["year"]), month, 1), "month")
        if match := _YEAR.match(cleaned):
            months_from = fy_start if match["fy"] else 1
            return cls.containing(
                _fiscal_year_start(int(match["year"]), months_from), "year", months_from
            )
        if match := _WEEK.match(cleaned):
            year, week = int(match["year"]), int(match["week"])
            try:
                monday = date.fromisocalendar(year, week, 1)
            except ValueError:
                raise InputError(
                    f"cannot read period {text!r}: {year} has no ISO week {week}"
                ) from None
            return cls.containing(monday, "week")
        raise InputError(f"cannot read period {text!r}: {_EXPECTED}")

    # -- using ----------------------------------------------------------------------------

    @property
    def days(self) -> int:
        """Number of days in the period, both ends included."""
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        """Whether ``day`` (a date, or a datetime read as its date) lies in the period."""
        return self.start <= _as_date(day) <= self.end

    def previous(self) -> Period:
        """The period of the same kind just before this one (for a custom period: as many
        days, ending the day before this one starts)."""
        if self.kind == "custom":
            end = self.start - timedelta(days=1)
            start = end - timedelta(days=self.days - 1)
            return Period(start, end, f"{start}..{end}")
        return Period.containing(
            self.start - timedelta(days=1), self.kind, self.fiscal_year_start_month
        )

    def next(self) -> Period:
        """The period of the same kind just after this one (for a custom period: as many
        days, starting the day after this one ends)."""
        if self.kind == "custom":
            start = self.end + timedelta(days=1)
            end = start + timedelta(days=self.days - 1)
            return Period(start, end, f"{start}..{end}")
        return Period.containing(
            self.end + timedelta(days=1), self.kind, self.fiscal_year_start_month
        )

    def __str__(self) -> str:
        return self.label


def _as_date(day: date) -> date:
    # datetime is a subclass of date but does not compare with one.
    return day.date() if isinstance(day, datetime) else day


def _check_start_month(month: int) -> int:
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise InputError(f"fiscal year start month must be 1 to 12, not {month!r}")
    return month


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _fiscal_year(day: date, fy_start: int) -> int:
    """The fiscal year ``day`` falls in, named by the calendar year it ends in."""
    return day.year + 1 if fy_start > 1 and day.month >= fy_start else day.year


def _fiscal_year_start(fiscal_year: int, fy_start: int) -> date:
    return date(fiscal_year if fy_start == 1 else fiscal_year - 1, fy_start, 1)


def _year_label(fiscal_year: int, fy_start: int) -> str:
    return str(fiscal_year) if fy_start == 1 else f"FY{fiscal_year}"


def require_moment(value: object, name: str = "as_of") -> datetime:
    """``value`` when it is a moment (a datetime); else an InputError naming ``name`` (a
    date is not enough: a report's moment has a time of day)."""
    if not isinstance(value, datetime):
        kind = "a date" if isinstance(value, date) else repr(value)
        raise InputError(
            f"{name} must be a moment (a datetime such as 2024-07-01 00:00), not {kind}"
        )
    return value


def require_period(value: object) -> Period:
    """``value`` when it is a :class:`Period`; else an InputError saying what is expected."""
    if not isinstance(value, Period):
        raise InputError(f"expected a Period (such as Period.parse('2024-Q3')), not {value!r}")
    return value
