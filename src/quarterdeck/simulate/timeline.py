"""The simulated calendar: day numbers inside the history and the quarters they fall in.

Everything inside the simulator counts days from the first day of the history (day 0) and
seconds from its midnight, so arrays stay small integers; only the export turns them into
calendar dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

SECONDS_PER_DAY = 86_400
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Timeline:
    """The history window: `days` days ending on (and including) the export date."""

    start: dt.date
    end: dt.date

    @classmethod
    def ending(cls, end: dt.date, years: float) -> Timeline:
        """A window of `years` years that ends on `end`."""
        days = max(60, round(years * 365.25))
        return cls(start=end - dt.timedelta(days=days - 1), end=end)

    @property
    def days(self) -> int:
        """Number of days in the window."""
        return (self.end - self.start).days + 1

    @property
    def epoch_day0(self) -> int:
        """Days from 1970-01-01 to day 0, to turn day numbers into dates."""
        return (self.start - _EPOCH).days

    @property
    def end_second(self) -> int:
        """The last second of the export date, in simulator seconds."""
        return self.days * SECONDS_PER_DAY - 1

    def month_index(self, day: np.ndarray) -> np.ndarray:
        """Months since 1970 for each day number (a calendar month id)."""
        d64 = (np.asarray(day, dtype=np.int64) + self.epoch_day0).astype("datetime64[D]")
        return d64.astype("datetime64[M]").astype(np.int64)

    def quarter_index(self, day: np.ndarray) -> np.ndarray:
        """Quarters since 1970 for each day number."""
        return self.month_index(day) // 3

    def quarter_start_day(self, quarter: np.ndarray) -> np.ndarray:
        """Day number of the first day of each quarter id."""
        months = (np.asarray(quarter, dtype=np.int64) * 3).astype("datetime64[M]")
        return months.astype("datetime64[D]").astype(np.int64) - self.epoch_day0

    def quarter_end_day(self, day: np.ndarray) -> np.ndarray:
        """Day number of the last day of the quarter each day falls in."""
        return self.quarter_start_day(self.quarter_index(day) + 1) - 1

    def weekday(self, day: np.ndarray) -> np.ndarray:
        """0 = Monday ... 6 = Sunday."""
        return (np.asarray(day, dtype=np.int64) + self.epoch_day0 + 3) % 7

    def quarters(self) -> np.ndarray:
        """Quarter ids from the one holding day 0 to the one holding the export date."""
        first = int(self.quarter_index(np.array([0]))[0])
        last = int(self.quarter_index(np.array([self.days - 1]))[0])
        return np.arange(first, last + 1, dtype=np.int64)
