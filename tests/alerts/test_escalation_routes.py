"""Escalation along the school's handling routes (the cases module's), with a controlled clock.

An unacknowledged alert goes to the next step of the route: its case's route when it has a
case, else the route a new case from it would take, else (a school without routes) the
alert policy's ladder of roles. Every message says which route and step it used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests.alerts.conftest import evaluate, make_event, risk_rule, webhook_channel
from tests.conftest import make_user
from yuqing.alerts import delivery, services
from yuqing.alerts.models import Alert, Delivery, Notification
from yuqing.core.tenancy import school_scope

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2025, 3, 12, 23, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _in_english() -> Any:
    with translation.override("en"):
        yield


@pytest.fixture
def units(school: Any, people: Any) -> dict[str, Any]:
    """领导小组 → 工作专班 → 政教处, with Zheng handling at 政教处 and Chen leading; nobody
    holds a role in 工作专班."""
    from yuqing.accounts.models import OrgUnit, RoleAssignment

    zheng = make_user(school, "zheng", name="政教处 Zheng")
    chen = make_user(school, "chen", name="校长 Chen")
    with school_scope(school):
        leadership = OrgUnit.objects.create(name="领导小组", kind="leadership")
        working = OrgUnit.objects.create(name="工作专班", kind="working_group", parent=leadership)
        office = OrgUnit.objects.create(name="政教处", kind="office", parent=working)
        grade = OrgUnit.objects.create(name="初一年级组", kind="grade", parent=office)
        klass = OrgUnit.objects.create(name="初一(1)班", kind="class", parent=grade)
        RoleAssignment.objects.create(user=zheng, role="handler", org_unit=office)
        RoleAssignment.objects.create(user=chen, role="reviewer", org_unit=leadership)
    return {
        "leadership": leadership,
        "working": working,
        "office": office,
        "klass": klass,
        "zheng": zheng,
        "chen": chen,
    }


def make_route(
    school: Any, name: str, steps: Sequence[tuple[str, str, Any]], *, kind: str = "class"
) -> Any:
    """A route of (label, role, unit) steps; a unit given as a kind string is relative."""
    from yuqing.cases.models import Route, RouteStep

    with school_scope(school):
        route = Route.objects.create(name=name, kind=kind)
        for position, (label, role, unit) in enumerate(steps):
            RouteStep.objects.create(
                route=route,
                position=position,
                label=label,
                role=role,
                org_unit=None if isinstance(unit, str) else unit,
                unit_kind=unit if isinstance(unit, str) else "",
            )
    return route


def red_in_15_minutes(school: Any) -> None:
    risk_rule(school, min_risk=1)
    with school_scope(school):
        services.policy_update(
            policy=services.policy_for(school.pk),
            ack_minutes={"4": 15},
            escalation_roles={"4": ["admin"]},
        )


def notified(school: Any, user: Any, alert: Any) -> list[str]:
    with school_scope(school):
        return [n.body for n in Notification.objects.filter(user=user, alert=alert).order_by("id")]


def test_it_follows_a_two_step_route_and_says_which_route_and_step(
    school: Any, source: Any, people: Any, units: dict[str, Any], receiver: Any
) -> None:
    make_route(
        school,
        "舆情处置：政教处 → 领导小组",
        [("政教处", "handler", units["office"]), ("领导小组", "reviewer", units["leadership"])],
    )
    red_in_15_minutes(school)
    phone = webhook_channel(school, receiver, levels=(), name="校长手机")
    with school_scope(school):
        # Blue only for himself; escalations reach his phone whatever their level.
        services.subscription_save(user=units["chen"], channel=phone, levels=[1])
    with time_machine.travel(START, tick=True) as clock:
        event, mentions = make_event(school, source, risk=4)
        (alert,) = evaluate(school, event, mentions)
        # The first line is step 1 of the route, told at once; the principal is not yet.
        assert notified(school, units["zheng"], alert) == [alert.reason]
        assert notified(school, units["chen"], alert) == []
        alert.refresh_from_db()
        assert alert.escalation_step == 0
        assert "政教处" in alert.escalation_note and "舆情处置" in alert.escalation_note
        client = Client()
        client.force_login(people["handler"])
        with translation.override("zh-hans"):  # the page's own language, reset afterwards
            page = client.get(reverse("alerts:detail", args=[alert.pk])).content.decode()
        assert "→ 领导小组" in page  # who is next, on the alert's page
        assert "First line: 政教处 (step 1 of 2" in page  # stored as written at raise

        clock.shift(dt.timedelta(minutes=14))
        assert services.alerts_escalate_due() == 0
        clock.shift(dt.timedelta(minutes=2))
        assert services.alerts_escalate_due() == 1
        delivery.deliver_due()
        with school_scope(school):
            alert.refresh_from_db()
            (note,) = notified(school, units["chen"], alert)
            assert "step 2 of 2" in note and "“舆情处置：政教处 → 领导小组”" in note
            assert note.startswith("Escalated: not acknowledged within 16 minutes")
            assert alert.status == "escalated" and alert.escalation_step == 1
            assert alert.escalation_note == note
            # The top of the route was told: nothing further to escalate to.
            assert alert.escalate_at is None
            from yuqing.audit.models import AuditEntry

            entry = AuditEntry.objects.filter(action="alerts.alert.escalated").get()
            assert entry.changes["via"] == "school_route"
            assert entry.changes["label"] == "领导小组" and entry.changes["targets"] == ["chen"]
        (sent,) = receiver.accepted
        assert "领导小组" in sent["summary"] and "step 2 of 2" in sent["summary"]
        clock.shift(dt.timedelta(hours=2))
        assert services.alerts_escalate_due() == 0


def test_a_step_with_nobody_on_duty_is_passed_over_and_the_message_says_so(
    school: Any, source: Any, people: Any, units: dict[str, Any]
) -> None:
    from yuqing.cases.services import absence_add

    make_route(
        school,
        "三步",
        [
            ("政教处", "handler", units["office"]),
            ("工作专班", "handler", units["working"]),  # nobody holds a role there
            ("领导小组", "reviewer", units["leadership"]),
        ],
    )
    red_in_15_minutes(school)
    with time_machine.travel(START, tick=True) as clock:
        event, mentions = make_event(school, source, risk=4)
        (alert,) = evaluate(school, event, mentions)
        clock.shift(dt.timedelta(minutes=16))
        assert services.alerts_escalate_due() == 1
        (note,) = notified(school, units["chen"], alert)
        assert "领导小组 (step 3 of 3" in note
        assert "Passed over: 工作专班 (nobody on duty)" in note

    # On the first line too: Zheng away today, the alert goes straight up at once.
    with school_scope(school):
        today = dt.date.today()
        absence_add(user=units["zheng"], starts_on=today, ends_on=today)
        Alert.objects.all().delete()
    event, mentions = make_event(school, source, risk=4, title="另一件事")
    (second,) = evaluate(school, event, mentions)
    assert notified(school, units["zheng"], second) == []
    assert notified(school, units["chen"], second) == [second.reason]
    assert second.escalation_step == 2
    assert "Passed over: 政教处 (nobody on duty); 工作专班 (nobody on duty)" in (
        second.escalation_note
    )


def test_acknowledgement_stops_the_route(
    school: Any, source: Any, people: Any, units: dict[str, Any]
) -> None:
    make_route(
        school,
        "两步",
        [("政教处", "handler", units["office"]), ("领导小组", "reviewer", units["leadership"])],
    )
    red_in_15_minutes(school)
    with time_machine.travel(START, tick=True) as clock:
        event, mentions = make_event(school, source, risk=4)
        (alert,) = evaluate(school, event, mentions)
        clock.shift(dt.timedelta(minutes=10))
        with school_scope(school):
            services.alert_acknowledge(alert=alert, user=units["zheng"])
        clock.shift(dt.timedelta(hours=1))
        assert services.alerts_escalate_due() == 0
    assert notified(school, units["chen"], alert) == []
    with school_scope(school):
        alert.refresh_from_db()
        assert alert.status == "acknowledged" and alert.escalation_step == 0
        assert not Delivery.objects.filter(purpose="escalation").exists()


def test_without_any_route_it_falls_back_to_the_role_ladder_and_says_so(
    school: Any, source: Any, people: Any
) -> None:
    from yuqing.accounts.models import User
    from yuqing.cases.models import Route

    risk_rule(school, min_risk=1)
    User._base_manager.filter(pk=people["security"].pk).update(is_active=False)
    with school_scope(school):
        services.policy_update(
            policy=services.policy_for(school.pk),
            ack_minutes={"4": 15},
            escalation_roles={"4": ["monitor", "security", "reviewer"]},
        )
    with time_machine.travel(START, tick=True) as clock:
        event, mentions = make_event(school, source, risk=4)
        (alert,) = evaluate(school, event, mentions)
        assert notified(school, people["monitor"], alert) == [alert.reason]
        clock.shift(dt.timedelta(minutes=16))
        assert services.alerts_escalate_due() == 1
    with school_scope(school):
        assert not Route.objects.exists()  # escalation did not seed routes
    (note,) = notified(school, people["reviewer"], alert)
    assert "rung 3 of 3 of the alert ladder; the school has no handling route" in note
    assert "Passed over: Security officer (nobody on duty)" in note
    alert.refresh_from_db()
    assert alert.escalate_at is None  # the top rung was told


def test_it_follows_the_route_of_the_alerts_case_from_above_the_cases_step(
    school: Any, source: Any, people: Any, units: dict[str, Any]
) -> None:
    from yuqing.cases.services import case_open

    ban = make_user(school, "ban", name="班主任 Ban")
    with school_scope(school):
        from yuqing.accounts.models import RoleAssignment

        RoleAssignment.objects.create(user=ban, role="handler", org_unit=units["klass"])
    make_route(school, "默认", [("领导小组", "reviewer", units["leadership"])], kind="staff")
    students = make_route(
        school,
        "学生事务",
        [
            ("班主任", "handler", "class"),
            ("政教处", "handler", units["office"]),
            ("领导小组", "reviewer", units["leadership"]),
        ],
    )
    red_in_15_minutes(school)
    with time_machine.travel(START, tick=True) as clock:
        event, mentions = make_event(school, source, risk=4)
        (alert,) = evaluate(school, event, mentions)
        with school_scope(school):
            # Opened by the system (no person): the alert stays open and escalating.
            case = case_open(title="食堂", level=4, alert=alert, org_unit=units["klass"])
            assert case.route == students and case.step_index == 0
            first = services.escalation_targets(alert, 1)
            assert first is not None and first.via == "case_route"
            assert [u.username for u in first.users] == ["zheng"]
        clock.shift(dt.timedelta(minutes=16))
        assert services.alerts_escalate_due() == 1
    # 政教处 was told at raise (the default route passes over the class teacher: an alert has
    # no class); the escalation goes above both the case's step and the step already told.
    (note,) = notified(school, units["chen"], alert)
    assert "领导小组 (step 3 of 3 of the route “学生事务”) of case " + case.number in note


def test_past_the_top_with_nobody_on_duty_the_administrators_are_told(
    school: Any, source: Any, people: Any, units: dict[str, Any]
) -> None:
    make_route(school, "空", [("工作专班", "handler", units["working"])])
    red_in_15_minutes(school)
    event, mentions = make_event(school, source, risk=4)
    (alert,) = evaluate(school, event, mentions)
    assert notified(school, people["admin"], alert) == [alert.reason]
    assert "the school's administrators" in alert.escalation_note
    with school_scope(school):
        step = services.escalation_targets(alert, 0)
        assert step is not None and step.administrators and step.is_last
        assert services.escalation_targets(alert, 1) is None
