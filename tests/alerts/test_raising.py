"""Raising alerts: one per event and level, a new one when the level rises, repeats folded."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from tests.alerts.conftest import add_mentions, evaluate, make_event, risk_rule
from yuqing.alerts.models import Alert, Delivery, EvaluationRequest, Notification
from yuqing.core.tenancy import school_scope

pytestmark = pytest.mark.django_db


def test_it_raises_one_alert_per_event_and_level(school: Any, source: Any, people: Any) -> None:
    risk_rule(school, min_risk=2)
    event, mentions = make_event(school, source, risk=2)
    raised = evaluate(school, event, mentions)
    assert [a.level for a in raised] == [2]
    assert evaluate(school, event, mentions) == []
    with school_scope(school):
        assert Alert.objects.count() == 1
        # The database itself refuses a second alert for the same event and level.
        with pytest.raises(IntegrityError), transaction.atomic():
            Alert.objects.create(event=event, level=2, title="again")


def test_it_raises_a_new_alert_saying_what_changed_when_the_event_rises(
    school: Any, source: Any, people: Any
) -> None:
    risk_rule(school, min_risk=1)
    event, mentions = make_event(school, source, risk=2, n=3)
    (yellow,) = evaluate(school, event, mentions)
    more = add_mentions(event, source, 5, risk=4)
    (red,) = evaluate(school, event, more)
    assert (yellow.level, red.level) == (2, 4)
    assert "Yellow" in red.changes or "黄色" in red.changes
    assert "3 → 8" in red.changes
    with school_scope(school):
        assert Alert.objects.filter(event=event).count() == 2


def test_it_folds_repeats_and_never_sends_them_again(
    school: Any, source: Any, people: Any, receiver: Any
) -> None:
    from tests.alerts.conftest import webhook_channel

    risk_rule(school, min_risk=2)
    webhook_channel(school, receiver)
    event, mentions = make_event(school, source, risk=3)
    evaluate(school, event, mentions)
    for _ in range(3):
        evaluate(school, event, add_mentions(event, source, 2, risk=3))
    # A lower-level firing of the same event folds into the higher alert too.
    evaluate(school, event, add_mentions(event, source, 1, risk=2))
    with school_scope(school):
        alert = Alert.objects.get()
        assert alert.repeat_count == 4
        assert Delivery.objects.count() == 1


def test_it_records_the_raise_in_the_audit_log(school: Any, source: Any, people: Any) -> None:
    from yuqing.audit.models import AuditEntry

    risk_rule(school, min_risk=1)
    event, mentions = make_event(school, source, risk=3)
    (alert,) = evaluate(school, event, mentions)
    with school_scope(school):
        entry = AuditEntry.objects.get(action="alerts.alert.raised")
    assert entry.object_id == str(alert.pk)


def test_it_tells_the_first_line_in_the_app(school: Any, source: Any, people: Any) -> None:
    risk_rule(school, min_risk=1)
    event, mentions = make_event(school, source, risk=3)
    evaluate(school, event, mentions)
    with school_scope(school):
        assert Notification.objects.filter(user=people["monitor"]).count() == 1


def test_it_evaluates_what_the_ingest_hook_recorded(school: Any, source: Any, people: Any) -> None:
    from yuqing.alerts.services import alerts_evaluate_after_ingest, evaluate_pending

    risk_rule(school, min_risk=1)
    event, mentions = make_event(school, source, risk=4)
    request = alerts_evaluate_after_ingest(
        school_id=school.pk, event_ids={event.pk}, mention_ids=[m.pk for m in mentions]
    )
    assert request is not None
    assert evaluate_pending() == 1
    with school_scope(school):
        assert Alert.objects.get().level == 4
        assert EvaluationRequest.objects.get().done_at is not None
    assert evaluate_pending() == 0


def test_it_matches_high_risk_words_with_the_text_engine(
    school: Any, source: Any, people: Any
) -> None:
    from yuqing.alerts.services import rule_save

    with school_scope(school):
        rule_save(
            name="高危词", kind="high_risk_words", level=3, params={"words": "坠楼，食物中毒"}
        )
    event, mentions = make_event(school, source, risk=0, text="网传育才中学有学生食 物中毒")
    (alert,) = evaluate(school, event, mentions)
    assert alert.level == 3 and "食物中毒" in alert.reason
    quiet, calm = make_event(school, source, risk=0, text="育才中学运动会")
    assert evaluate(school, quiet, calm) == []


def test_it_watches_authoritative_sources(school: Any, source: Any, people: Any) -> None:
    from yuqing.alerts.services import rule_save
    from yuqing.monitor.models import Source

    with school_scope(school):
        bureau_site = Source.objects.create(
            name="市教育局官网", kind="manual", is_authoritative=True
        )
        rule_save(name="权威来源", kind="watched_source", level=2, params={"authoritative": True})
    event, mentions = make_event(school, bureau_site, risk=0)
    (alert,) = evaluate(school, event, mentions)
    assert "市教育局官网" in alert.reason
    other, plain = make_event(school, source, risk=0)
    assert evaluate(school, other, plain) == []


def test_it_raises_the_negative_ratio_once_a_day(school: Any, source: Any, people: Any) -> None:
    from yuqing.alerts.services import rule_save

    with school_scope(school):
        rule_save(
            name="负面占比", kind="negative_ratio", level=2, params={"ratio": 0.6, "min_count": 5}
        )
    event, mentions = make_event(school, source, n=4, sentiment="negative")
    assert evaluate(school, event, mentions) == []  # below the minimum count
    more = add_mentions(event, source, 4, sentiment="negative")
    (alert,) = evaluate(school, event, more)
    assert alert.event_id is None and alert.key.startswith("negative_ratio:")
    assert evaluate(school, event, add_mentions(event, source, 1, sentiment="negative")) == []


def test_it_tests_a_rule_against_the_last_seven_days(school: Any, source: Any, people: Any) -> None:
    from django.utils import timezone

    from yuqing.alerts.services import rule_backtest

    now = timezone.now()
    make_event(school, source, risk=3, when=now - dt.timedelta(days=2))
    make_event(school, source, risk=4, when=now - dt.timedelta(days=1))
    make_event(school, source, risk=1, when=now - dt.timedelta(hours=1))
    make_event(school, source, risk=4, when=now - dt.timedelta(days=9))  # too old
    with school_scope(school):
        result = rule_backtest(kind="risk_level", level=2, params={"min_risk": 3})
        assert result.count == 2
        assert sorted(f.level for f in result.firings) == [3, 4]
        assert Alert.objects.count() == 0  # nothing raised by testing
