"""Who sees which case, My work, and the concurrent-edit page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from tests.cases.conftest import Tree

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def two_cases(tree: Tree, people: Any, as_person: Any) -> tuple[Any, Any]:
    from yuqing.cases.services import case_open

    with as_person(people["monitor"]):
        mine = case_open(title="一班的事", level=2, org_unit=tree.klass, by=people["monitor"])
        other = case_open(
            title="二班的事", level=2, org_unit=tree.other_class, by=people["monitor"]
        )
    return mine, other


def test_it_shows_a_class_teacher_only_their_own_cases(tree: Tree, two_cases: Any) -> None:
    mine, other = two_cases
    client = _client(tree.ban)
    html = client.get(reverse("cases:index")).content.decode()
    assert "一班的事" in html and "二班的事" not in html
    assert client.get(reverse("cases:detail", args=[mine.pk])).status_code == 200
    assert client.get(reverse("cases:detail", args=[other.pk])).status_code == 404
    assert (
        client.post(reverse("cases:move", args=[other.pk, "assess"]), {"version": 1}).status_code
        == 404
    )


def test_it_shows_a_grade_office_the_cases_of_its_classes(tree: Tree, two_cases: Any) -> None:
    html = _client(tree.nian).get(reverse("cases:index")).content.decode()
    assert "一班的事" in html and "二班的事" in html


def test_it_shows_the_leadership_group_and_administrators_every_case(
    tree: Tree, people: Any, two_cases: Any
) -> None:
    for user in (tree.chen, people["admin"], people["reviewer"]):
        html = _client(user).get(reverse("cases:index")).content.decode()
        assert "一班的事" in html and "二班的事" in html, user


def test_it_shows_another_school_nothing(outsider: Any, two_cases: Any) -> None:
    mine, _other = two_cases
    client = _client(outsider)
    assert "一班的事" not in client.get(reverse("cases:index")).content.decode()
    assert client.get(reverse("cases:detail", args=[mine.pk])).status_code == 404
    assert client.post(reverse("cases:edit", args=[mine.pk]), {"version": 1}).status_code == 404


def test_it_lets_the_bureau_read_but_not_change(bureau_user: Any, two_cases: Any) -> None:
    mine, _other = two_cases
    client = _client(bureau_user)
    assert client.get(reverse("cases:detail", args=[mine.pk])).status_code == 200
    assert (
        client.post(reverse("cases:move", args=[mine.pk, "assess"]), {"version": 1}).status_code
        == 403
    )


def test_it_refuses_staff_without_the_capability(people: Any) -> None:
    assert _client(people["staff"]).get(reverse("cases:index")).status_code == 403


def test_it_tells_the_second_editor_and_keeps_their_text(
    tree: Tree, people: Any, two_cases: Any
) -> None:
    from yuqing.cases.models import Case
    from yuqing.core.tenancy import school_scope

    mine, _other = two_cases
    url = reverse("cases:edit", args=[mine.pk])
    form = {"version": mine.version, "title": mine.title, "level": "2", "summary": ""}
    first = _client(people["handler"]).post(url, {**form, "summary": "第一位的核实结果"})
    assert first.status_code == 302
    second = _client(people["reviewer"]).post(url, {**form, "summary": "第二位写了很长的一段话"})
    assert second.status_code == 409
    html = second.content.decode()
    assert "after you opened it" in html or "之后" in html
    assert "第二位写了很长的一段话" in html  # nothing lost: the text is back in the form
    with school_scope(mine.school_id):
        assert Case.objects.get(pk=mine.pk).summary == "第一位的核实结果"


def test_it_lists_my_work_overdue_first(tree: Tree, people: Any, as_person: Any) -> None:
    from yuqing.cases.services import case_open

    start = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False), as_person(people["monitor"]):
        case_open(title="蓝色小事", level=1, org_unit=tree.klass, by=people["monitor"])
    with (
        time_machine.travel(start + dt.timedelta(hours=1), tick=False),
        as_person(people["monitor"]),
    ):
        case_open(title="红色急事", level=4, org_unit=tree.klass, by=people["monitor"])
    with time_machine.travel(start + dt.timedelta(hours=3), tick=False):
        html = _client(tree.ban).get(reverse("cases:my_work")).content.decode()
    assert html.index("红色急事") < html.index("蓝色小事")
    assert "is-overdue" in html


def test_it_searches_closed_cases_in_the_library(tree: Tree, people: Any, as_person: Any) -> None:
    from yuqing.cases.services import case_close, case_open

    with as_person(people["monitor"]):
        case = case_open(title="食堂饭菜", level=1, org_unit=tree.klass, by=people["monitor"])
        case_close(
            case=case, version=case.version, by=people["monitor"], summary="更换供应商后平息"
        )
        case_open(title="仍在处理", level=1, org_unit=tree.klass, by=people["monitor"])
    html = _client(people["admin"]).get(reverse("cases:library") + "?q=供应商").content.decode()
    assert "食堂饭菜" in html and "仍在处理" not in html


def test_it_opens_a_case_from_the_alert_page_link(tree: Tree, people: Any, in_school: Any) -> None:
    from yuqing.alerts.models import Alert
    from yuqing.cases.models import Case

    alert = Alert.objects.create(level=3, title="校外培训机构冒用学校名义", reason="橙色")
    client = _client(people["monitor"])
    page = client.get(reverse("cases:new") + f"?alert={alert.pk}").content.decode()
    assert "校外培训机构冒用学校名义" in page
    response = client.post(
        reverse("cases:new"),
        {"title": alert.title, "level": "3", "summary": "", "alert": alert.pk, "org_unit": ""},
    )
    assert response.status_code == 302
    case = Case.objects.get(alert=alert)
    assert case.source == "alert" and case.level == 3
