"""Turning text cells into typed values, a whole column at a time, noting every bad cell.

``Cells`` wraps one ``CsvFile``; each method parses one column (amounts with currency
symbols and thousands separators, dates in ISO, US or European order with or without a
time, booleans as 0/1 or TRUE/FALSE, values from a closed list) and records the rows it
cannot read, with the column, the value and the reason. The importer then sets those rows
aside as rejects, with their line numbers. Work is vectorised with Arrow and NumPy, so a
ten-million-row file parses in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.sources.reading import MAX_FIELD, CsvFile, Reject

__all__ = ["Cells"]

_FORMULA = (
    r"^\s*(=|[+\-@]\s*[A-Za-z_][A-Za-z0-9_.]*\s*\("
    # a DDE link such as @cmd|' /C calc'!A0, which spreadsheets run without an = sign
    r"|[+\-@][^|]*\|\s*'[^']*'\s*!)"
)

_ISO = (
    r"^(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(?P<p>)(?P<tz>Z|UTC|[+-]\d{2}:?\d{2})?$"
)
_TIME = (
    r"(?:,?\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?P<p>[AaPp]\.?[Mm]\.?)?)?(?P<tz>)$"
)
_MDY = r"^(?P<m>\d{1,2})[/.-](?P<d>\d{1,2})[/.-](?P<y>\d{4}|\d{2})" + _TIME
_DMY = r"^(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4}|\d{2})" + _TIME
_PARTS = ("y", "m", "d", "H", "M", "S", "p", "tz")

_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}


@dataclass(frozen=True)
class _Problem:
    rows: np.ndarray
    column: str
    reason: str


class Cells:
    """Typed readers over the text columns of one file; collects the cells it cannot read."""

    def __init__(
        self, file: CsvFile, *, date_order: str = "MDY", decimal_comma: bool | None = None
    ):
        if date_order not in ("MDY", "DMY"):
            raise ValueError(date_order)
        self.file = file
        self.rows = file.table.num_rows
        self.date_order = date_order
        self.decimal_comma = file.delimiter == ";" if decimal_comma is None else decimal_comma
        self._problems: list[_Problem] = []
        self._check_long_fields()

    # -- bookkeeping --------------------------------------------------------------------

    def has(self, column: str) -> bool:
        return column in self.file.table.column_names

    def raw(self, column: str) -> pa.Array:
        return pc.utf8_trim_whitespace(self.file.table.column(column).combine_chunks())

    def flag(self, mask: pa.Array | np.ndarray, column: str, reason: str) -> None:
        """Mark the rows where ``mask`` is true as unreadable in ``column``."""
        if isinstance(mask, np.ndarray):
            rows = np.flatnonzero(mask)
        else:
            rows = pc.indices_nonzero(pc.fill_null(mask, False)).to_numpy()
        if len(rows):
            self._problems.append(_Problem(rows, column, reason))

    def rejected(self) -> np.ndarray:
        """Boolean mask of rows with at least one problem."""
        mask = np.zeros(self.rows, dtype=bool)
        for problem in self._problems:
            mask[problem.rows] = True
        return mask

    def rejects(self) -> list[Reject]:
        """Every problem as a reject with its line, in file order."""
        out = list(self.file.bad_rows)
        # A column read twice (an id made from the name, then the name) finds its problems
        # twice; each is reported once.
        seen: set[tuple[int, str, str]] = set()
        for problem in self._problems:
            values = (
                self.file.table.column(problem.column)
                if problem.column in self.file.table.column_names
                else None
            )
            for row in problem.rows.tolist():
                if (row, problem.column, problem.reason) in seen:
                    continue
                seen.add((row, problem.column, problem.reason))
                value = values[row].as_py() if values is not None else None
                out.append(
                    Reject(
                        self.file.name,
                        self.file.line_of(row),
                        problem.column,
                        value,
                        problem.reason,
                    )
                )
        out.sort(key=lambda r: (r.line or 0, r.column or ""))
        return out

    def _check_long_fields(self) -> None:
        for name in self.file.table.column_names:
            lengths = pc.utf8_length(self.file.table.column(name))
            if (pc.max(lengths).as_py() or 0) > MAX_FIELD:
                self.flag(
                    pc.greater(lengths, MAX_FIELD),
                    name,
                    f"field is longer than {MAX_FIELD:,} characters",
                )

    def _formula(self, column: str, values: pa.Array) -> pa.Array:
        # Only cells starting with one of = + - @ can be formulas (values are trimmed): a
        # cheap prefix test spares the regular expression on almost every column.
        candidates = pc.starts_with(values, "=")
        for prefix in ("+", "-", "@"):
            candidates = pc.or_(candidates, pc.starts_with(values, prefix))
        if not pc.any(candidates).as_py():
            return pa.repeat(pa.scalar(False), len(values))
        mask = pc.and_(candidates, pc.match_substring_regex(values, _FORMULA))
        self.flag(
            mask,
            column,
            "holds a spreadsheet formula, not a value; export values, not formulas",
        )
        return mask

    # -- readers ------------------------------------------------------------------------

    def text(self, column: str, *, required: bool = False) -> pa.Array:
        """Trimmed text; empty cells become null."""
        values = self.raw(column)
        self._formula(column, values)
        empty = pc.equal(values, "")
        if required:
            self.flag(empty, column, "is empty; a value is required")
        return pc.if_else(empty, pa.scalar(None, pa.string()), values)

    def amount(
        self, column: str, *, required: bool = False, allow_negative: bool = False
    ) -> pa.Array:
        """Money as decimal(18, 2): '$1,234.50', 'USD 1 234', '(500)', or '1.234,50'."""
        values = self.raw(column)
        empty = pc.equal(values, "")
        formula = self._formula(column, values)
        cleaned = pc.replace_substring_regex(
            values, r"^[A-Za-z]{3}\s*|\s*[A-Za-z]{3}$|[$€£¥\s\x{00a0}']", ""
        )
        parens = pc.match_substring_regex(cleaned, r"^\(.*\)$")
        cleaned = pc.replace_substring_regex(cleaned, r"^\((.*)\)$", r"\1")
        if self.decimal_comma:
            cleaned = pc.replace_substring(cleaned, ".", "")
            cleaned = pc.replace_substring(cleaned, ",", ".")
        else:
            thousands = pc.match_substring_regex(cleaned, r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
            cleaned = pc.if_else(thousands, pc.replace_substring(cleaned, ",", ""), cleaned)
        valid = pc.match_substring_regex(cleaned, r"^-?\d{1,16}(\.\d+)?$")
        bad = pc.and_(pc.and_(pc.invert(empty), pc.invert(valid)), pc.invert(formula))
        self.flag(bad, column, "is not an amount")
        usable = pc.and_(valid, pc.invert(empty))
        number = pc.cast(
            pc.if_else(usable, cleaned, pa.scalar(None, pa.string())), pa.decimal128(38, 10)
        )
        number = pc.round(number, 2, round_mode="half_up")
        number = pc.if_else(parens, pc.negate(number), number)
        if not allow_negative:
            self.flag(
                pc.less(number, pa.scalar(0, pa.decimal128(38, 10))),
                column,
                "is negative; amounts must be 0 or more",
            )
        if required:
            self.flag(empty, column, "is empty; an amount is required")
        return pc.cast(number, pa.decimal128(18, 2))

    def number(
        self,
        column: str,
        *,
        low: float | None = None,
        high: float | None = None,
        required: bool = False,
    ) -> pa.Array:
        """A plain number as float64, optionally within [low, high]."""
        values = pc.replace_substring_regex(self.raw(column), r"[%\s]", "")
        empty = pc.equal(values, "")
        formula = self._formula(column, values)
        if self.decimal_comma:
            values = pc.replace_substring(values, ",", ".")
        valid = pc.match_substring_regex(values, r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
        self.flag(
            pc.and_(pc.and_(pc.invert(empty), pc.invert(valid)), pc.invert(formula)),
            column,
            "is not a number",
        )
        number = pc.cast(pc.if_else(valid, values, pa.scalar(None, pa.string())), pa.float64())
        if low is not None:
            self.flag(pc.less(number, low), column, f"is below {low:g}")
        if high is not None:
            self.flag(pc.greater(number, high), column, f"is above {high:g}")
        if required:
            self.flag(empty, column, "is empty; a number is required")
        return number

    def boolean(self, column: str, *, default: bool | None = None) -> pa.Array:
        """0/1, true/false, yes/no in any case; empty gives ``default``."""
        values = pc.utf8_lower(self.raw(column))
        true = pc.is_in(values, pa.array(sorted(_TRUE)))
        false = pc.is_in(values, pa.array(sorted(_FALSE)))
        empty = pc.equal(values, "")
        self.flag(
            pc.invert(pc.or_(pc.or_(true, false), empty)),
            column,
            "is not true/false (expected 1/0 or TRUE/FALSE)",
        )
        result = pc.if_else(true, True, pc.if_else(false, False, pa.scalar(default, pa.bool_())))
        return result

    def choice(
        self, column: str, allowed: Mapping[str, str], *, what: str, required: bool = False
    ) -> pa.Array:
        """Map each value (case and spacing ignored) through ``allowed``; unknown values are bad."""
        values = self.raw(column)
        key = pc.utf8_lower(pc.replace_substring_regex(values, r"\s+", " "))
        lookup = {" ".join(k.lower().split()): v for k, v in allowed.items()}
        keys = pa.array(list(lookup), pa.string())
        index = pc.index_in(key, value_set=keys)
        empty = pc.equal(values, "")
        formula = self._formula(column, values)
        shown = ", ".join(sorted(allowed)[:12])
        self.flag(
            pc.and_(pc.and_(pc.is_null(index), pc.invert(empty)), pc.invert(formula)),
            column,
            f"is not a known {what} (expected one of: {shown})",
        )
        if required:
            self.flag(empty, column, f"is empty; a {what} is required")
        return pc.take(pa.array(list(lookup.values()), pa.string()), index)

    def timestamp(self, column: str, *, required: bool = False) -> pa.Array:
        """Date and time, naive UTC, to the second."""
        return self._datetime(column, required=required)

    def date(self, column: str, *, required: bool = False) -> pa.Array:
        """A calendar date; a time part, if any, is dropped."""
        return pc.cast(self._datetime(column, required=required), pa.date32())

    def _datetime(self, column: str, *, required: bool) -> pa.Array:
        values = self.raw(column)
        empty = pc.equal(values, "")
        fast = _strict_iso(values, empty)
        if fast is not None:
            if required:
                self.flag(empty, column, "is empty; a date is required")
            return fast
        formula = self._formula(column, values)
        parts = _extract(values, _ISO)
        other = _extract(values, _MDY if self.date_order == "MDY" else _DMY)
        found = pc.is_valid(parts["y"])
        parts = {k: pc.if_else(found, parts[k], other[k]) for k in _PARTS}
        matched = pc.is_valid(parts["y"])
        seconds, impossible = _to_epoch_seconds(parts)
        unreadable = pc.and_(
            pc.and_(pc.invert(matched), pc.invert(empty)), pc.invert(formula)
        ).to_numpy(zero_copy_only=False)
        order = "MM/DD/YYYY" if self.date_order == "MDY" else "DD/MM/YYYY"
        self.flag(
            unreadable,
            column,
            f"is not a date (expected YYYY-MM-DD or {order}, optionally with a time)",
        )
        self.flag(
            impossible & matched.to_numpy(zero_copy_only=False),
            column,
            "is not a real date or time",
        )
        if required:
            self.flag(empty, column, "is empty; a date is required")
        ok = matched.to_numpy(zero_copy_only=False) & ~impossible
        return pa.array(seconds, pa.int64(), mask=~ok).cast(pa.timestamp("s"))


def _strict_iso(values: pa.Array, empty: pa.Array) -> pa.Array | None:
    """The whole column at once when every cell is a plain ISO date or date-time, else None.

    Arrow's cast is strict (it refuses 2024-02-30) and an order of magnitude faster than
    the general reader, which then only runs on columns that need it.
    """
    try:
        parsed = pc.cast(pc.if_else(empty, "1970-01-01", values), pa.timestamp("s"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    years = pc.year(parsed)
    if (pc.min(years).as_py() or 1970) < 1900 or (pc.max(years).as_py() or 1970) > 2199:
        return None
    return pc.if_else(empty, pa.scalar(None, pa.timestamp("s")), parsed)


def _extract(values: pa.Array, pattern: str) -> dict[str, pa.Array]:
    struct = pc.extract_regex(values, pattern)
    return {name: pc.struct_field(struct, name) for name in _PARTS}


def _int(values: pa.Array, default: int) -> np.ndarray:
    filled = pc.fill_null(
        pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values), str(default)
    )
    return np.asarray(pc.cast(filled, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _to_epoch_seconds(parts: dict[str, pa.Array]) -> tuple[np.ndarray, np.ndarray]:
    """Seconds since 1970 for each row, and a mask of impossible dates or times."""
    year, month, day = _int(parts["y"], 1970), _int(parts["m"], 1), _int(parts["d"], 1)
    hour, minute, second = _int(parts["H"], 0), _int(parts["M"], 0), _int(parts["S"], 0)
    # Only a two-digit year ('24') is a short form; '0024' is the year 24, not 2024.
    two_digits = np.asarray(
        pc.fill_null(pc.less_equal(pc.utf8_length(parts["y"]), 2), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    year = np.where(two_digits, np.where(year < 69, year + 2000, year + 1900), year)
    meridiem = pc.utf8_lower(pc.fill_null(parts["p"], "")).to_numpy(zero_copy_only=False)
    has_meridiem = meridiem != ""
    pm = np.char.startswith(meridiem.astype(str), "p")
    bad_hour = has_meridiem & ((hour < 1) | (hour > 12))
    hour = np.where(has_meridiem, hour % 12 + np.where(pm, 12, 0), hour)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    safe_month = np.clip(month, 1, 12)
    last_day = month_days[safe_month - 1] + ((safe_month == 2) & leap)
    impossible = (
        (month < 1)
        | (month > 12)
        | (day < 1)
        | (day > last_day)
        | (hour > 23)
        | (minute > 59)
        | (second > 59)
        | bad_hour
        | (year < 1900)
        | (year > 2199)
    )
    # days from civil (Howard Hinnant's algorithm), exact for the proleptic Gregorian calendar
    y = year - (safe_month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (safe_month + 9) % 12
    doy = (153 * mp + 2) // 5 + np.clip(day, 1, 31) - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    seconds = days * 86400 + hour * 3600 + minute * 60 + second
    tz = pc.fill_null(parts["tz"], "").to_numpy(zero_copy_only=False).astype(str)
    offset = np.zeros(len(tz), dtype=np.int64)
    signed = np.char.startswith(tz, "+") | np.char.startswith(tz, "-")
    if signed.any():
        for row in np.flatnonzero(signed):
            text = tz[row].replace(":", "")
            sign = 1 if text[0] == "+" else -1
            offset[row] = sign * (int(text[1:3]) * 3600 + int(text[3:5]) * 60)
    return seconds - offset, impossible
