"""Daily reports on each day of a special period, made once, at the school's time."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from tests.reports.conftest import TZ, World
from yuqing.core.tenancy import school_scope
from yuqing.reports import compute, services, tasks
from yuqing.reports.models import Kind, Report

pytestmark = pytest.mark.django_db


def _period(school: Any, start: dt.date, end: dt.date, at: dt.time = dt.time(8, 0)) -> Any:
    from yuqing.duty.services import special_period_save

    with school_scope(school):
        return special_period_save(
            name="开学季", reason="opening", starts_on=start, ends_on=end, report_at=at
        )


def test_it_makes_one_daily_report_per_day_of_a_period_ending_mid_week(
    world: World, school: Any, people: Any, media: Any
) -> None:
    from yuqing.alerts.models import Notification

    # Monday 2 Feb to Wednesday 4 Feb 2026; the reports are made the mornings after.
    _period(school, dt.date(2026, 2, 2), dt.date(2026, 2, 4))
    for day in range(2, 9):  # every morning of the week, twice (a rerun makes nothing new)
        for hour in (7, 9, 10):
            with time_machine.travel(dt.datetime(2026, 2, day, hour, tzinfo=TZ), tick=False):
                tasks.reports_daily_tick.call_local()
    with school_scope(school):
        days = sorted(Report.objects.filter(kind=Kind.DAILY).values_list("period_start", flat=True))
        assert days == [dt.date(2026, 2, 2), dt.date(2026, 2, 3), dt.date(2026, 2, 4)]
        assert all(r.automatic for r in Report.objects.all())
        report = Report.objects.get(period_start=dt.date(2026, 2, 3))
        assert report.data["numbers"]["mentions"]["value"] == len(
            world.on(dt.date(2026, 2, 3), dt.date(2026, 2, 3))
        )
        # Readers of reports (administrator, monitor, reviewer) hear of each one in the app.
        told = set(
            Notification.objects.filter(title=report.title).values_list("user__username", flat=True)
        )
        assert told == {"alice", "ming", "li"}
        week = compute.compute(Kind.WEEKLY, dt.date(2026, 2, 2), dt.date(2026, 2, 8))
    assert week["numbers"]["special_days"]["value"] == 3
    assert week["numbers"]["daily_reports"]["value"] == 3


def test_it_waits_for_the_configured_time(world: World, school: Any, media: Any) -> None:
    _period(school, dt.date(2026, 2, 2), dt.date(2026, 2, 4), at=dt.time(17, 30))
    with time_machine.travel(dt.datetime(2026, 2, 3, 17, 0, tzinfo=TZ), tick=False):
        tasks.reports_daily_tick.call_local()
    with school_scope(school):
        assert not Report.objects.exists()
    with time_machine.travel(dt.datetime(2026, 2, 3, 17, 31, tzinfo=TZ), tick=False):
        tasks.reports_daily_tick.call_local()
    with school_scope(school):
        assert list(Report.objects.values_list("period_start", flat=True)) == [dt.date(2026, 2, 2)]


def test_it_does_not_make_another_schools_daily_report(
    world: World, school: Any, other_school: Any, media: Any
) -> None:
    _period(other_school, dt.date(2026, 2, 2), dt.date(2026, 2, 4))
    with time_machine.travel(dt.datetime(2026, 2, 3, 9, tzinfo=TZ), tick=False):
        tasks.reports_daily_tick.call_local()
    with school_scope(school):
        assert not Report.objects.exists()
    with school_scope(other_school):
        assert Report.objects.count() == 1


def test_it_refuses_a_period_too_long_for_its_kind(school: Any) -> None:
    from django.core.exceptions import ValidationError

    with school_scope(school), pytest.raises(ValidationError):
        services.report_generate(
            kind=Kind.DAILY, start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 1)
        )
    with school_scope(school), pytest.raises(ValidationError):
        services.report_generate(
            kind=Kind.WEEKLY, start=dt.date(2026, 1, 8), end=dt.date(2026, 1, 1)
        )
