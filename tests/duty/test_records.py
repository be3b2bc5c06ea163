"""Duty records: group history, the responsibility list and its reminders, files, counts."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from yuqing.core.tenancy import school_scope
from yuqing.duty import selectors, services
from yuqing.duty.models import Membership, Responsibility

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")


def test_it_keeps_the_history_of_who_held_which_role(school: Any, people: Any) -> None:
    with school_scope(school):
        group = services.group_save(
            name="领导小组", kind="leadership", established_on=dt.date(2025, 9, 1)
        )
        services.membership_set(
            group=group, user=people["reviewer"], role="deputy", since=dt.date(2025, 9, 1)
        )
        services.membership_set(
            group=group, user=people["reviewer"], role="leader", since=dt.date(2026, 2, 1)
        )
        on_jan = services.members_on(group, dt.date(2026, 1, 15))
        on_mar = services.members_on(group, dt.date(2026, 3, 1))
        history = list(Membership.objects.filter(group=group).order_by("since"))
    assert [m.role for m in on_jan] == ["deputy"]
    assert [m.role for m in on_mar] == ["leader"]
    assert history[0].until == dt.date(2026, 1, 31) and history[1].until is None


def test_it_refuses_a_member_of_another_school(school: Any, outsider: Any) -> None:
    with school_scope(school):
        group = services.group_save(
            name="工作小组", kind="working", established_on=dt.date(2025, 9, 1)
        )
        with pytest.raises(ValidationError):
            services.membership_set(
                group=group, user=outsider, role="member", since=dt.date(2026, 1, 1)
            )


def test_it_opens_a_repeating_item_again_when_done(school: Any, people: Any) -> None:
    with school_scope(school):
        item = services.responsibility_save(
            title="每月舆情研判会",
            kind="principal",
            owners=[people["monitor"]],
            due_on=dt.date(2026, 1, 31),
            recurrence="monthly",
        )
        done = services.responsibility_complete(
            item=item, user=people["admin"], evidence_note="会议纪要已归档"
        )
        assert done.status == Responsibility.Status.OPEN and done.due_on == dt.date(2026, 2, 28)
        once = services.responsibility_save(
            title="签订责任书", kind="dual", owners=[people["handler"]], due_on=dt.date(2026, 3, 1)
        )
        services.responsibility_complete(item=once, user=people["admin"])
        once.refresh_from_db()
        assert once.status == Responsibility.Status.DONE
        with pytest.raises(ValidationError):
            services.responsibility_complete(item=once, user=people["admin"])


def test_it_reminds_owners_once_before_the_due_date(school: Any, people: Any) -> None:
    from yuqing.alerts.models import Notification

    with school_scope(school):
        services.responsibility_save(
            title="提交半年报告",
            kind="principal",
            owners=[people["monitor"], people["reviewer"]],
            due_on=dt.date(2026, 6, 30),
            remind_days=3,
        )
        assert services.reminders_send(today=dt.date(2026, 6, 26)) == 0  # four days before
        assert services.reminders_send(today=dt.date(2026, 6, 27)) == 1
        assert services.reminders_send(today=dt.date(2026, 6, 28)) == 0  # once per due date
        told = sorted(Notification.objects.values_list("user__username", flat=True))
    assert told == ["li", "ming"]


def test_the_reminder_task_reaches_every_school(
    school: Any, other_school: Any, people: Any, outsider: Any
) -> None:
    from yuqing.alerts.models import Notification
    from yuqing.duty import tasks

    for sch, owner in ((school, people["monitor"]), (other_school, outsider)):
        with school_scope(sch):
            services.responsibility_save(
                title="检查", kind="other", owners=[owner], due_on=dt.date(2026, 5, 2)
            )
    with time_machine.travel(dt.datetime(2026, 5, 1, 7, 5, tzinfo=TZ), tick=False):
        tasks.duty_reminders.call_local()
    with school_scope(school):
        assert list(Notification.objects.values_list("user__username", flat=True)) == ["ming"]
    with school_scope(other_school):
        assert list(Notification.objects.values_list("user__username", flat=True)) == ["olga"]


def test_it_checks_attachments_by_content(school: Any) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    assert (
        services.file_check(file=io.BytesIO(png), filename="合影.png").content_type == "image/png"
    )
    with pytest.raises(ValidationError):
        services.file_check(file=io.BytesIO(b"MZ\x90\0evil"), filename="纪要.pdf")
    with pytest.raises(ValidationError):
        services.file_check(file=io.BytesIO(b"%PDF-1.7"), filename="photo.png")
    with pytest.raises(ValidationError):
        services.file_check(file=io.BytesIO(b"%PDF-1.7"), filename="a.pdf", photos_only=True)
    with pytest.raises(ValidationError):
        services.file_check(file=io.BytesIO(b""), filename="a.pdf")


def test_it_counts_per_type_and_per_person(
    school: Any, other_school: Any, people: Any, outsider: Any
) -> None:
    with school_scope(school):
        services.study_session_save(
            held_on=dt.date(2026, 3, 1),
            kind="central_group",
            topic="中心组学习",
            organiser=people["reviewer"],
            hours=Decimal("2.5"),
            attendees=[people["monitor"], people["admin"]],
            absent=[people["handler"]],
        )
        services.study_session_save(
            held_on=dt.date(2026, 4, 1),
            kind="seminar",
            topic="研讨",
            organiser=people["reviewer"],
            hours=1,
            attendees=[people["monitor"]],
        )
        services.training_save(
            held_on=dt.date(2026, 5, 1),
            topic="舆情监测培训",
            trainer="市网信办",
            audience="monitoring",
            hours=3,
            attendees=[people["monitor"]],
        )
        services.study_session_save(
            held_on=dt.date(2026, 8, 1),
            kind="seminar",
            topic="下半年",
            organiser=None,
            hours=1,
        )
    with school_scope(other_school):
        services.study_session_save(
            held_on=dt.date(2026, 3, 2),
            kind="seminar",
            topic="别校",
            organiser=outsider,
            hours=9,
            attendees=[outsider],
        )
    with school_scope(school):
        half = selectors.period_of(2026, 1)
        study = {c.kind: (c.count, c.hours) for c in selectors.study_counts(half)}
        people_counts = {p.name: p for p in selectors.person_counts(half)}
        year = {c.kind: c.count for c in selectors.study_counts(selectors.period_of(2026))}
    assert study["central_group"] == (1, Decimal("2.5")) and study["seminar"] == (1, Decimal("1"))
    ming = people_counts[str(people["monitor"])]
    assert (ming.sessions, ming.session_hours, ming.trainings, ming.training_hours) == (
        2,
        Decimal("3.5"),
        1,
        Decimal("3"),
    )
    assert people_counts[str(people["handler"])].absences == 1
    assert people_counts[str(people["reviewer"])].organised == 2
    assert "Olga" not in people_counts
    assert year["seminar"] == 2


def test_it_refuses_a_special_period_that_ends_before_it_starts(school: Any) -> None:
    with school_scope(school), pytest.raises(ValidationError):
        services.special_period_save(
            name="期末", reason="exams", starts_on=dt.date(2026, 1, 10), ends_on=dt.date(2026, 1, 5)
        )
