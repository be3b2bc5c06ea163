"""The mention stream: who sees it, what it shows, search, filters, paging, live updates, XSS."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import all_schools, school_scope
from yuqing.monitor import search
from yuqing.monitor.models import Event, Mention, Source

pytestmark = pytest.mark.django_db

_counter = [0]


def make_mention(school: Any, text: str, **fields: Any) -> Mention:
    """A stored, search-indexed mention of ``school`` (the poller's result, without a feed)."""
    _counter[0] += 1
    with school_scope(school):
        source, _ = Source.objects.get_or_create(
            name=fields.pop("source_name", "滨海新闻网"),
            defaults={"kind": Source.Kind.FEED, "source_type": fields.get("source_type", "news")},
        )
        title = fields.pop("title", "")
        defaults: dict[str, Any] = {
            "source_type": source.source_type,
            "url": f"https://news.example.cn/{_counter[0]}.html",
            "sentiment": "neutral",
            "topic": "campus_news",
            "risk": 0,
        }
        defaults.update(fields)
        digest = hashlib.sha256(f"{title}{text}{_counter[0]}".encode()).hexdigest()
        mention = Mention.objects.create(
            source=source,
            title=title,
            text=text,
            content_hash=digest,
            url_hash=digest if defaults["url"] else "",
            **defaults,
        )
        search.index_mentions([(mention.pk, mention.school_id, title, text)])
    return mention


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def desk(client: Client, **params: Any) -> Any:
    return client.get(reverse("monitor:index"), params)


def shown_ids(response: Any) -> list[int]:
    return [int(x) for x in re.findall(r'id="mention-(\d+)"', response.content.decode())]


def next_cursor(response: Any) -> int | None:
    """The cursor of the "older mentions" button, None when the stream ends here."""
    found = re.search(r'id="stream-more".*?before=(\d+)', response.content.decode(), re.S)
    return int(found.group(1)) if found else None


# -- who sees the desk ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, status",
    [
        ("admin", 200),
        ("monitor", 200),
        ("handler", 200),
        ("reviewer", 200),
        ("staff", 403),
        ("security", 403),
    ],
)
def test_it_opens_the_desk_for_monitor_view_roles_only(
    people: dict[str, Any], school: Any, role: str, status: int
) -> None:
    make_mention(school, "育才中学今天举行运动会")
    assert desk(login(people[role])).status_code == status


def test_it_shows_correction_tools_only_to_those_who_manage(
    people: dict[str, Any], school: Any
) -> None:
    make_mention(school, "育才中学今天举行运动会")
    assert 'class="mention-fix"' in desk(login(people["monitor"])).content.decode()
    handler_page = desk(login(people["handler"])).content.decode()
    assert "运动会" in handler_page and 'class="mention-fix"' not in handler_page
    assert 'id="bulk-form"' not in handler_page


def test_it_never_shows_another_schools_mentions(
    people: dict[str, Any], school: Any, other_school: Any, outsider: Any
) -> None:
    ours = make_mention(school, "育才中学食堂饭菜有问题")
    theirs = make_mention(other_school, "青屿一中食堂新菜单")
    outsider_page = desk(login(outsider))
    assert shown_ids(outsider_page) == [theirs.pk]
    assert "育才中学" not in outsider_page.content.decode()
    # Not by search either, nor by naming the other school's event.
    assert shown_ids(desk(login(outsider), q="食堂")) == [theirs.pk]
    assert shown_ids(desk(login(people["monitor"]), q="食堂")) == [ours.pk]
    response = login(outsider).post(
        reverse("monitor:correct", args=[ours.pk]), {"field": "sentiment", "value": "positive"}
    )
    assert response.status_code == 404


