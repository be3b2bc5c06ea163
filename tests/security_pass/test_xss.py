"""XSS: markup from outside (feed titles, page text, author names, links, the public petition
form, imported tables) is shown as text on every page where it appears, in alert e-mails and
in the exported documents; it never becomes markup that runs.

Every page of the product carries no inline code at all (tests/test_permissions.py checks
that), so any ``<script>``, event-handler attribute or ``javascript:`` link found in a page
rendered with these payloads came from the payloads.
"""

from __future__ import annotations

import html
import io
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from aiohttp import web
from django.test import Client
from django.urls import reverse

from tests.monitor.collect.servers import LocalServer, serve
from tests.test_permissions import inline_code_in
from yuqing.core.tenancy import school_scope

pytestmark = pytest.mark.django_db

# Each payload carries a marker so that a test can prove it was shown (as text) at all.
PAYLOADS = [
    "<script>alert('xss-1')</script>",
    "<img src=x onerror=alert('xss-2')>",
    "\"><svg onload=alert('xss-3')>",
    "' onmouseover='alert(`xss-4`)' x='",
    "<a href=\"javascript:alert('xss-5')\">点我</a>",
    "</textarea><iframe src=javascript:alert('xss-6')></iframe>",
    "<details open ontoggle=alert('xss-7')>",
]
EVIL_LINKS = ["javascript:alert('xss-8')", "https://x.example/\"><svg onload=alert('xss-9')>"]


def attack(label: str) -> str:
    """A title that matches the school's scheme and carries every payload."""
    return f"育才中学{label} " + " ".join(PAYLOADS)


