"""An official response drafted in the case goes into publication review and comes back."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from tests.cases.conftest import Tree

pytestmark = pytest.mark.django_db


def _drafted_case(tree: Tree, people: Any, as_person: Any) -> Any:
    from yuqing.cases import services

    with as_person(people["monitor"]):
        case = services.case_open(
            title="食堂就餐问题", level=3, org_unit=tree.klass, by=people["monitor"]
        )
        return services.case_update(
            case=case,
            version=case.version,
            by=people["monitor"],
            response_draft="关于食堂就餐问题的情况说明\n\n学校已于当日核实。<script>x</script>",
        )


def test_it_sends_the_response_draft_to_review_and_links_back(
    tree: Tree, people: Any, as_person: Any
) -> None:
    from yuqing.audit.models import AuditEntry
    from yuqing.cases import services
    from yuqing.publishing.models import Draft

    case = _drafted_case(tree, people, as_person)
    reviewer = people["reviewer"]
    with as_person(reviewer):
        draft = services.case_response_submit(
            case=case, version=case.version, by=reviewer, channels=["website", "wechat"]
        )
        draft = Draft.objects.get(pk=draft.pk)
        assert draft.case_id == case.pk and draft.author_id == reviewer.pk
        assert draft.channels == ["website", "wechat"] and "食堂就餐问题" in draft.title
        assert "<p>学校已于当日核实。" in draft.body and "<script>" not in draft.body
        line = case.actions.get(kind="response_submitted")
        assert line.data["draft"] == draft.pk and line.by_id == reviewer.pk
        assert AuditEntry.objects.filter(
            action="cases.case.response_submitted", object_id=str(case.pk)
        ).exists()
        # A second click on the same page is refused: no second draft.
        with pytest.raises(services.StaleCase):
            services.case_response_submit(
                case=case, version=case.version - 1, by=reviewer, channels=["website"]
            )
        assert Draft.objects.filter(case=case).count() == 1
        # Publication comes back through the hook the publishing module calls.
        case = services.case_response_published(
            case=case, url="https://www.example.edu.cn/news/9", by=reviewer
        )
        assert case.status == "responded" and case.response_url.endswith("/news/9")


def test_it_refuses_to_send_an_empty_response(tree: Tree, people: Any, as_person: Any) -> None:
    from yuqing.cases import services

    with as_person(people["monitor"]):
        case = services.case_open(title="t", level=2, org_unit=tree.klass, by=people["monitor"])
        with pytest.raises(ValidationError):
            services.case_response_submit(
                case=case, version=case.version, by=people["monitor"], channels=["website"]
            )


def test_it_sends_to_review_from_the_case_page(tree: Tree, people: Any, as_person: Any) -> None:
    case = _drafted_case(tree, people, as_person)
    client = Client()
    client.force_login(people["reviewer"])
    url = reverse("cases:detail", args=[case.pk])
    page = client.get(url).content.decode()
    assert reverse("cases:response_submit", args=[case.pk]) in page
    # No channel chosen: the form says so, nothing is created.
    bad = client.post(reverse("cases:response_submit", args=[case.pk]), {"version": case.version})
    assert bad.status_code == 400
    response = client.post(
        reverse("cases:response_submit", args=[case.pk]),
        {"version": case.version, "channels": ["website"]},
    )
    assert response.status_code == 302
    with as_person(people["reviewer"]):
        draft = case.response_drafts.get()
    page = client.get(url).content.decode()
    assert reverse("publishing:draft", args=[draft.pk]) in page
