from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.publishing.conftest import BODY
from yuqing.core.tenancy import school_scope
from yuqing.publishing.models import Draft, Signature

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_walks_a_draft_from_writing_to_the_approval_form(
    people: dict[str, Any], school: Any
) -> None:
    tang = client_for(people["staff"])
    response = tang.post(
        reverse("publishing:draft_new"),
        {
            "title": "春季运动会圆满举行",
            "body": BODY + "<script>x()</script>",
            "channels": ["website", "wechat"],
        },
    )
    assert response.status_code == 302
    with school_scope(school):
        draft = Draft.objects.get()
    assert "<script>" not in draft.body
    page = tang.get(reverse("publishing:draft", args=[draft.pk]))
    assert "春季运动会" in page.content.decode()
    tang.post(reverse("publishing:draft_submit", args=[draft.pk]))
    for user in (people["admin"], people["reviewer"], people["reviewer"]):
        reviewer = client_for(user)
        page = reviewer.get(reverse("publishing:draft", args=[draft.pk])).content.decode()
        assert 'id="act-form"' in page
        state = page.split('name="state" value="', 1)[1].split('"', 1)[0]
        response = reviewer.post(
            reverse("publishing:review_act", args=[draft.pk]),
            {"state": state, "action": "approve", "credential": PASSWORD},
            REMOTE_ADDR="10.1.2.3",
        )
        assert response.status_code == 302, response.content.decode()[:2000]
    with school_scope(school):
        draft.refresh_from_db()
        assert draft.status == "approved"
        assert set(Signature.objects.values_list("ip", flat=True)) == {"10.1.2.3"}
    docx = tang.get(reverse("publishing:approval_docx", args=[draft.pk]))
    assert docx.status_code == 200 and docx.content[:2] == b"PK"
    pdf = tang.get(reverse("publishing:approval_pdf", args=[draft.pk]))
    assert pdf.status_code in (200, 404)
    if pdf.status_code == 200:
        assert pdf.content.startswith(b"%PDF")


def test_it_shows_the_wrong_password_as_a_form_error(people: dict[str, Any], school: Any) -> None:
    from yuqing.publishing.services import draft_create
    from yuqing.publishing.workflow import active_step, review_submit

    with school_scope(school):
        draft = draft_create(author=people["staff"], title="通知", body=BODY, channels=["website"])
        review_submit(draft=draft, user=people["staff"])
        state = active_step(draft)
    response = client_for(people["admin"]).post(
        reverse("publishing:review_act", args=[draft.pk]),
        {"state": state.pk, "action": "approve", "credential": "guess"},
    )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()


def test_it_compares_two_revisions_side_by_side(people: dict[str, Any], school: Any) -> None:
    from yuqing.publishing.services import draft_create, draft_save

    with school_scope(school):
        draft = draft_create(
            author=people["staff"], title="通知", body="<p>旧的说法</p>", channels=["website"]
        )
        draft_save(
            draft=draft,
            user=people["staff"],
            title="通知",
            body="<p>新的说法</p><p><b>x</b>&lt;img&gt;</p>",
            channels=["website"],
        )
    page = client_for(people["staff"]).get(
        reverse("publishing:revisions", args=[draft.pk]) + "?a=1&b=2"
    )
    html = page.content.decode()
    assert "<del>旧</del>" in html and "<ins>新</ins>" in html
    assert "<img>" not in html


def test_it_edits_the_school_lists_and_flows(people: dict[str, Any], school: Any) -> None:
    li = client_for(people["reviewer"])
    response = li.post(
        reverse("publishing:settings"),
        {
            "use_seeded": "on",
            "forbidden_words": "暑期特训营\n",
            "formulations": "教育局长 → 教育局局长",
            "confusions": "按装 → 安装",
            "leaders": "王明：校长",
            "watch_hosts": "www.yucai.edu.cn",
            "watch_listings": "https://www.yucai.edu.cn/sitemap.xml",
            "watch_minutes": "60",
        },
    )
    assert response.status_code == 302
    # A list of new pages off the school's own sites is a form error, nothing saved.
    off_site = li.post(
        reverse("publishing:settings"),
        {
            "watch_hosts": "www.yucai.edu.cn",
            "watch_listings": "https://evil.example.com/feed",
            "watch_minutes": "60",
        },
    )
    assert off_site.status_code == 200 and "evil.example.com" in off_site.content.decode()
    with school_scope(school):
        from yuqing.publishing.services import settings_for

        assert settings_for(school.pk).watch_listings == ["https://www.yucai.edu.cn/sitemap.xml"]
    assert li.get(reverse("publishing:flows")).status_code == 200
    bad = li.post(
        reverse("publishing:settings"), {"formulations": "没有箭头", "watch_minutes": "60"}
    )
    assert "errorlist" in bad.content.decode()


def test_it_keeps_drafts_from_people_without_publishing_access(people: dict[str, Any]) -> None:
    assert client_for(people["handler"]).get(reverse("publishing:index")).status_code == 403
    assert client_for(people["staff"]).get(reverse("publishing:flows")).status_code == 403


def test_it_shows_a_live_address_the_site_watch_found(people: dict[str, Any], school: Any) -> None:
    from tests.publishing.conftest import signed
    from yuqing.publishing.services import draft_create, publication_record

    with school_scope(school):
        draft = signed(
            draft_create(author=people["staff"], title="通知", body=BODY, channels=["website"]),
            people,
        )
        publication_record(
            draft=draft,
            user=None,
            channel="website",
            url="https://www.yucai.edu.cn/news/7.html",
            found_by="watch",
            similarity=0.9312,
        )
    page = client_for(people["staff"]).get(reverse("publishing:draft", args=[draft.pk]))
    text = page.content.decode()
    assert "https://www.yucai.edu.cn/news/7.html" in text
    assert "巡查网站发现（相似度 0.93）" in text
