"""How numbers, dates and times read in a report: one place, so every face says them alike.

Everything is computed on ``Decimal`` (or ``int``) values, never through binary floats, so
that 999.995 is 999.995 and not 999.99499999: a float passed in is refused with a
``TypeError`` rather than rounded by surprise. Every rounding is *half to even* (banker's
rounding, ``ROUND_HALF_EVEN``): a value exactly half-way goes to the even neighbour, so
0.005 is 0.00, 0.015 is 0.02, 0.025 is 0.02 and 999.995 is 1,000.00. Over many numbers
this rounds up as often as down, so rounded parts do not drift from their rounded total.

Two styles of money:

- in tables, to the cent with thousands separators: ``1,234,567.89``;
- in prose, short: below 100,000 whole units (``12,400``), below a million whole
  thousands (``350k``), then millions to one decimal (``1.2M``, ``2M``), then billions
  (``3.4B``). The unit is chosen after rounding, so 999,500 reads ``1M``, not ``1000k``.

Percentages take a ratio (0.6 reads ``60%``), whole by default. A missing value (None)
reads as an em dash, :data:`NONE`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

__all__ = [
    "NONE",
    "ValueKind",
    "count",
    "day",
    "exact",
    "moment",
    "money",
    "money_short",
    "multiple",
    "percent",
    "text_of",
]

ValueKind = Literal["text", "money", "percent", "count", "date", "multiple"]
"""What a value is, which says how it is written and aligned."""

NONE = "—"
"""What a missing value (None) reads as."""

_ONE = Decimal(1)
_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")
_THOUSAND = Decimal(1000)
_MILLION = Decimal(1_000_000)
_BILLION = Decimal(1_000_000_000)


def exact(value: Decimal | int) -> Decimal:
    """``value`` as a finite Decimal; a float, a bool or a NaN is a ``TypeError``/``ValueError``.

    Floats are refused because they cannot hold most decimal amounts exactly: the caller
    must say ``Decimal("0.1")``, not ``0.1``.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"expected a Decimal or an int, not {type(value).__name__} {value!r}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"cannot write {number} as a number")
    return number


def _round(value: Decimal, step: Decimal) -> Decimal:
    rounded = value.quantize(step, rounding=ROUND_HALF_EVEN)
    # -0.00 reads as 0.00: a value that rounds to zero has no sign.
    return rounded.copy_abs() if rounded.is_zero() else rounded


def _sign(rounded: Decimal, signed: bool) -> str:
    if rounded < 0:
        return "-"
    return "+" if signed and rounded > 0 else ""


def money(value: Decimal | int | None, *, signed: bool = False) -> str:
    """``value`` to the cent with thousands separators, for tables: ``1,234,567.89``.

    ``signed`` writes a ``+`` before positive amounts (for changes).
    """
    if value is None:
        return NONE
    rounded = _round(exact(value), _CENT)
    return f"{_sign(rounded, signed)}{rounded.copy_abs():,.2f}"


def money_short(value: Decimal | int | None, *, signed: bool = False) -> str:
    """``value`` short, for prose and charts: ``12,400``, ``350k``, ``1.2M``, ``3.4B``.

    Whole units below 100,000; whole thousands below a million; millions (then billions)
    to one decimal, with a trailing ``.0`` dropped (``2M``).
    """
    if value is None:
        return NONE
    number = exact(value)
    size = number.copy_abs()
    units = _round(size, _ONE)
    if units < 100_000:
        text, rounded = f"{units:,}", units
    else:
        thousands = _round(size / _THOUSAND, _ONE)
        if thousands < 1000:
            text, rounded = f"{thousands:,}k", thousands
        else:
            millions = _round(size / _MILLION, _TENTH)
            if millions < 1000:
                text, rounded = f"{_drop_zero_tenth(millions)}M", millions
            else:
                billions = _round(size / _BILLION, _TENTH)
                text, rounded = f"{_drop_zero_tenth(billions, grouped=True)}B", billions
    if number < 0 and not rounded.is_zero():
        rounded = -rounded
    return f"{_sign(rounded, signed)}{text}"


def _drop_zero_tenth(value: Decimal, *, grouped: bool = False) -> str:
    text = f"{value:,.1f}" if grouped else f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def percent(ratio: Decimal | int | None, *, places: int = 0, signed: bool = False) -> str:
    """``ratio`` as a percentage: 0.6 reads ``60%``; ``places`` decimals (whole by default).

    ``signed`` writes a ``+`` before positive values (for changes in share).
    """
    if ratio is None:
        return NONE
    if places < 0:
        raise ValueError(f"places must be 0 or more, not {places}")
    rounded = _round(exact(ratio) * 100, Decimal(1).scaleb(-places))
    return f"{_sign(rounded, signed)}{rounded.copy_abs():,.{places}f}%"


def multiple(ratio: Decimal | int | None) -> str:
    """``ratio`` as a multiple to one decimal, such as a coverage of ``3.0x``."""
    if ratio is None:
        return NONE
    rounded = _round(exact(ratio), _TENTH)
    return f"{_sign(rounded, False)}{rounded.copy_abs():,.1f}x"


def count(value: int | None, *, signed: bool = False) -> str:
    """A whole number with thousands separators: ``12,345``."""
    if value is None:
        return NONE
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an int count, not {type(value).__name__} {value!r}")
    return f"{_sign(Decimal(value), signed)}{abs(value):,}"


def day(value: date | None) -> str:
    """A date as ISO 8601, ``2024-03-31``: the one form no reader misreads."""
    if value is None:
        return NONE
    if isinstance(value, datetime):
        value = value.date()
    return value.isoformat()


def moment(value: datetime | None) -> str:
    """A naive UTC time to the minute: ``2024-03-15 07:00 UTC``."""
    if value is None:
        return NONE
    return f"{value:%Y-%m-%d %H:%M} UTC"


def text_of(
    value: Decimal | int | str | date | None,
    kind: ValueKind,
    *,
    short: bool = False,
    signed: bool = False,
) -> str:
    """``value`` written as a column of ``kind`` writes it; a string is always written as is.

    ``short`` writes money in the prose style; ``signed`` marks positive changes with ``+``.
    """
    if value is None:
        return NONE
    if isinstance(value, str):
        return value
    if kind == "money":
        if isinstance(value, date):
            raise TypeError(f"a money column holds amounts, not the date {value}")
        return money_short(value, signed=signed) if short else money(value, signed=signed)
    if kind == "percent":
        if isinstance(value, date):
            raise TypeError(f"a percent column holds ratios, not the date {value}")
        return percent(value, signed=signed)
    if kind == "multiple":
        if isinstance(value, date):
            raise TypeError(f"a multiple column holds ratios, not the date {value}")
        return multiple(value)
    if kind == "count":
        if not isinstance(value, int):
            raise TypeError(f"a count column holds ints, not {value!r}")
        return count(value, signed=signed)
    if kind == "date":
        if not isinstance(value, date):
            raise TypeError(f"a date column holds dates, not {value!r}")
        return day(value)
    if isinstance(value, date):
        return day(value)
    if isinstance(value, int):
        return count(value)
    return str(value)
