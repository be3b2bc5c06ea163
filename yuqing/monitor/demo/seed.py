"""The demo school's monitoring set-up: one scheme and the demo internet's feeds as sources."""

from __future__ import annotations

from typing import Any

from yuqing.core.tenancy import school_scope
from yuqing.monitor.demo.server import load_script
from yuqing.monitor.models import Scheme, Source

DEMO_SCHEME = {
    "name": "育英中学",
    "subject_words": ["育英中学", "滨海市育英中学", "滨海育英中学", "育英中学校"],
    "region_words": ["滨海", "滨海市"],
    "event_words": [],
    "exclude_words": ["育英路", "育英中学站", "青州育英中学", "青州市育英中学"],
}


def seed_demo_monitoring(school: Any, *, base_url: str) -> None:
    """Create (or point at ``base_url`` again) the demo scheme and sources. Idempotent."""
    script = load_script()
    with school_scope(school):
        Scheme.objects.get_or_create(
            name=DEMO_SCHEME["name"],
            defaults={k: v for k, v in DEMO_SCHEME.items() if k != "name"},
        )
        for key, meta in script["feeds"].items():
            source, created = Source.objects.get_or_create(
                name=meta["title"],
                defaults={
                    "kind": Source.Kind.FEED,
                    "source_type": meta["source_type"],
                    "url": f"{base_url}/feeds/{key}.xml",
                    "interval_seconds": 60,
                    "is_own": key == "school",
                    "config": {"allow_private": True},
                },
            )
            url = f"{base_url}/feeds/{key}.xml"
            if not created and source.url != url:
                # The demo internet listens on a new port after a restart.
                source.url = url
                source.save(update_fields=["url"])
        _seed_demo_alert_rule()


def _seed_demo_alert_rule() -> None:
    """One rule, so that the escalating demo story raises an alert a newcomer can see."""
    from yuqing.alerts.models import AlertRule
    from yuqing.alerts.services import rule_save

    if not AlertRule.objects.exists():
        rule_save(
            name="风险等级达到黄色", kind=AlertRule.Kind.RISK_LEVEL, level=2, params={"min_risk": 2}
        )
