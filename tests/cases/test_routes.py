"""Routes: seeded with the school's usual routes; resolution never ends with nobody."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from tests.cases.conftest import Tree

pytestmark = pytest.mark.django_db


def _open(tree: Tree, by: Any, **kwargs: Any) -> Any:
    from yuqing.cases.services import case_open

    kwargs.setdefault("title", "初一(1)班家长群里有人质疑食堂卫生")
    kwargs.setdefault("level", 2)
    kwargs.setdefault("org_unit", tree.klass)
    return case_open(by=by, **kwargs)


def test_it_seeds_the_schools_usual_routes(tree: Tree, in_school: Any) -> None:
    from yuqing.cases.models import Route
    from yuqing.cases.routes import routes_seed

    routes_seed()
    routes_seed()  # once only
    routes = {r.kind: [s.label for s in r.steps.order_by("position")] for r in Route.objects.all()}
    assert routes == {
        "class": ["班主任", "年级组", "政教处", "工作专班", "领导小组"],
        "teacher": ["年级组", "教务处", "工作专班", "领导小组"],
        "staff": ["所在部门", "安保办", "工作专班", "领导小组"],
    }
    top = Route.objects.get(kind="class").steps.get(position=4)
    assert top.org_unit == tree.leadership and top.role == "reviewer"


def test_it_gives_a_class_case_to_the_class_teacher(
    tree: Tree, people: Any, as_person: Any
) -> None:
    with as_person(people["monitor"]):
        case = _open(tree, people["monitor"])
        assert case.step_label == "班主任"
        assert case.current_unit == tree.klass
        assert [a.user for a in case.assignees.all()] == [tree.ban]
        assert not case.step_fallback


def test_it_passes_over_an_absent_class_teacher_to_the_grade_office(
    tree: Tree, people: Any, as_person: Any
) -> None:
    from yuqing.cases.models import CaseAction
    from yuqing.cases.services import absence_add

    with as_person(people["admin"]):
        today = dt.date.today()
        absence_add(
            user=tree.ban,
            starts_on=today - dt.timedelta(days=1),
            ends_on=today + dt.timedelta(days=3),
        )
        case = _open(tree, people["admin"])
        assert case.step_label == "年级组"
        assert [a.user for a in case.assignees.all()] == [tree.nian]
        routed = case.actions.get(kind=CaseAction.Kind.ROUTED)
        assert "班主任" in routed.text


def test_it_passes_over_inactive_people_and_empty_roles(
    tree: Tree, people: Any, as_person: Any
) -> None:
    from yuqing.accounts.models import User

    User._base_manager.filter(pk__in=[tree.ban.pk, tree.nian.pk]).update(is_active=False)
    with as_person(people["admin"]):
        case = _open(tree, people["admin"])
        # Class teacher and grade head inactive: 政教处 has it.
        assert case.step_label == "政教处"
        assert [a.user for a in case.assignees.all()] == [tree.zheng]


def test_it_falls_back_to_the_administrators_never_to_nobody(
    tree: Tree, people: Any, as_person: Any
) -> None:
    from yuqing.accounts.models import RoleAssignment
    from yuqing.audit.models import AuditEntry

    with as_person(people["admin"]):
        RoleAssignment.objects.filter(org_unit__isnull=False).delete()  # every unit role empty
        case = _open(tree, people["admin"], level=4)
        assert case.step_fallback
        assert [a.user for a in case.assignees.all()] == [people["admin"]]
        entry = AuditEntry.objects.get(action="cases.case.routed_to_admins")
        assert entry.object_id == str(case.pk)
        assert len(entry.changes["skipped"]) == 5


def test_it_reports_up_and_hands_back_with_a_reason(
    tree: Tree, people: Any, as_person: Any
) -> None:
    from yuqing.cases.models import CaseAction
    from yuqing.cases.services import case_hand_back, case_report_up

    with as_person(tree.ban):
        case = _open(tree, tree.ban)
        with pytest.raises(ValidationError):
            case_report_up(case=case, version=case.version, by=tree.ban, reason="  ")
        case = case_report_up(case=case, version=case.version, by=tree.ban, reason="涉及多个班级")
        assert case.step_label == "年级组"
        case = case_report_up(case=case, version=case.version, by=tree.nian, reason="需政教处协调")
        assert [a.user for a in case.assignees.all()] == [tree.zheng]
        case = case_hand_back(
            case=case, version=case.version, by=tree.zheng, reason="由年级组先核实"
        )
        assert case.step_label == "年级组"
        kinds = list(case.actions.values_list("kind", flat=True))
        assert kinds.count(CaseAction.Kind.REPORTED_UP) == 2
        assert CaseAction.Kind.HANDED_BACK in kinds


def test_it_skips_an_empty_step_when_reporting_up(tree: Tree, people: Any, as_person: Any) -> None:
    from yuqing.cases.services import case_report_up

    with as_person(tree.zheng):
        case = _open(tree, tree.zheng)
        case = case_report_up(case=case, version=case.version, by=tree.ban, reason="a")
        case = case_report_up(case=case, version=case.version, by=tree.nian, reason="b")
        # 工作专班 has nobody: reporting up from 政教处 reaches the leadership group.
        case = case_report_up(case=case, version=case.version, by=tree.zheng, reason="c")
        assert case.step_label == "领导小组"
        assert [a.user for a in case.assignees.all()] == [tree.chen]
        assert case.reported_at is not None
        with pytest.raises(ValidationError, match=r"最高一级|top"):
            case_report_up(case=case, version=case.version, by=tree.chen, reason="d")
