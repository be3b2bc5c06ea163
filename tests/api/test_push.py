"""The JSON API: pushing mentions with a token, reading them out, and the OpenAPI document."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.test_permissions import inline_code_in
from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import school_scope
from yuqing.monitor.models import ApiToken, Mention, Source
from yuqing.monitor.setup_services import api_token_create, api_token_revoke, scheme_create

pytestmark = pytest.mark.django_db

URL = "/api/v1/mentions"
ITEMS = [
    {
        "url": "https://weibo.example.cn/status/1",
        "title": "育才中学食堂",
        "text": "网友称育才中学食堂饭菜变质",
        "author": "网友甲",
        "published_at": "2025-03-01T08:00:00+08:00",
        "source_type": "weibo",
    },
    {"text": "育才中学举办科技节，学生作品展出", "source_type": "news"},
    {"url": "https://news.example.cn/3", "text": "青屿一中开学典礼"},  # matches no scheme
]


def make_token(school: Any, name: str = "区局采集器", **kwargs: Any) -> str:
    with school_scope(school):
        if not Source.objects.exists():
            scheme_create(name="学校", subject_words=[school.name])
        _token, raw = api_token_create(name=name, **kwargs)
    return raw


def push(body: Any, token: str | None, *, raw: bool = False) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post(
        URL, body if raw else json.dumps(body), content_type="application/json", **headers
    )


def get(path: str, token: str | None, **params: Any) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().get(path, params, **headers)


def test_it_stores_pushed_mentions_once(school: Any) -> None:
    token = make_token(school)
    first = push({"items": ITEMS}, token)
    assert first.status_code == 200, first.content
    body = first.json()
    assert (body["received"], body["new"], body["unmatched"]) == (3, 2, 1)
    again = push({"items": ITEMS}, token)
    assert again.json() | {"mention_ids": []} == {
        "received": 3,
        "new": 0,
        "duplicates": 2,
        "unmatched": 1,
        "mention_ids": [],
    }
    # The same post under a tracking-decorated link is the same post.
    tracked = dict(ITEMS[0], url=ITEMS[0]["url"] + "?utm_source=wechat")
    assert push({"items": [tracked]}, token).json()["new"] == 0
    with school_scope(school):
        mentions = Mention.objects.order_by("pk")
        assert mentions.count() == 2
        first_mention = mentions.first()
        assert first_mention.source.kind == "push" and first_mention.source.name == "区局采集器"
        assert first_mention.source_type == "weibo" and first_mention.author == "网友甲"
        pushes = AuditEntry.objects.filter(action="monitor.api.pushed")
        assert pushes.count() == 3
        assert pushes.order_by("seq").first().actor_label == "api-token:区局采集器"


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer yq_not-a-real-token", "Token abc", "Basic dXNlcjpwYXNz"],
)
def test_it_answers_401_without_a_valid_token(school: Any, header: str | None) -> None:
    make_token(school)
    headers = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().post(
        URL, json.dumps({"items": ITEMS}), content_type="application/json", **headers
    )
    assert response.status_code == 401
    assert get(URL, None).status_code == 401
    with school_scope(school):
        assert not Mention.objects.exists()


def test_a_revoked_token_stops_working(school: Any) -> None:
    token = make_token(school)
    with school_scope(school):
        api_token_revoke(token=ApiToken.objects.get())
    assert push({"items": ITEMS}, token).status_code == 401


def test_a_signed_in_session_is_not_a_token(people: dict[str, Any], school: Any) -> None:
    make_token(school)
    client = Client()
    client.force_login(people["admin"])
    response = client.post(URL, json.dumps({"items": ITEMS}), content_type="application/json")
    assert response.status_code == 401


def test_another_schools_token_never_sees_or_writes_this_schools_data(
    school: Any, other_school: Any
) -> None:
    ours = make_token(school, can_read=True)
    theirs = make_token(other_school, name="别校采集器", can_read=True)
    push({"items": ITEMS}, ours)
    assert get(URL, theirs).json() == {"items": [], "next_after": None}
    assert get("/api/v1/events", theirs).json() == []
    # Their push of the same posts lands in their school (and matches their scheme only).
    result = push({"items": [dict(ITEMS[2])]}, theirs).json()
    assert result["new"] == 1
    with school_scope(school):
        assert Mention.objects.count() == 2
        assert not Mention.objects.filter(text="青屿一中开学典礼").exists()
    with school_scope(other_school):
        assert list(Mention.objects.values_list("text", flat=True)) == ["青屿一中开学典礼"]
    assert len(get(URL, ours).json()["items"]) == 2


def test_malformed_json_gets_400_with_a_reason(school: Any) -> None:
    token = make_token(school)
    response = push('{"items": [', token, raw=True)
    assert response.status_code == 400
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({}, "items"),
        ({"items": []}, "items"),
        ({"items": [{"url": "javascript:alert(1)", "text": "育才中学"}]}, "url"),
        ({"items": [{"url": "https://a.example.cn/1"}]}, "title or a text"),
        ({"items": [{"text": "育才中学", "published_at": "last tuesday"}]}, "published_at"),
        ({"items": [{"text": "育才中学", "source_type": "tiktok"}]}, "source_type"),
        ({"items": [{"text": "育才中学"}] * 501}, "items"),
    ],
)
def test_invalid_items_get_422_with_a_reason(school: Any, body: Any, where: str) -> None:
    token = make_token(school)
    response = push(body, token)
    assert response.status_code == 422
    assert where in json.dumps(response.json(), ensure_ascii=False)
    with school_scope(school):
        assert not Mention.objects.exists()


def test_a_read_only_token_cannot_push_and_a_push_token_cannot_read(school: Any) -> None:
    reader = make_token(school, name="reader", can_push=False, can_read=True)
    pusher = make_token(school, name="pusher")
    assert push({"items": ITEMS}, reader).status_code == 403
    assert get(URL, pusher).status_code == 403
    assert get("/api/v1/events", pusher).status_code == 403


def test_it_pages_through_mentions_and_lists_events(school: Any) -> None:
    token = make_token(school, can_read=True)
    push({"items": ITEMS}, token)
    page = get(URL, token, limit=1).json()
    assert len(page["items"]) == 1 and page["next_after"] == page["items"][0]["id"]
    rest = get(URL, token, after=page["next_after"], limit=1).json()
    assert rest["items"][0]["id"] > page["next_after"]
    assert rest["items"][0]["source"] == "区局采集器"
    events = get("/api/v1/events", token).json()
    assert events and {"id", "title", "peak_risk", "mention_count"} <= set(events[0])
    assert get(URL, token, limit=0).status_code == 422


def test_it_serves_the_openapi_document(school: Any) -> None:
    response = Client().get(reverse("api:v1:openapi-json"))
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert {"post", "get"} <= set(doc["paths"]["/api/v1/mentions"])
    assert "/api/v1/events" in doc["paths"]
    assert doc["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"


def test_the_docs_page_keeps_the_csp(people: dict[str, Any]) -> None:
    client = Client()
    client.force_login(people["monitor"])
    response = client.get(reverse("api:docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/v1/mentions" in html and "cdn" not in html.lower()
    assert inline_code_in(html) == []
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_tokens_are_created_by_administrators_shown_once_and_stored_hashed(
    people: dict[str, Any], school: Any
) -> None:
    admin = Client()
    admin.force_login(people["admin"])
    response = admin.post(reverse("monitor:tokens"), {"name": "厂商推送", "can_push": "on"})
    assert response.status_code == 302
    page = admin.get(reverse("monitor:tokens")).content.decode()
    with school_scope(school):
        token = ApiToken.objects.get()
    raw = page.split('class="one-time-password">', 1)[1].split("<", 1)[0]
    assert raw.startswith("yq_") and len(raw) > 40
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in admin.get(reverse("monitor:tokens")).content.decode()  # shown once
    with school_scope(school):
        created = AuditEntry.objects.get(action="monitor.apitoken.created")
    assert raw not in json.dumps(created.changes) and token.token_hash not in json.dumps(
        created.changes
    )
    monitor = Client()
    monitor.force_login(people["monitor"])
    assert monitor.get(reverse("monitor:tokens")).status_code == 403
    admin.post(reverse("monitor:token_revoke", args=[token.pk]))
    assert push({"items": ITEMS}, raw).status_code == 401
