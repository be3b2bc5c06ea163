"""The burst rule on synthetic volumes: a spike over its own and the school's baseline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from tests.alerts.conftest import add_mentions, evaluate, make_event
from yuqing.alerts.rules import poisson_tail, z_score
from yuqing.core.tenancy import school_scope


def test_it_computes_the_poisson_tail() -> None:
    assert poisson_tail(0, 3.0) == 1.0
    assert poisson_tail(2, 3.0) == 1.0  # at or below the mean: never a burst
    assert abs(poisson_tail(10, 2.0) - 4.649e-05) < 1e-07
    assert poisson_tail(3000, 5.0) < 1e-300 or poisson_tail(3000, 5.0) == 0.0
    assert z_score(16, 4.0) == 6.0


def _burst_rule(school: Any, **params: Any) -> None:
    from yuqing.alerts.services import rule_save

    with school_scope(school):
        rule_save(
            name="突增",
            kind="burst",
            level=3,
            params={"window_minutes": 60, "baseline_hours": 24, "min_count": 5, **params},
        )


@pytest.mark.django_db
def test_it_fires_on_a_spike_above_the_baseline(school: Any, source: Any, people: Any) -> None:
    _burst_rule(school)
    now = timezone.now()
    # One post an hour for a day, then fifteen in the last hour.
    event, _ = make_event(
        school,
        source,
        risk=0,
        n=24,
        when=now - dt.timedelta(hours=1),
        spacing=dt.timedelta(hours=1),
    )
    spike = add_mentions(event, source, 15, when=now, spacing=dt.timedelta(minutes=3))
    (alert,) = evaluate(school, event, spike, now=now)
    assert alert.level == 3 and "15" in alert.reason


@pytest.mark.django_db
def test_it_stays_quiet_on_steady_volume(school: Any, source: Any, people: Any) -> None:
    _burst_rule(school)
    now = timezone.now()
    # Fifteen an hour all day long: a busy story, not a burst.
    event, _ = make_event(
        school,
        source,
        risk=0,
        n=15 * 24,
        when=now - dt.timedelta(hours=1),
        spacing=dt.timedelta(minutes=4),
    )
    latest = add_mentions(event, source, 15, when=now, spacing=dt.timedelta(minutes=4))
    assert evaluate(school, event, latest, now=now) == []


@pytest.mark.django_db
def test_it_uses_the_z_score_when_asked(school: Any, source: Any, people: Any) -> None:
    _burst_rule(school, method="zscore", threshold=4)
    now = timezone.now()
    event, spike = make_event(
        school, source, risk=0, n=12, when=now, spacing=dt.timedelta(minutes=4)
    )
    (alert,) = evaluate(school, event, spike, now=now)
    assert "z =" in alert.reason


@pytest.mark.django_db
def test_it_backtests_a_burst(school: Any, source: Any, people: Any) -> None:
    from yuqing.alerts.services import rule_backtest

    now = timezone.now()
    make_event(
        school, source, n=20, when=now - dt.timedelta(days=3), spacing=dt.timedelta(minutes=2)
    )
    make_event(school, source, n=30, when=now - dt.timedelta(days=1), spacing=dt.timedelta(hours=4))
    with school_scope(school):
        result = rule_backtest(kind="burst", level=3, params={"window_minutes": 60, "min_count": 5})
    assert result.count == 1