class LiveMarkup(HTMLParser):
    """What a browser would run: scripts, event handlers, javascript: URLs, iframes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        own_script = tag == "script" and (named.get("src") or "").startswith("/static/")
        data_block = tag == "script" and named.get("type") == "application/json"
        if tag in ("script", "iframe", "object", "embed") and not (own_script or data_block):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")
            if name in ("href", "src", "action", "formaction", "xlink:href") and (
                (value or "").strip().lower().startswith(("javascript:", "data:text/html"))
            ):
                self.found.append(f"{name}={value!r} on <{tag}>")

    handle_startendtag = handle_starttag


def live_markup(document: str) -> list[str]:
    parser = LiveMarkup()
    parser.feed(document)
    return parser.found


def assert_inert(page: str, where: str, *, strict_page: bool = True) -> None:
    assert live_markup(page) == [], f"{where}: {live_markup(page)}"
    if strict_page:
        assert inline_code_in(page) == [], f"{where}: {inline_code_in(page)}"
    for raw in ("<script>alert(", "<img src=x onerror", "<svg onload", "<details open onto"):
        assert raw not in page, f"{where}: raw {raw!r}"


# --- the hostile internet ----------------------------------------------------------------------


def hostile_feed(base: str) -> str:
    items = []
    for i, payload in enumerate(PAYLOADS):
        link = EVIL_LINKS[i % 2] if i < 2 else f"{base}/post/{i}"
        items.append(
            f"<item><title>{html.escape(attack(f'feed{i}'))}</title>"
            f"<link>{html.escape(link)}</link>"
            f"<author>{html.escape(payload)}</author>"
            f"<description><![CDATA[<p>育才中学 {payload}</p><script>alert('xss-10')</script>"
            f"<p onclick=\"alert('xss-11')\">文字</p>]]></description>"
            f"<guid>g{i}</guid></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{html.escape(PAYLOADS[0])}</title><link>{base}/</link>"
        f"{''.join(items)}</channel></rss>"
    )


@pytest.fixture
def feed_server() -> Iterator[LocalServer]:
    with serve() as srv:

        @srv.route("/feed.xml")
        async def feed(request: web.Request) -> web.Response:
            return web.Response(text=hostile_feed(srv.base), content_type="application/rss+xml")

        yield srv


@pytest.fixture
def loaded(
    school: Any, people: dict[str, Any], settings: Any, feed_server: LocalServer
) -> dict[str, Any]:
    """A school whose desk, events, alerts and cases are full of payloads."""
    from yuqing.alerts.services import alerts_evaluate, rule_save
    from yuqing.cases import services as case_services
    from yuqing.monitor import setup_services
    from yuqing.monitor.models import Event, Mention, Source
    from yuqing.monitor.poller import poll_due
    from yuqing.monitor.services import IncomingItem, mentions_ingest

    settings.FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    settings.FETCH_HOST_SPACING_MS = 0
    with school_scope(school):
        setup_services.scheme_create(name="学校", subject_words=[school.name, "育才中学"])
        rule_save(name="任意风险", kind="risk_level", level=4, params={"min_risk": 1})
        feed = setup_services.source_create(
            kind=Source.Kind.FEED,
            name=PAYLOADS[1],
            url=feed_server.url("/feed.xml"),
        )
        manual = setup_services.default_source(kind="manual", name=PAYLOADS[2])
        result = mentions_ingest(
            source=manual,
            items=[
                IncomingItem(
                    text=f"育才中学食堂 {payload} 家长反映饭菜变质",
                    title=attack(f"手动{i}"),
                    url=EVIL_LINKS[i % 2] if i < 2 else f"https://bbs.example.cn/t/{i}",
                    author=payload,
                )
                for i, payload in enumerate(PAYLOADS)
            ],
        )
        assert result.new == len(PAYLOADS)
    report = poll_due()
    assert report.failed == 0, report
    with school_scope(school):
        feed.refresh_from_db()
        assert Mention.objects.count() == 2 * len(PAYLOADS)
        # Risky enough for the rule, whatever the classifier made of the payloads.
        Mention.objects.update(risk=4)
        Event.objects.update(peak_risk=4)
        mentions = list(Mention.objects.all())
        events = list(Event.objects.all())
        alerts = alerts_evaluate(
            school_id=school.pk,
            event_ids=[e.pk for e in events],
            mention_ids=[m.pk for m in mentions],
        )
        case = case_services.case_open(
            title=attack("工单"),
            level=3,
            summary=" ".join(PAYLOADS),
            alert=alerts[0] if alerts else None,
            mention_ids=[m.pk for m in mentions],
            by=people["admin"],
        )
    return {"mentions": mentions, "events": events, "alerts": alerts, "case": case}


def admin(people: dict[str, Any]) -> Client:
    client = Client()
    client.force_login(people["admin"])
    return client


def test_stored_links_are_never_javascript(loaded: dict[str, Any]) -> None:
    for mention in loaded["mentions"]:
        assert not mention.url.lower().startswith(("javascript:", "data:")), mention.url


def test_links_stored_before_the_ingest_check_are_not_rendered_as_links(
    loaded: dict[str, Any], school: Any, people: dict[str, Any]
) -> None:
    """Rows written by an older version may still hold javascript: addresses."""
    from yuqing.monitor.models import Mention

    with school_scope(school):
        Mention.objects.update(url="javascript:alert('xss-stored')")
        Mention.objects.filter(pk=loaded["mentions"][0].pk).update(url=" https://ok.example/a ")
    client = admin(people)
    pages = [reverse("cases:detail", args=[loaded["case"].pk])]
    pages += [reverse("alerts:detail", args=[a.pk]) for a in loaded["alerts"][:3]]
    for url in pages:
        page = client.get(url).content.decode()
        assert_inert(page, url)
        assert "xss-stored" not in page, url
    assert 'href="https://ok.example/a"' in client.get(pages[0]).content.decode()


def test_every_page_with_outside_text_shows_it_inert(
    loaded: dict[str, Any], people: dict[str, Any]
) -> None:
    client = admin(people)
    pages = [
        reverse("monitor:index"),
        reverse("monitor:index") + "?q=育才中学",
        reverse("monitor:events"),
        reverse("alerts:index"),
        reverse("alerts:notifications"),
        reverse("cases:index"),
        reverse("cases:detail", args=[loaded["case"].pk]),
        reverse("monitor_setup:sources") if _has("monitor_setup:sources") else None,
        reverse("core:dashboard") if _has("core:dashboard") else None,
        reverse("reports:dashboard"),
    ]
    pages += [reverse("monitor:event", args=[e.pk]) for e in loaded["events"][:5]]
    pages += [reverse("alerts:detail", args=[a.pk]) for a in loaded["alerts"][:5]]
    assert loaded["alerts"], "the rule raised no alert: the alert pages would go untested"
    shown = 0
    for url in [p for p in pages if p]:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        page = response.content.decode()
        assert_inert(page, url)
        shown += "xss-" in page
    assert shown >= 6  # the payloads were on the pages, as text


def _has(name: str) -> bool:
    from django.urls import NoReverseMatch

    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


def test_alert_emails_and_chat_messages_show_outside_text_inert(loaded: dict[str, Any]) -> None:
    from yuqing.alerts.services import build_payload, message_from_payload
    from yuqing.alerts.transports.message import render_email_html

    assert loaded["alerts"]
    for alert in loaded["alerts"]:
        with school_scope(alert.school_id):
            message = message_from_payload(build_payload(alert))
        email = render_email_html(message)
        assert_inert(email, f"e-mail of alert {alert.pk}", strict_page=False)
        assert "xss-" in email  # shown, as text
        for channel in ("dingtalk", "wecom", "text"):
            # Chat robots render Markdown: a payload must not become a link or an image.
            text = message.render_text(channel)
            assert "](javascript:" not in text


def test_the_public_petition_form_keeps_payloads_inert(school: Any, people: dict[str, Any]) -> None:
    from yuqing.cases.models import Petition

    public = Client()
    url = reverse("cases:public_petition", args=[school.slug])
    response = public.post(
        url,
        {
            "channel": "mailbox",
            "subject": PAYLOADS[0][:200],
            "body": "\n".join(PAYLOADS),
            "name": PAYLOADS[3][:60],
            "contact": PAYLOADS[2][:100],
            "website": "",
        },
    )
    assert response.status_code == 200
    assert_inert(response.content.decode(), "thanks page")
    with school_scope(school):
        petition = Petition.objects.get()
    client = admin(people)
    for page in (
        reverse("cases:petitions"),
        reverse("cases:petition_detail", args=[petition.pk]),
        reverse("cases:detail", args=[petition.case_id]),
        reverse("cases:index"),
    ):
        response = client.get(page)
        assert response.status_code == 200, page
        body = response.content.decode()
        assert_inert(body, page)
        assert "xss-1" in body or page == reverse("cases:index")
    # The form itself, re-shown with an error, echoes the input escaped.
    again = public.post(url, {"channel": "mailbox", "subject": PAYLOADS[1], "body": ""})
    assert_inert(again.content.decode(), "petition form with errors")


def test_imported_tables_keep_payloads_inert(school: Any, people: dict[str, Any]) -> None:
    from yuqing.cases import services as case_services
    from yuqing.cases.models import Petition

    rows = ["received_on,subject,body,name"] + [
        f'2026-03-0{i + 1},"{p.replace(chr(34), chr(34) * 2)}","育才中学 {p.replace(chr(34), chr(34) * 2)}",x'
        for i, p in enumerate(PAYLOADS[:5])
    ]
    with school_scope(school):
        from yuqing.cases import routes

        routes.routes_seed()
        result = case_services.petitions_import(data="\n".join(rows).encode(), by=people["admin"])
        assert len(result.created) == 5, result
        petitions = list(Petition.objects.all())
    client = admin(people)
    for page in [reverse("cases:petitions")] + [
        reverse("cases:petition_detail", args=[p.pk]) for p in petitions
    ]:
        body = client.get(page).content.decode()
        assert_inert(body, page)


def test_exported_documents_keep_payloads_as_text(
    loaded: dict[str, Any], people: dict[str, Any]
) -> None:
    # DOCX/XLSX are XML: a payload must be character data there, never elements.
    from yuqing.security import services as security_services

    with school_scope(loaded["case"].school_id):
        security_services.asset_save(
            user=people["admin"], kind="website", name=PAYLOADS[1], url="https://www.example.cn/"
        )
        data = security_services.assets_export_xlsx()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = "".join(archive.read(n).decode() for n in archive.namelist() if n.endswith(".xml"))
    assert "<img" not in xml and "&lt;img src=x onerror" in xml


def test_an_imported_mention_table_keeps_payloads_inert(
    school: Any, people: dict[str, Any]
) -> None:
    import csv

    from yuqing.monitor import setup_services
    from yuqing.monitor.models import Mention, Source

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["标题", "正文", "链接", "作者"])
    for i, payload in enumerate(PAYLOADS):
        link = EVIL_LINKS[i % 2] if i < 2 else f"https://news.example.cn/{i}"
        writer.writerow([attack(f"导入{i}"), f"育才中学 {payload}", link, payload])
    with school_scope(school):
        setup_services.scheme_create(name="学校", subject_words=[school.name, "育才中学"])
        source = setup_services.source_create(kind=Source.Kind.IMPORT, name=PAYLOADS[0])
        job = setup_services.import_upload(
            file=io.BytesIO(out.getvalue().encode("utf-8-sig")),
            filename="export.csv",
            source=source,
            user=people["admin"],
        )
        setup_services.import_start(
            job=job, mapping={"title": "标题", "text": "正文", "url": "链接", "author": "作者"}
        )
    setup_services.import_run(job_id=job.pk)
    with school_scope(school):
        mentions = list(Mention.objects.all())
    # The two rows whose link is no web address are refused as row errors; the rest stored.
    assert len(mentions) == len(PAYLOADS) - 2
    assert all(not m.url.lower().startswith("javascript:") for m in mentions)
    client = admin(people)
    for url in (
        reverse("monitor:index"),
        reverse("monitor:import_detail", args=[job.pk]),
        reverse("monitor_setup:sources") if _has("monitor_setup:sources") else None,
    ):
        if url:
            body = client.get(url).content.decode()
            assert_inert(body, url)


def test_an_imported_asset_register_keeps_payloads_inert(
    school: Any, people: dict[str, Any]
) -> None:
    from tests.security_pass import bombs
    from yuqing.security import services as security_services
    from yuqing.security.models import Asset

    sheet = bombs.SHEET.replace("website", "网站").replace(
        '<c r="B1" t="inlineStr"><is><t>Kind</t></is></c>',
        '<c r="B1" t="inlineStr"><is><t>Kind</t></is></c>'
        '<c r="C1" t="inlineStr"><is><t>URL</t></is></c>',
    )
    sheet = sheet.replace(
        '<c r="B2" t="inlineStr"><is><t>网站</t></is></c>',
        '<c r="B2" t="inlineStr"><is><t>网站</t></is></c>'
        '<c r="C2" t="inlineStr"><is><t>https://www.example.cn/</t></is></c>',
    )
    data = bombs.xlsx(sheet=sheet.format(cell=html.escape(PAYLOADS[1])))
    with school_scope(school):
        result = security_services.assets_import_xlsx(file=io.BytesIO(data), user=people["admin"])
        assert result.created == 1, result
        asset = Asset.objects.get()
    client = admin(people)
    for url in (reverse("security:asset_list"), reverse("security:asset_detail", args=[asset.pk])):
        body = client.get(url).content.decode()
        assert_inert(body, url)
        assert "xss-2" in body


def test_the_report_document_keeps_outside_text_as_text(
    loaded: dict[str, Any], people: dict[str, Any]
) -> None:
    # A Word report lists events and alerts by their titles, which came from outside.
    import datetime as dt

    from django.utils import timezone

    from yuqing.reports import services as report_services

    today = timezone.localdate()
    with school_scope(loaded["case"].school_id):
        report = report_services.report_generate(
            kind="weekly",
            start=today - dt.timedelta(days=today.weekday()),
            end=today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=6),
            user=people["admin"],
        )
        with report.file.open("rb") as fh:
            data = fh.read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        body = archive.read("word/document.xml").decode()
    assert "xss-" in body  # the titles are in the document
    assert "<script" not in body and "<img" not in body and "<svg" not in body
    assert "&lt;script&gt;" in body or "&lt;img" in body
