"""The petition clock in working days, over the 2026 National Day holiday and its 调休."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from yuqing.cases.deadlines import Clock, accept_due, finish_due

D = dt.date


def test_it_skips_the_national_day_week_and_counts_the_make_up_saturday() -> None:
    # Received Mon 28 Sep 2026. Day 1-2: 29-30 Sep; 1-7 Oct off; 8, 9 Oct; Sat 10 Oct is a
    # make-up working day (调休) and counts; then 12-16 and 19-23 Oct: the 15th is Fri 23 Oct.
    assert accept_due(D(2026, 9, 28), 15) == D(2026, 10, 23)


def test_it_would_be_wrong_on_weekends_alone() -> None:
    naive = D(2026, 9, 28)
    n = 0
    while n < 15:
        naive += dt.timedelta(days=1)
        if naive.weekday() < 5:
            n += 1
    assert naive == D(2026, 10, 19)  # what a weekends-only clock says: four days too early
    assert accept_due(D(2026, 9, 28), 15) != naive


def test_it_counts_the_make_up_sunday_before_the_holiday() -> None:
    # Sun 20 Sep 2026 is worked in exchange for the holiday: received Fri 18 Sep, the first
    # working day after it is that Sunday.
    assert Clock().add_workdays(D(2026, 9, 18), 1) == D(2026, 9, 20)


def test_it_moves_a_limit_that_ends_in_the_holiday_to_the_next_working_day() -> None:
    # Accepted 2 Aug 2026: 60 days later is 1 Oct, National Day; the limit becomes 8 Oct.
    assert finish_due(D(2026, 8, 2), 60) == D(2026, 10, 8)
    assert finish_due(D(2026, 8, 1), 60) == D(2026, 9, 30)


def test_it_counts_working_days_left() -> None:
    clock = Clock()
    assert clock.workdays_left(D(2026, 9, 30), D(2026, 10, 9)) == 2  # 8 and 9 Oct
    assert clock.workdays_left(D(2026, 10, 12), D(2026, 10, 9)) < 0
    assert clock.subtract_workdays(D(2026, 10, 12), 3) == D(2026, 10, 8)  # 10 Oct counts


def test_it_falls_back_to_weekends_for_a_year_the_calendar_does_not_know() -> None:
    clock = Clock()
    # 2027 is not in the package yet: Mon 4 Jan + 5 working days is Mon 11 Jan.
    assert clock.add_workdays(D(2027, 1, 4), 5) == D(2027, 1, 11)
    assert clock.gaps == {2027}


@pytest.mark.django_db
def test_it_warns_the_administrators_once_when_the_calendar_runs_out(
    people: dict[str, Any], in_school: Any
) -> None:
    from yuqing.alerts.models import Notification
    from yuqing.audit.models import AuditEntry
    from yuqing.cases.services import Intake, petition_receive

    with time_machine.travel(dt.datetime(2027, 1, 4, 9, tzinfo=dt.UTC), tick=False):
        for n in range(2):
            petition, _code = petition_receive(
                intake=Intake(
                    channel="hotline",
                    subject=f"转办 {n}",
                    body="学校门口交通拥堵",
                    received_on=D(2027, 1, 4),
                ),
                by=people["monitor"],
            )
    assert petition.accept_due == D(
        2027, 1, 25
    )  # 15 weekdays: a safe guess, not a holiday-aware one
    assert petition.calendar_gaps == [2027]
    warned = Notification.objects.filter(body__contains="chinese-calendar")
    assert list(warned.values_list("user__username", flat=True)) == ["alice"]
    assert AuditEntry.objects.filter(action="cases.calendar.uncovered").count() == 1