def test_it_shows_the_bureau_every_school_read_only(
    school: Any, other_school: Any, bureau_user: Any
) -> None:
    ours = make_mention(school, "育才中学食堂饭菜有问题")
    theirs = make_mention(other_school, "青屿一中食堂新菜单")
    client = login(bureau_user)
    page = desk(client)
    assert set(shown_ids(page)) == {ours.pk, theirs.pk}
    assert 'class="mention-fix"' not in page.content.decode()
    response = client.post(
        reverse("monitor:correct", args=[ours.pk]), {"field": "sentiment", "value": "negative"}
    )
    assert response.status_code == 403
    assert (
        client.post(reverse("monitor:bulk"), {"action": "read", "ids": [ours.pk]}).status_code
        == 403
    )
    with school_scope(school):
        assert Mention.objects.get(pk=ours.pk).sentiment == "neutral"


# -- search and filters ------------------------------------------------------------------------


def test_it_searches_two_character_terms_with_and_or_not_and_phrases(
    people: dict[str, Any], school: Any
) -> None:
    canteen = make_mention(school, "育才中学食堂饭菜发霉，家长很担心")
    fees = make_mention(school, "育才中学乱收费，家长群里都在说")
    job = make_mention(school, "育才中学食堂招聘厨师")
    client = login(people["monitor"])
    assert shown_ids(desk(client, q="食堂")) == [job.pk, canteen.pk]
    assert shown_ids(desk(client, q="食堂 家长")) == [canteen.pk]
    assert shown_ids(desk(client, q="食堂 -招聘")) == [canteen.pk]
    assert shown_ids(desk(client, q="发霉 OR 收费")) == [fees.pk, canteen.pk]
    assert shown_ids(desk(client, q='"家长群"')) == [fees.pk]


def test_it_filters_by_labels_status_source_event_time_and_relevance(
    people: dict[str, Any], school: Any
) -> None:
    with school_scope(school):
        story = Event.objects.create(
            key="k1", title="食堂", first_at=timezone.now(), latest_at=timezone.now()
        )
    red = make_mention(
        school,
        "育才中学食堂多名学生腹泻",
        risk=4,
        sentiment="negative",
        topic="health",
        event=story,
    )
    blue = make_mention(school, "育才中学作业太多", risk=1, sentiment="negative", topic="teaching")
    weibo = make_mention(
        school, "育才中学运动会", source_name="微博", source_type="weibo", sentiment="positive"
    )
    old = make_mention(
        school, "育才中学去年的新闻", published_at=timezone.now() - timedelta(days=40)
    )
    other = make_mention(school, "青州育才中学的消息", relevant=False)
    read = make_mention(school, "育才中学已读的消息", status=Mention.Status.READ)
    client = login(people["monitor"])
    assert shown_ids(desk(client, risk=3)) == [red.pk]
    assert shown_ids(desk(client, risk=1)) == [blue.pk, red.pk]
    assert set(shown_ids(desk(client, sentiment="negative"))) == {red.pk, blue.pk}
    assert shown_ids(desk(client, topic="health")) == [red.pk]
    assert shown_ids(desk(client, source_type="weibo")) == [weibo.pk]
    assert shown_ids(desk(client, status="read")) == [read.pk]
    assert shown_ids(desk(client, event=story.pk)) == [red.pk]
    assert old.pk not in shown_ids(desk(client, period="30d"))
    assert old.pk in shown_ids(desk(client))
    # Not about the school: hidden by default, shown on request.
    assert other.pk not in shown_ids(desk(client))
    assert shown_ids(desk(client, relevant="no")) == [other.pk]
    assert other.pk in shown_ids(desk(client, relevant="all"))
    # Nonsense filter values are ignored, not an error.
    assert desk(client, risk="x", before="y", period="forever").status_code == 200


def test_it_pages_newest_first_with_a_cursor(people: dict[str, Any], school: Any) -> None:
    made = [make_mention(school, f"育才中学第{i}条消息") for i in range(35)]
    client = login(people["monitor"])
    first = desk(client)
    ids = shown_ids(first)
    assert ids == [m.pk for m in reversed(made)][:30]
    assert next_cursor(first) == ids[-1]
    second = desk(client, before=ids[-1])
    assert shown_ids(second) == [m.pk for m in reversed(made)][30:]
    assert next_cursor(second) is None
    # The "older" button brings only the next page's cards for htmx.
    fragment = client.get(
        reverse("monitor:index"),
        {"before": ids[-1]},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="stream-more",
    )
    assert "<html" not in fragment.content.decode()
    assert shown_ids(fragment) == shown_ids(second)


