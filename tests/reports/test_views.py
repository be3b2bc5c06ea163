"""The reports pages and the dashboard: who may do what, and nothing of another school."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from tests.reports.conftest import TZ, World
from tests.test_permissions import inline_code_in
from yuqing.accounts.roles import CAPABILITIES
from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import all_schools, school_scope
from yuqing.reports.models import Report

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _generate(client: Client, kind: str, start: str, end: str) -> Any:
    return client.post(reverse("reports:generate"), {"kind": kind, "start": start, "end": end})


def test_it_lets_only_the_office_generate(world: World, people: dict[str, Any], media: Any) -> None:
    for role, user in people.items():
        response = _generate(_client(user), "daily", "2026-02-03", "2026-02-03")
        want_ok = role in CAPABILITIES["reports.generate"]
        assert (response.status_code == 302) == want_ok, role
        assert (response.status_code == 403) == (not want_ok), role
    with school_scope(people["admin"].school):
        assert Report.objects.count() == 2  # the administrator's and the monitor's


def test_it_shows_a_report_with_where_its_numbers_came_from(
    world: World, people: dict[str, Any], media: Any
) -> None:
    client = _client(people["monitor"])
    response = _generate(client, "weekly", "2026-01-26", "2026-02-01")
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert inline_code_in(html) == []
    assert str(len(world.on(dt.date(2026, 1, 26), dt.date(2026, 2, 1)))) in html
    with school_scope(people["admin"].school):
        report = Report.objects.get()
    download = client.get(reverse("reports:download", args=[report.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:2] == b"PK"
    with all_schools():
        actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"reports.report.generated", "reports.report.downloaded"} <= actions


def test_it_keeps_the_editors_next_steps_and_the_numbers(
    world: World, people: dict[str, Any], media: Any
) -> None:
    client = _client(people["admin"])
    location = _generate(client, "daily", "2026-02-03", "2026-02-03")["Location"]
    with school_scope(people["admin"].school):
        report = Report.objects.get()
    before = report.data["numbers"]
    client.post(reverse("reports:next_steps", args=[report.pk]), {"next_steps": "继续关注食堂话题"})
    with school_scope(people["admin"].school):
        report.refresh_from_db()
    assert report.next_steps == "继续关注食堂话题"
    assert report.data["numbers"] == before
    assert "继续关注食堂话题" in client.get(location).content.decode()
    regen = client.post(reverse("reports:regenerate", args=[report.pk]), follow=True)
    assert "v1" in regen.content.decode()


def test_another_school_never_sees_our_reports(
    world: World, people: dict[str, Any], outsider: Any, media: Any
) -> None:
    _generate(_client(people["admin"]), "daily", "2026-02-03", "2026-02-03")
    with school_scope(people["admin"].school):
        report = Report.objects.get()
    client = _client(outsider)
    assert report.title not in client.get(reverse("reports:index")).content.decode()
    for name in ("reports:detail", "reports:download"):
        assert client.get(reverse(name, args=[report.pk])).status_code == 404


def test_it_draws_the_dashboard_from_this_schools_mentions(
    world: World, people: dict[str, Any]
) -> None:
    client = _client(people["handler"])
    with time_machine.travel(dt.datetime(2026, 2, 10, 9, tzinfo=TZ), tick=False):
        page = client.get(
            reverse("reports:dashboard") + "?range=custom&from=2026-02-01&to=2026-02-07"
        )
        display = client.get(reverse("reports:display"))
        fragment = client.get(reverse("reports:display"), HTTP_HX_REQUEST="true")
    html = page.content.decode()
    assert page.status_code == 200 and inline_code_in(html) == []
    assert page.context["total"] == len(world.on(dt.date(2026, 2, 1), dt.date(2026, 2, 7)))
    sentiment = page.context["sentiment_chart"]
    assert sum(sum(s["data"]) for s in sentiment["series"]) == page.context["total"]
    assert display.status_code == 200 and inline_code_in(display.content.decode()) == []
    assert 'hx-trigger="every 60s"' in fragment.content.decode()
    assert "<html" not in fragment.content.decode()


def test_it_keeps_the_dashboard_from_people_without_monitor_access(people: dict[str, Any]) -> None:
    for role, user in people.items():
        status = _client(user).get(reverse("reports:dashboard")).status_code
        assert status == (200 if role in CAPABILITIES["monitor.view"] else 403), role
