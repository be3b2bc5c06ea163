"""The scheme editor: saving, expression errors with their position, and the test box."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import school_scope
from yuqing.monitor.models import Scheme
from yuqing.monitor.services import IncomingItem, mentions_ingest
from yuqing.monitor.setup_services import scheme_create, source_create

pytestmark = pytest.mark.django_db

SCHEME = {
    "name": "育才中学",
    "subject_words": "育才中学\n育才",
    "region_words": "滨江",
    "event_words": "食堂，饭堂",
    "exclude_words": "育才中学路",
    "expression": "",
    "is_active": "on",
}


@pytest.fixture
def ming(people: dict[str, Any]) -> Client:
    client = Client()
    client.force_login(people["monitor"])
    return client


def test_it_saves_a_scheme_and_audits_it(ming: Client, school: Any) -> None:
    response = ming.post(reverse("monitor:scheme_add"), SCHEME)
    assert response.status_code == 302
    with school_scope(school):
        scheme = Scheme.objects.get()
        assert scheme.subject_words == ["育才中学", "育才"]
        assert scheme.event_words == ["食堂", "饭堂"]
        assert AuditEntry.objects.filter(action="monitor.scheme.created").exists()


def test_it_shows_where_a_malformed_expression_goes_wrong(ming: Client, school: Any) -> None:
    response = ming.post(
        reverse("monitor:scheme_add"), {**SCHEME, "expression": "育才中学 AND (食堂 OR"}
    )
    assert response.status_code == 200
    form = response.context["form"]
    problem = form.expression_problem
    assert problem is not None and problem.position == len("育才中学 AND (食堂 OR")
    html = response.content.decode()
    assert f"第 {problem.column} 个字符" in html or f"character {problem.column}" in html
    assert 'class="expr-at"' in html
    with school_scope(school):
        assert not Scheme.objects.exists()


def test_it_points_at_an_operator_in_the_middle(ming: Client) -> None:
    response = ming.post(
        reverse("monitor:scheme_add"), {**SCHEME, "expression": "育才 AND AND 食堂"}
    )
    problem = response.context["form"].expression_problem
    assert problem.position == 7 and problem.at == "A" and problem.before == "育才 AND "


def test_it_needs_a_subject_word(ming: Client) -> None:
    response = ming.post(reverse("monitor:scheme_add"), {**SCHEME, "subject_words": " \n "})
    assert response.context["form"].errors["subject_words"]


def test_it_edits_a_scheme(ming: Client, school: Any) -> None:
    with school_scope(school):
        scheme = scheme_create(name="学校", subject_words=["育才中学"])
    response = ming.post(
        reverse("monitor:scheme_edit", args=[scheme.pk]),
        {**SCHEME, "name": "学校", "expression": "育才中学 NEAR/10 食堂"},
    )
    assert response.status_code == 302
    with school_scope(school):
        scheme.refresh_from_db()
        assert scheme.expression == "育才中学 NEAR/10 食堂"
        assert AuditEntry.objects.filter(action="monitor.scheme.changed").exists()


def test_the_test_box_says_what_matches_and_why(ming: Client, school: Any) -> None:
    response = ming.post(
        reverse("monitor:scheme_test"),
        {
            **SCHEME,
            "expression": "育才中学 AND (食堂 OR 饭堂)",
            "sample_title": "",
            "sample_text": "滨江育才中学食堂的饭菜有问题",
        },
    )
    html = response.content.decode()
    [result] = response.context["results"]
    assert result.matched
    assert '<mark class="hit hit-subject">育才中学</mark>' in html
    assert '<mark class="hit hit-event">食堂</mark>' in html
    assert any("育才中学" in r for r in result.reasons)
    assert ("食堂", True) in result.terms and ("饭堂", False) in result.terms
    with school_scope(school):
        assert not Scheme.objects.exists()  # testing saves nothing


def test_the_test_box_explains_a_miss_and_an_exclusion(ming: Client) -> None:
    response = ming.post(
        reverse("monitor:scheme_test"),
        {**SCHEME, "sample_text": "育才中学路今天封路施工"},
    )
    [result] = response.context["results"]
    assert not result.matched
    html = response.content.decode()
    assert "hit-exclude" in html
    missing = ming.post(
        reverse("monitor:scheme_test"),
        {**SCHEME, "expression": "育才中学 AND 食堂", "sample_text": "育才中学举行运动会"},
    )
    [result] = missing.context["results"]
    assert not result.matched and ("食堂", False) in result.terms


def test_the_test_box_escapes_pasted_html(ming: Client) -> None:
    response = ming.post(
        reverse("monitor:scheme_test"),
        {**SCHEME, "sample_text": "<script>alert(1)</script>育才中学"},
    )
    html = response.content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


def test_the_test_box_reports_expression_errors_with_position(ming: Client) -> None:
    response = ming.post(
        reverse("monitor:scheme_test"),
        {**SCHEME, "expression": "a NEAR/x b", "sample_text": "育才中学"},
    )
    html = response.content.decode()
    assert response.context["results"] is None
    assert 'class="expr-at"' in html and "NEAR" in html


def test_the_test_box_tries_recent_mentions(ming: Client, school: Any) -> None:
    with school_scope(school):
        scheme_create(name="学校", subject_words=["育才中学"])
        source = source_create(kind="manual", name="手工")
        stored = mentions_ingest(
            source=source, items=[IncomingItem(text="育才中学食堂饭菜变质", title="投诉")]
        )
    [mention_id] = stored.mention_ids
    response = ming.post(
        reverse("monitor:scheme_test"),
        {**SCHEME, "expression": "育才中学 AND 食堂", "mentions": [str(mention_id)]},
    )
    [result] = response.context["results"]
    assert result.label == f"#{mention_id}" and result.matched
    empty = ming.post(reverse("monitor:scheme_test"), SCHEME)
    assert empty.context["results"] is None and empty.context["test_form"].errors


def test_the_editor_page_has_the_test_box(ming: Client) -> None:
    html = ming.get(reverse("monitor:scheme_add")).content.decode()
    assert 'hx-post="/monitor/setup/schemes/test/"' in html
    assert 'hx-include="#scheme-form, #scheme-test"' in html