def test_it_pages_search_results_with_a_cursor(
    people: dict[str, Any], school: Any, monkeypatch: Any
) -> None:
    from yuqing.monitor import selectors

    monkeypatch.setattr(selectors, "SEARCH_CHUNK", 4)
    hits = [make_mention(school, f"育才中学食堂第{i}次") for i in range(12)]
    for i in range(5):
        make_mention(school, f"育才中学操场第{i}次")
    client = login(people["monitor"])
    seen: list[int] = []
    before = None
    for _ in range(10):
        params = {"q": "食堂"} | ({"before": before} if before else {})
        response = desk(client, **params)
        page = shown_ids(response)
        seen += page
        before = next_cursor(response)
        if before is None:
            break
    assert seen == [m.pk for m in reversed(hits)]


# -- live updates -------------------------------------------------------------------------------


def test_it_sends_only_newer_mentions_to_the_live_poller(
    people: dict[str, Any], school: Any
) -> None:
    first = make_mention(school, "育才中学开学典礼")
    client = login(people["monitor"])
    page = desk(client).content.decode()
    assert f"after={first.pk}" in page and 'hx-trigger="every 30s"' in page
    quiet = client.get(
        reverse("monitor:index"), {"after": first.pk, "seen": 0}, HTTP_HX_REQUEST="true"
    )
    assert shown_ids(quiet) == [] and "live-notice" not in quiet.content.decode()
    a = make_mention(school, "育才中学食堂饭菜发霉", risk=3, sentiment="negative")
    b = make_mention(school, "育才中学作业太多")
    make_mention(school, "青州育才中学的消息", relevant=False)
    live = client.get(
        reverse("monitor:index"), {"after": first.pk, "seen": 1}, HTTP_HX_REQUEST="true"
    )
    body = live.content.decode()
    assert shown_ids(live) == [b.pk, a.pk]
    assert 'hx-swap-oob="afterbegin:#stream-list"' in body
    assert f"after={b.pk}" in body and "seen=3" in body
    assert re.search(r"class=\"live-count\">\s*3\b", body)
    # The poller keeps the filters: a search for 食堂 hears only of the canteen post.
    filtered = client.get(
        reverse("monitor:index"), {"after": first.pk, "q": "食堂"}, HTTP_HX_REQUEST="true"
    )
    assert shown_ids(filtered) == [a.pk]


# -- how a mention is shown ----------------------------------------------------------------------


def test_it_highlights_the_query_and_the_scheme_words_in_context(
    people: dict[str, Any], school: Any
) -> None:
    filler = "今天天气不错。" * 20
    make_mention(
        school,
        filler + "有家长说育才中学食堂的饭菜发霉了。",
        title="育才中学食堂",
        matches=[
            {
                "scheme": "1",
                "word": "育才中学",
                "kind": "subject",
                "match_type": "exact",
                "field": "text",
                "start": 147,
                "end": 151,
                "surface": "育才中学",
            }
        ],
    )
    body = desk(login(people["monitor"]), q="发霉").content.decode()
    assert "<mark>发霉</mark>" in body
    assert "<mark>育才中学</mark>" in body
    # The snippet starts near the first hit, not at the top of a long text.
    snippet = re.search(r'<p class="mention-snippet">(.*?)</p>', body, re.S).group(1)
    assert snippet.startswith("…") and snippet.count("今天天气不错") < 10


def test_it_renders_hostile_crawled_content_inert(people: dict[str, Any], school: Any) -> None:
    script = "<script>alert(1)</script>"
    image = "<img src=x onerror=alert(1)>"
    make_mention(
        school,
        f"育才中学 {script} {image}",
        title=f"育才中学 {script}",
        author=image,
        url="javascript:alert(1)",
    )
    make_mention(school, "育才中学 data 链接", url="data:text/html,<script>alert(1)</script>")
    body = desk(login(people["monitor"]), q="育才").content.decode()
    assert script not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "javascript:" not in body.lower()
    assert 'href="data:' not in body
    for href in re.findall(r'<a [^>]*href="([^"]+)"[^>]*target="_blank"', body):
        assert href.startswith(("http://", "https://"))


