"""Corrections on the desk, and the school's own model retrained from them."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from tests.monitor.test_desk import login, make_mention
from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import all_schools, school_scope
from yuqing.monitor import corrections
from yuqing.monitor.models import ClassifierVersion, Event, LabelCorrection, Mention

pytestmark = pytest.mark.django_db


def correct(client: Any, mention: Mention, field: str, value: str, **headers: Any) -> Any:
    return client.post(
        reverse("monitor:correct", args=[mention.pk]), {"field": field, "value": value}, **headers
    )


def test_it_stores_a_correction_updates_the_mention_and_audits_it(
    people: dict[str, Any], school: Any
) -> None:
    mention = make_mention(school, "育才中学食堂饭菜发霉", sentiment="neutral", risk=0)
    client = login(people["monitor"])
    assert correct(client, mention, "sentiment", "negative").status_code == 302
    assert correct(client, mention, "risk", "3").status_code == 302
    assert correct(client, mention, "relevant", "false").status_code == 302
    with school_scope(school):
        mention.refresh_from_db()
        rows = list(
            LabelCorrection.objects.order_by("id").values_list("field", "old_value", "new_value")
        )
    assert (mention.sentiment, mention.risk, mention.relevant, mention.corrected) == (
        "negative",
        3,
        False,
        True,
    )
    assert rows == [
        ("sentiment", "neutral", "negative"),
        ("risk", "0", "3"),
        ("relevant", "true", "false"),
    ]
    with all_schools():
        audited = AuditEntry.objects.filter(action="monitor.labelcorrection.created")
        assert audited.count() == 3
        assert audited.first().actor_id == people["monitor"].pk  # type: ignore[union-attr]


def test_it_answers_an_htmx_correction_with_the_updated_card(
    people: dict[str, Any], school: Any
) -> None:
    mention = make_mention(school, "育才中学运动会", topic="campus_news")
    response = correct(login(people["admin"]), mention, "topic", "teaching", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert f'id="mention-{mention.pk}"' in body and "mention-saved" in body
    assert 'value="teaching" aria-pressed="true"' in body


def test_it_keeps_nothing_when_the_value_is_unchanged_or_invalid(
    people: dict[str, Any], school: Any
) -> None:
    mention = make_mention(school, "育才中学运动会", sentiment="neutral")
    client = login(people["monitor"])
    correct(client, mention, "sentiment", "neutral")
    assert correct(client, mention, "sentiment", "furious").status_code == 400
    assert correct(client, mention, "author", "x").status_code == 400
    assert correct(client, mention, "risk", "9").status_code == 400
    with school_scope(school):
        assert not LabelCorrection.objects.exists()


@pytest.mark.parametrize("role", ["handler", "reviewer", "staff"])
def test_it_lets_only_managers_correct(people: dict[str, Any], school: Any, role: str) -> None:
    mention = make_mention(school, "育才中学运动会")
    assert correct(login(people[role]), mention, "sentiment", "negative").status_code == 403


def test_it_recounts_the_event_when_a_correction_lowers_its_risk(
    people: dict[str, Any], school: Any
) -> None:
    with school_scope(school):
        story = Event.objects.create(
            key="k", title="t", first_at=timezone.now(), latest_at=timezone.now(), peak_risk=4
        )
    loud = make_mention(school, "育才中学出事了", risk=4, event=story, sentiment="negative")
    make_mention(school, "育才中学出事了吗", risk=1, event=story)
    correct(login(people["monitor"]), loud, "risk", "2")
    with school_scope(school):
        story.refresh_from_db()
    assert story.peak_risk == 2 and story.mention_count == 2 and story.negative_count == 1


# -- the school's own model ----------------------------------------------------------------------

SLANG = [
    "育才中学食堂的菜今天又是一股子馊巴味，孩子说吃不下去第{}回",
    "育才中学这宿舍空调又坏了第{}天，馊巴味熏得人头疼",
    "育才中学收了资料费第{}次了也不给发票，家长群里都说馊巴",
]


def _corrected_school(school: Any, user: Any, n: int = 15) -> list[Mention]:
    made = []
    for i in range(n):
        m = make_mention(school, SLANG[i % 3].format(i), sentiment="neutral", topic="other")
        with school_scope(school):
            corrections.mention_correct(mention=m, field="sentiment", value="negative", user=user)
            corrections.mention_correct(
                mention=m, field="topic", value="food_lodging" if i % 3 != 2 else "fees", user=user
            )
        made.append(m)
    return made


def test_it_retrains_from_corrections_and_measures_before_and_after(
    people: dict[str, Any], school: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _corrected_school(school, people["monitor"])
    client = login(people["monitor"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("monitor:retrain"))
    assert response.status_code == 302
    with school_scope(school):
        version = ClassifierVersion.objects.get()
    assert version.number == 1 and version.n_train == 12 and version.n_heldout == 3
    assert version.n_corrections == 30
    assert version.accuracy_before is not None and version.accuracy_after is not None
    assert 0.0 <= version.accuracy_before <= version.accuracy_after <= 1.0
    assert version.is_active and version.created_by_id == people["monitor"].pk
    assert set(version.details["models"]) == {"negative", "topic"}
    page = client.get(reverse("monitor:model")).content.decode()
    assert "v1" in page and "%" in page
    with all_schools():
        assert AuditEntry.objects.filter(action="monitor.classifier.trained").count() == 1


def test_it_uses_the_active_school_model_and_restores_the_previous_one(
    people: dict[str, Any], school: Any, other_school: Any
) -> None:
    from yuqing.text.types import Post

    _corrected_school(school, people["monitor"])
    with school_scope(school):
        first = corrections.classifier_retrain(school_id=school.pk, user=people["monitor"])
        second = corrections.classifier_retrain(school_id=school.pk, user=people["monitor"])
        assert ClassifierVersion.objects.filter(is_active=True).get().pk == second.pk
        ours = corrections.classifier_for_school(school.pk)
    with school_scope(other_school):
        shipped = corrections.classifier_for_school(other_school.pk)
    post = Post(id="x", text="育才中学食堂的菜今天又是一股子馊巴味，孩子说吃不下去")
    assert ours is not shipped
    p_ours = ours.label(post).sentiment_scores["negative"]
    p_shipped = shipped.label(post).sentiment_scores["negative"]
    assert p_ours > p_shipped  # the school's corrections moved its model

    client = login(people["admin"])
    client.post(reverse("monitor:model_activate"), {"version": first.pk})
    with school_scope(school):
        assert ClassifierVersion.objects.get(is_active=True).pk == first.pk
    client.post(reverse("monitor:model_activate"), {"version": "shipped"})
    with school_scope(school):
        assert not ClassifierVersion.objects.filter(is_active=True).exists()
        assert corrections.classifier_for_school(school.pk) is corrections._shipped()


def test_it_allows_one_active_version_per_school_in_the_database(
    people: dict[str, Any], school: Any
) -> None:
    with school_scope(school):
        ClassifierVersion.objects.create(
            number=1, is_active=True, base_fingerprint="x", weights=b""
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            ClassifierVersion.objects.create(
                number=2, is_active=True, base_fingerprint="x", weights=b""
            )


def test_it_ignores_a_version_made_for_other_shipped_models(
    people: dict[str, Any], school: Any
) -> None:
    _corrected_school(school, people["monitor"], n=5)
    with school_scope(school):
        version = corrections.classifier_retrain(school_id=school.pk)
        ClassifierVersion.objects.filter(pk=version.pk).update(base_fingerprint="old")
        assert corrections.classifier_for_school(school.pk) is corrections._shipped()


def test_it_refuses_retraining_to_read_only_people(
    people: dict[str, Any], bureau_user: Any, school: Any
) -> None:
    for user in (people["handler"], bureau_user):
        assert login(user).post(reverse("monitor:retrain")).status_code == 403
        assert login(user).get(reverse("monitor:model")).status_code == 200
