"""Sources: one form per kind (with the RSSHub route picker) and the health page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import school_scope
from yuqing.monitor.models import FetchLog, Source
from yuqing.monitor.setup_services import source_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def ming(people: dict[str, Any]) -> Client:
    client = Client()
    client.force_login(people["monitor"])
    return client


def _sources(school: Any) -> list[Source]:
    with school_scope(school):
        return list(Source.objects.order_by("pk"))


def test_it_adds_a_feed_source_and_audits_it(ming: Client, school: Any) -> None:
    response = ming.post(
        reverse("monitor:source_add", args=["feed"]),
        {
            "name": "滨江日报",
            "url": "https://news.example.cn/rss.xml",
            "source_type": "news",
            "interval_seconds": "300",
            "enabled": "on",
        },
    )
    [source] = _sources(school)
    assert response.status_code == 302
    assert response["Location"] == reverse("monitor:source_detail", args=[source.pk])
    assert (source.kind, source.url, source.interval_seconds) == (
        "feed",
        "https://news.example.cn/rss.xml",
        300,
    )
    with school_scope(school):
        assert AuditEntry.objects.filter(action="monitor.source.created").count() == 1


@pytest.mark.parametrize("url", ["not a url", "ftp://news.example.cn/rss", "javascript:alert(1)"])
def test_it_refuses_a_bad_url(ming: Client, school: Any, url: str) -> None:
    response = ming.post(
        reverse("monitor:source_add", args=["feed"]),
        {"name": "坏地址", "url": url, "source_type": "news", "interval_seconds": "900"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["url"]
    assert _sources(school) == []


def test_it_builds_an_rsshub_route_from_the_picker(ming: Client, school: Any) -> None:
    response = ming.post(
        reverse("monitor:source_add", args=["rsshub"]),
        {
            "name": "微博关键词 育才中学",
            "route_key": "weibo.keyword",
            "param_keyword": "育才中学",
            "source_type": "weibo",
            "interval_seconds": "60",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    [source] = _sources(school)
    assert source.kind == "rsshub"
    assert source.config["route"] == "/weibo/keyword/育才中学"
    assert source.config["params"] == {"keyword": "育才中学"}
    assert source.interval_seconds == 60


def test_it_refuses_an_unknown_rsshub_route_parameter(ming: Client, school: Any) -> None:
    response = ming.post(
        reverse("monitor:source_add", args=["rsshub"]),
        {
            "name": "微博",
            "route_key": "weibo.keyword",
            "param_keyword": "育才中学",
            "param_colour": "red",
            "source_type": "weibo",
            "interval_seconds": "900",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["route_key"]
    assert "colour" in str(errors)
    assert _sources(school) == []


def test_it_refuses_a_missing_rsshub_parameter_and_a_full_url_as_route(
    ming: Client, school: Any
) -> None:
    missing = ming.post(
        reverse("monitor:source_add", args=["rsshub"]),
        {
            "name": "a",
            "route_key": "weibo.keyword",
            "source_type": "weibo",
            "interval_seconds": "900",
        },
    )
    assert missing.context["form"].errors["param_keyword"]
    full_url = ming.post(
        reverse("monitor:source_add", args=["rsshub"]),
        {
            "name": "b",
            "route_key": "",
            "custom_route": "https://rsshub.app/weibo/keyword/x",
            "source_type": "weibo",
            "interval_seconds": "900",
        },
    )
    assert "not a full URL" in str(full_url.context["form"].errors["custom_route"])
    assert _sources(school) == []


def test_it_accepts_a_typed_rsshub_route(ming: Client, school: Any) -> None:
    response = ming.post(
        reverse("monitor:source_add", args=["rsshub"]),
        {
            "name": "贴吧",
            "custom_route": "/baidu/tieba/forum/育才中学",
            "source_type": "forum",
            "interval_seconds": "900",
        },
    )
    assert response.status_code == 302
    assert _sources(school)[0].config == {"route": "/baidu/tieba/forum/育才中学"}


def test_it_serves_the_parameter_fields_of_a_picked_route(ming: Client) -> None:
    response = ming.get(
        reverse("monitor:source_rsshub_params"),
        {"route_key": "bilibili.search"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert 'name="param_kw"' in html and 'name="param_order"' in html
    assert (
        ming.get(reverse("monitor:source_rsshub_params"), {"route_key": "x.y"}).status_code == 404
    )


def test_the_rsshub_form_offers_the_catalogue(ming: Client) -> None:
    html = ming.get(reverse("monitor:source_add", args=["rsshub"])).content.decode()
    for platform in ("微博", "微信公众号", "知乎", "百度贴吧", "哔哩哔哩", "抖音"):
        assert f'label="{platform}"' in html
    assert 'hx-get="/monitor/setup/sources/rsshub-params/"' in html


def test_it_checks_a_json_api_mapping(ming: Client, school: Any) -> None:
    base = {
        "name": "供应商接口",
        "url": "https://vendor.example.cn/api/list",
        "items_path": "$.data.list[*]",
        "path_title": "$.title",
        "source_type": "news",
        "interval_seconds": "900",
    }
    bad = ming.post(reverse("monitor:source_add", args=["json_api"]), {**base, "path_url": "$.[?"})
    assert bad.status_code == 200 and bad.context["form"].errors
    no_url = ming.post(reverse("monitor:source_add", args=["json_api"]), base)
    assert "url or guid" in str(no_url.context["form"].errors)
    good = ming.post(
        reverse("monitor:source_add", args=["json_api"]), {**base, "path_url": "$.link"}
    )
    assert good.status_code == 302
    assert _sources(school)[0].config["mapping"] == {
        "items": "$.data.list[*]",
        "fields": {"url": "$.link", "title": "$.title"},
    }


def test_it_checks_a_web_link_selector(ming: Client, school: Any) -> None:
    data = {
        "name": "学校官网",
        "url": "https://www.yucai.edu.cn/news/",
        "max_articles": "10",
        "is_own": "on",
        "source_type": "news",
        "interval_seconds": "900",
    }
    bad = ming.post(reverse("monitor:source_add", args=["web"]), {**data, "link_selector": "a[["})
    assert bad.context["form"].errors["link_selector"]
    good = ming.post(
        reverse("monitor:source_add", args=["web"]), {**data, "link_selector": "ul.list a"}
    )
    assert good.status_code == 302
    [source] = _sources(school)
    assert source.is_own and source.config == {"max_articles": 10, "link_selector": "ul.list a"}


def test_it_edits_and_pauses_a_source(ming: Client, school: Any) -> None:
    with school_scope(school):
        source = source_create(kind="feed", name="旧名", url="https://a.example.cn/rss")
    response = ming.post(
        reverse("monitor:source_edit", args=[source.pk]),
        {
            "name": "新名",
            "url": "https://b.example.cn/rss",
            "source_type": "news",
            "interval_seconds": "900",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    ming.post(reverse("monitor:source_enabled", args=[source.pk]), {"enabled": "0"})
    [source] = _sources(school)
    assert (source.name, source.url, source.enabled) == ("新名", "https://b.example.cn/rss", False)


def test_a_handler_may_look_but_not_add(people: dict[str, Any]) -> None:
    client = Client()
    client.force_login(people["handler"])
    assert client.get(reverse("monitor:sources")).status_code == 200
    assert client.get(reverse("monitor:source_add", args=["feed"])).status_code == 403


def _with_state(school: Any, name: str, **state: Any) -> Source:
    with school_scope(school):
        source = source_create(kind="feed", name=name, url=f"https://{name}.example.cn/rss")
        Source.objects.filter(pk=source.pk).update(**state)
        source.refresh_from_db()
        return source


def test_the_sources_page_shows_every_health_state(ming: Client, school: Any) -> None:
    now = timezone.now()
    ok = _with_state(school, "ok", last_polled_at=now, last_success_at=now, last_duration_ms=300)
    _with_state(school, "slow", last_polled_at=now, last_success_at=now, last_duration_ms=25_000)
    _with_state(
        school,
        "failing",
        last_polled_at=now,
        last_success_at=now - timedelta(hours=2),
        consecutive_failures=1,
        last_error_kind="timeout",
        last_error="no answer within 30 s",
    )
    _with_state(
        school,
        "backoff",
        last_polled_at=now,
        consecutive_failures=5,
        last_error_kind="http_status",
        last_error="HTTP 503 from the server",
    )
    _with_state(school, "paused", enabled=False)
    _with_state(school, "fresh")
    with school_scope(school):
        FetchLog.objects.create(source=ok, status_code=200, bytes=1234, items_seen=7, items_new=2)

    response = ming.get(reverse("monitor:sources"))
    html = response.content.decode()
    rows = {r["source"].name: r["health"] for r in response.context["rows"]}
    assert rows == {
        "ok": "ok",
        "slow": "slow",
        "failing": "failing",
        "backoff": "backing_off",
        "paused": "paused",
        "fresh": "new",
    }
    for state in ("ok", "slow", "failing", "backing_off", "paused", "new"):
        assert f'data-health="{state}"' in html
    assert "no answer within 30 s" in html and "HTTP 503 from the server" in html
    # The table refreshes itself; an htmx request gets just the table.
    assert 'hx-trigger="every 30s"' in html
    fragment = ming.get(reverse("monitor:sources"), HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="sources-table"') and "<html" not in fragment

    detail = ming.get(reverse("monitor:source_detail", args=[ok.pk])).content.decode()
    assert "1,234" in detail or "1234" in detail


def test_it_never_shows_another_schools_source(
    ming: Client, school: Any, other_school: Any
) -> None:
    with school_scope(other_school):
        theirs = source_create(kind="feed", name="别校", url="https://other.example.cn/rss")
    assert ming.get(reverse("monitor:source_detail", args=[theirs.pk])).status_code == 404
    assert "别校" not in ming.get(reverse("monitor:sources")).content.decode()


def test_it_polls_now_and_refuses_to_delete_a_source_with_mentions(
    ming: Client, school: Any
) -> None:
    from yuqing.monitor.services import IncomingItem, mentions_ingest
    from yuqing.monitor.setup_services import scheme_create

    with school_scope(school):
        scheme_create(name="学校", subject_words=["育才中学"])
        source = source_create(kind="feed", name="f", url="https://f.example.cn/rss")
        Source.objects.filter(pk=source.pk).update(next_poll_at=timezone.now() + timedelta(hours=3))
        mentions_ingest(source=source, items=[IncomingItem(text="育才中学举行运动会")])
    ming.post(reverse("monitor:source_poll", args=[source.pk]))
    assert _sources(school)[0].next_poll_at <= timezone.now()
    ming.post(reverse("monitor:source_delete", args=[source.pk]))
    assert len(_sources(school)) == 1
    with school_scope(school):
        empty = source_create(kind="feed", name="g", url="https://g.example.cn/rss")
    ming.post(reverse("monitor:source_delete", args=[empty.pk]))
    assert [s.name for s in _sources(school)] == ["f"]