def test_it_links_originals_safely(people: dict[str, Any], school: Any) -> None:
    make_mention(school, "育才中学运动会", title="运动会", url="https://news.example.cn/a.html")
    body = desk(login(people["monitor"])).content.decode()
    link = re.search(r'<a href="https://news.example.cn/a.html"[^>]*>', body).group(0)
    assert 'rel="noopener noreferrer nofollow"' in link and 'target="_blank"' in link


def test_it_shows_an_empty_state_without_mentions(people: dict[str, Any], school: Any) -> None:
    body = desk(login(people["monitor"])).content.decode()
    assert "empty-state" in body


# -- bulk actions --------------------------------------------------------------------------------


def test_it_marks_read_ignores_and_moves_mentions_in_bulk_and_audits_it(
    people: dict[str, Any], school: Any
) -> None:
    a = make_mention(school, "育才中学消息一")
    b = make_mention(school, "育才中学消息二")
    with school_scope(school):
        story = Event.objects.create(
            key="k", title="故事", first_at=timezone.now(), latest_at=timezone.now()
        )
    client = login(people["monitor"])
    url = reverse("monitor:bulk")
    assert client.post(url, {"action": "read", "ids": [a.pk, b.pk]}).status_code == 302
    assert client.post(url, {"action": "ignore", "ids": [b.pk]}).status_code == 302
    client.post(url, {"action": "add_to_event", "ids": [a.pk, b.pk], "event": story.pk})
    with school_scope(school):
        a.refresh_from_db()
        b.refresh_from_db()
        story.refresh_from_db()
    assert a.status == "read" and b.status == "ignored"
    assert a.event_id == b.event_id == story.pk and story.mention_count == 2
    with all_schools():
        actions = list(
            AuditEntry.objects.filter(action__startswith="monitor.mentions.").values_list(
                "action", "changes"
            )
        )
    assert [x[0] for x in actions].count("monitor.mentions.read") == 1
    assert {"monitor.mentions.ignore", "monitor.mentions.add_to_event"} <= {x[0] for x in actions}
    read = next(c for act, c in actions if act == "monitor.mentions.read")
    assert read["mentions"] == sorted([a.pk, b.pk])


def test_it_refuses_bulk_actions_on_another_schools_mentions(
    people: dict[str, Any], other_school: Any
) -> None:
    theirs = make_mention(other_school, "青屿一中消息")
    login(people["monitor"]).post(reverse("monitor:bulk"), {"action": "ignore", "ids": [theirs.pk]})
    with school_scope(other_school):
        assert Mention.objects.get(pk=theirs.pk).status == "new"


# -- the overview ----------------------------------------------------------------------------


def test_it_reports_todays_mentions_and_thirty_days_to_the_overview(
    people: dict[str, Any], school: Any, other_school: Any
) -> None:
    from yuqing.monitor.overview import daily_mentions, summary

    now = timezone.now()
    make_mention(school, "育才中学今天一", published_at=now)
    make_mention(school, "育才中学今天二", published_at=now, risk=3)
    make_mention(school, "育才中学三天前", published_at=now - timedelta(days=3))
    make_mention(school, "不相关", published_at=now, relevant=False)
    make_mention(other_school, "别校今天", published_at=now)

    class Req:
        user = people["monitor"]

    today = timezone.localdate()
    with school_scope(school):
        figure = summary(Req())  # type: ignore[arg-type]
        days = daily_mentions(Req(), today - timedelta(days=29), today)  # type: ignore[arg-type]
    assert figure.value == 2 and figure.tone == "attention"
    assert days[today] == 2 and days[today - timedelta(days=3)] == 1 and sum(days.values()) == 3
    home = login(people["monitor"]).get(reverse("core:home")).content.decode()
    assert '"total": 3' in home
