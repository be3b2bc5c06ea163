"""The working-day clock of petitions, on the Chinese holiday calendar (chinese-calendar).

Counting follows the usual rule for statutory periods: the day of receipt is not counted, a
period in working days skips weekends and public holidays but counts make-up working days
(调休, a Saturday worked in exchange for a longer holiday), and a period in days that ends on
a day off ends on the next working day instead.

chinese-calendar knows the State Council's arrangement only for the years it was released
with; for a later year it raises ``NotImplementedError``. Then weekends alone count as days
off, and the year is reported in ``Clock.gaps`` so the caller can warn the administrators to
update the package: a deadline a day early is safer than none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import chinese_calendar

# A period longer than this is a bug (or a calendar that says every day is a holiday).
_MAX_SCAN_DAYS = 3660


@dataclass
class Clock:
    """Working-day arithmetic that remembers the years it had to guess."""

    gaps: set[int] = field(default_factory=set)

    def is_workday(self, day: dt.date) -> bool:
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            self.gaps.add(day.year)
            return day.weekday() < 5

    def add_workdays(self, start: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``start`` (``start`` itself is not counted)."""
        if n <= 0:
            return start
        day = start
        for _ in range(_MAX_SCAN_DAYS):
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                n -= 1
                if n == 0:
                    return day
        raise ValueError("no working day found within ten years")

    def subtract_workdays(self, end: dt.date, n: int) -> dt.date:
        """The working day ``n`` working days before ``end``."""
        day = end
        for _ in range(_MAX_SCAN_DAYS):
            if n <= 0:
                return day
            day -= dt.timedelta(days=1)
            if self.is_workday(day):
                n -= 1
        raise ValueError("no working day found within ten years")

    def roll_forward(self, day: dt.date) -> dt.date:
        """``day`` if it is a working day, else the next working day."""
        for _ in range(_MAX_SCAN_DAYS):
            if self.is_workday(day):
                return day
            day += dt.timedelta(days=1)
        raise ValueError("no working day found within ten years")

    def add_days(self, start: dt.date, n: int) -> dt.date:
        """``n`` calendar days after ``start``; a limit falling on a day off moves to the next
        working day."""
        return self.roll_forward(start + dt.timedelta(days=n))

    def workdays_left(self, today: dt.date, due: dt.date) -> int:
        """Working days from tomorrow up to and including ``due`` (negative when overdue)."""
        if due < today:
            return -self._count(due, today)
        return self._count(today, due)

    def _count(self, after: dt.date, until: dt.date) -> int:
        count = 0
        day = after
        while day < until:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count


def accept_due(received_on: dt.date, workdays: int, clock: Clock | None = None) -> dt.date:
    return (clock or Clock()).add_workdays(received_on, workdays)


def finish_due(accepted_on: dt.date, days: int, clock: Clock | None = None) -> dt.date:
    return (clock or Clock()).add_days(accepted_on, days)
