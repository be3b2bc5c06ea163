"""Cases: opening from an alert, the state machine, concurrent edits, closing, overdue."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError

from tests.cases.conftest import Tree

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 11, 24, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai


def _alert(level: int = 4) -> Any:
    from yuqing.alerts.models import Alert

    return Alert.objects.create(level=level, title="学生在食堂就餐后腹痛，家长发帖", reason="红色")


def test_it_opens_a_case_from_an_alert_and_stops_its_escalation(
    tree: Tree, people: Any, as_person: Any
) -> None:
    from yuqing.audit.models import AuditEntry
    from yuqing.cases.services import case_open

    with as_person(people["monitor"]):
        alert = _alert()
        case = case_open(
            title=alert.title,
            level=alert.level,
            source="alert",
            alert=alert,
            org_unit=tree.klass,
            by=people["monitor"],
        )
        alert.refresh_from_db()
        assert alert.status == "acknowledged"
        assert case.number.endswith("-0001") and case.source == "alert"
        assert case.report_due_at - case.created_at == dt.timedelta(hours=1)  # red: 1 hour
        assert case.response_due_at - case.created_at == dt.timedelta(hours=4)
        assert AuditEntry.objects.filter(
            action="cases.case.opened", object_id=str(case.pk)
        ).exists()


def test_it_walks_the_states_and_refuses_a_wrong_transition(
    tree: Tree, people: Any, as_person: Any
) -> None:
    from yuqing.cases import services

    with as_person(tree.ban):
        case = services.case_open(title="t", level=1, org_unit=tree.klass, by=tree.ban)
        case = services.case_assess(case=case, version=case.version, by=tree.ban)
        case = services.case_start_handling(case=case, version=case.version, by=tree.ban)
        with pytest.raises(ValidationError, match=r"当前状态|current state"):
            services.case_assess(case=case, version=case.version, by=tree.ban)
        case = services.case_mark_responded(case=case, version=case.version, by=tree.ban)
        assert case.status == "responded" and case.first_response_at
        case = services.case_close(
            case=case, version=case.version, by=tree.ban, summary="已核实并回复"
        )
        assert case.status == "closed" and not case.assignees.exists()
        case = services.case_reopen(
            case=case, version=case.version, by=tree.ban, reason="家长再次反映"
        )
        assert case.status == "reopened" and case.assignees.exists()


def test_it_refuses_the_second_of_two_concurrent_edits_and_keeps_the_first(
    tree: Tree, people: Any, as_person: Any
) -> None:
    from yuqing.cases import services
    from yuqing.cases.models import Case

    with as_person(people["handler"]):
        case = services.case_open(
            title="原标题", level=2, org_unit=tree.klass, by=people["handler"]
        )
        seen = case.version
        mine = Case.objects.get(pk=case.pk)
        theirs = Case.objects.get(pk=case.pk)
        services.case_update(
            case=mine, version=seen, by=people["handler"], summary="汇辉写的核实情况"
        )
        with pytest.raises(services.StaleCase, match=r"打开之后|after you opened it"):
            services.case_update(
                case=theirs, version=seen, by=people["reviewer"], summary="李的版本"
            )
        with pytest.raises(services.StaleCase):
            services.case_report_up(case=theirs, version=seen, by=people["reviewer"], reason="x")
        saved = Case.objects.get(pk=case.pk)
        assert saved.summary == "汇辉写的核实情况"
        assert saved.version == seen + 1
        assert saved.step_label == "班主任"


def test_it_requires_a_summary_and_for_red_an_after_action_review(
    tree: Tree, people: Any, as_person: Any
) -> None:
    from yuqing.cases import services

    with as_person(people["reviewer"]):
        case = services.case_open(title="t", level=4, org_unit=tree.klass, by=people["reviewer"])
        with pytest.raises(ValidationError) as caught:
            services.case_close(case=case, version=case.version, by=people["reviewer"], summary="")
        assert set(caught.value.message_dict) == {
            "summary",
            "review_happened",
            "review_done",
            "review_changes",
        }
        case = services.case_close(
            case=case,
            version=case.version,
            by=people["reviewer"],
            summary="已处置",
            review_happened="发生了什么",
            review_done="做了什么",
            review_changes="改进什么",
        )
        assert case.status == "closed" and case.review_changes == "改进什么"


def test_it_escalates_an_overdue_red_case_once_through_notifications(
    tree: Tree, people: Any, as_person: Any
) -> None:
    from yuqing.alerts.models import Notification
    from yuqing.audit.models import AuditEntry
    from yuqing.cases import services
    from yuqing.core.tenancy import school_scope

    with time_machine.travel(NOON, tick=False), as_person(people["monitor"]):
        case = services.case_open(
            title="红色事件", level=4, org_unit=tree.klass, by=people["monitor"]
        )
        before = set(Notification.objects.values_list("pk", flat=True))
    later = NOON + dt.timedelta(minutes=61)
    assert services.cases_escalate_overdue(now=later) == 1
    assert services.cases_escalate_overdue(now=later + dt.timedelta(minutes=1)) == 0  # once
    with school_scope(tree.klass.school_id):
        told = set(
            Notification.objects.exclude(pk__in=before).values_list("user__username", flat=True)
        )
        # The class teacher (current step) and the grade office head (next step up).
        assert told == {"ban", "nian"}
        entry = AuditEntry.objects.get(action="cases.case.overdue")
        assert set(entry.changes["kinds"]) == {"step", "report"}
        assert case.actions.filter(kind="overdue").count() == 1
        case.refresh_from_db()
        assert case.is_overdue(later)


def test_it_takes_the_published_response_link_back_onto_the_case(
    tree: Tree, people: Any, as_person: Any
) -> None:
    from yuqing.cases import services

    with as_person(people["monitor"]):
        case = services.case_open(title="t", level=3, org_unit=tree.klass, by=people["monitor"])
        stale = case.version
        services.case_update(
            case=case, version=stale, by=people["monitor"], response_draft="情况说明……"
        )
        case = services.case_response_published(case=case, url="https://www.example.edu.cn/news/1")
        assert case.status == "responded"
        assert case.first_response_at and case.response_url.endswith("/news/1")
        assert case.actions.filter(kind="response_published").exists()


def test_it_adds_evidence_with_its_sha256(
    tree: Tree, people: Any, as_person: Any, tmp_path: Any, settings: Any
) -> None:
    import hashlib
    import io

    from yuqing.cases import files, services

    settings.MEDIA_ROOT = tmp_path
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    with as_person(people["monitor"]):
        case = services.case_open(title="t", level=2, org_unit=tree.klass, by=people["monitor"])
        checked = files.check_upload(file=io.BytesIO(png), filename="截图.png", max_bytes=1000)
        evidence = services.case_evidence_add(case=case, checked=checked, by=people["monitor"])
        assert evidence.sha256 == hashlib.sha256(png).hexdigest()
        assert (tmp_path / evidence.file.name).read_bytes() == png
        with pytest.raises(ValidationError):
            files.check_upload(file=io.BytesIO(b"<html><script>"), filename="x.png", max_bytes=1000)
