"""Publishing fixtures: Tang (staff) writes, Alice (administrator) and Li (leader) sign."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import PASSWORD

BODY = "<p>我校于3月12日举行春季运动会，全校师生参加。</p><p>本次运动会展现了同学们的风采。</p>"


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    # Service errors are matched by their English text; the UI default is Chinese.
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def draft(people: dict[str, Any], in_school: Any) -> Any:
    from yuqing.publishing.services import draft_create

    return draft_create(
        author=people["staff"], title="春季运动会圆满举行", body=BODY, channels=["website"]
    )


def approve(draft: Any, user: Any, **kwargs: Any) -> Any:
    from yuqing.publishing.models import Draft
    from yuqing.publishing.workflow import active_step, step_act

    state = active_step(Draft.objects.get(pk=draft.pk))
    assert state is not None
    kwargs.setdefault("credential", PASSWORD)
    return step_act(state=state, user=user, action=kwargs.pop("action", "approve"), **kwargs)


def fresh(draft: Any) -> Any:
    from yuqing.publishing.models import Draft

    return Draft.objects.select_related("current_revision").get(pk=draft.pk)


def signed(draft: Any, people: dict[str, Any]) -> Any:
    """Submit the draft and take it through the seeded three levels."""
    from yuqing.publishing.workflow import review_submit

    review_submit(draft=draft, user=people["staff"])
    for user in (people["admin"], people["reviewer"], people["reviewer"]):
        approve(draft, user)
    return fresh(draft)


def own_sites(school_id: int, hosts: list[str], listings: list[str] | None = None) -> Any:
    """Register the school's own sites (no check lists of its own)."""
    from yuqing.publishing.services import settings_update

    return settings_update(
        school_id=school_id,
        forbidden_words=[],
        formulations=[],
        confusions=[],
        watch_hosts=hosts,
        watch_minutes=30,
        watch_listings=listings,
    )
