"""Finding where approved drafts went live by watching the school's own sites.

Listings: the monitor's sources marked as the school's own site (an RSS/Atom feed, or a list
page with its link selector), and the feeds, sitemaps and list pages in the check settings
(``CheckSettings.watch_listings``; the monitor cannot read sitemaps). Each round reads them,
fetches the pages not seen before (and those that could not be fetched last time) — only on
the school's own hosts (``services.school_hosts``) — and keeps their text (``SitePage``). Approved drafts that have no live address yet are then matched against the
pages of the last ``MATCH_WINDOW``:

* the same text: the SHA-256 of the page's normalised text equals the signed text's, or the
  page shows the signed text exactly with only the site's template around it (the tamper
  watch's comparison): similarity 1.0;
* otherwise the Jaccard similarity of character 3-shingles (``yuqing.text.similarity``) of the
  signed text and of the page's text without the site's template: a match from
  ``MATCH_THRESHOLD`` (0.8) up. Small edits on the way to the site (punctuation, a word, a
  line added by the site editor) stay well above it; another article of the same school stays
  far below (different articles share names and phrases, not whole runs of sentences).

A match is recorded as the draft's publication ("found by watch", with its similarity),
audited, and the author is notified; from then on the tamper watch checks the page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yuqing.core.tenancy import all_schools, school_scope
from yuqing.lib.urls import canonical_url, is_http_url
from yuqing.publishing import content, live, services
from yuqing.publishing.models import Channel, CheckSettings, Draft, Publication, SitePage
from yuqing.text.similarity import char_shingles, containment, jaccard

log = logging.getLogger(__name__)

MATCH_THRESHOLD = 0.8
MATCH_WINDOW = dt.timedelta(days=30)
MAX_NEW_PAGES = 20  # per listing and round: a first read of a big sitemap is spread over rounds
MAX_CHILD_SITEMAPS = 5
MAX_LINKS = 500  # newest addresses looked at per listing (a sitemap may list the whole site)
MAX_TEXT = 50_000


@dataclass(frozen=True)
class ListingSpec:
    url: str
    selector: str = ""


@dataclass
class SiteWatchReport:
    listings: int = 0
    pages_read: int = 0
    refused: list[str] = field(default_factory=list)  # addresses not on the school's hosts
    errors: list[str] = field(default_factory=list)
    found: list[tuple[int, str, float]] = field(default_factory=list)  # draft, url, similarity


def listings_for(school_id: int) -> list[ListingSpec]:
    from yuqing.monitor.models import Source

    specs = [
        ListingSpec(url, str((config or {}).get("link_selector") or ""))
        for url, config in Source.objects.filter(
            school_id=school_id,
            is_own=True,
            enabled=True,
            kind__in=[Source.Kind.FEED, Source.Kind.WEB],
        )
        .exclude(url="")
        .order_by("id")
        .values_list("url", "config")
    ]
    for entry in services.settings_for(school_id).watch_listings or []:
        url, _sep, selector = str(entry).partition(" ")
        specs.append(ListingSpec(url, selector.strip()))
    return list(dict.fromkeys(specs))


def url_key(url: str) -> str:
    return hashlib.sha256(canonical_url(url).encode()).hexdigest()


def _text_hash(text: str) -> str:
    return hashlib.sha256(content.normalize_for_compare(text).encode()).hexdigest()


def site_watch_all(*, now: dt.datetime | None = None) -> SiteWatchReport:
    """One round over every school that registered listings or own-site sources."""
    from yuqing.monitor.models import Source

    now = now or timezone.now()
    total = SiteWatchReport()
    with all_schools():
        schools = {
            school_id
            for school_id, listings in CheckSettings.objects.values_list(
                "school_id", "watch_listings"
            )
            if listings
        } | set(
            Source.objects.filter(is_own=True, enabled=True).values_list("school_id", flat=True)
        )
    for school_id in sorted(schools):
        with school_scope(school_id):
            report = site_watch(school_id=school_id, now=now)
        total.listings += report.listings
        total.pages_read += report.pages_read
        total.refused += report.refused
        total.errors += report.errors
        total.found += report.found
    return total


def site_watch(*, school_id: int, now: dt.datetime | None = None) -> SiteWatchReport:
    """Read the school's listings, keep the new pages, match them with approved drafts."""
    now = now or timezone.now()
    report = SiteWatchReport()
    hosts = services.school_hosts(school_id)
    for spec in listings_for(school_id):
        report.listings += 1
        _read_listing(school_id, spec, hosts, report, now)
    match_pending(school_id=school_id, now=now, report=report)
    # Text is kept only as long as it can still be matched.
    SitePage.objects.filter(first_seen_at__lt=now - MATCH_WINDOW).exclude(text="").update(text="")
    return report


def _links(
    spec: ListingSpec, hosts: set[str], report: SiteWatchReport, depth: int = 0
) -> list[str]:
    if live.host_of(spec.url) not in hosts:
        report.refused.append(spec.url)
        return []
    result = live.fetch(spec.url)
    if not result.ok:
        report.errors.append(f"{spec.url}: {result.error}: {result.error_message}"[:500])
        return []
    if live.host_of(result.final_url or spec.url) not in hosts:  # redirected away
        report.refused.append(result.final_url)
        return []
    listing = live.read_listing(
        result.body,
        url=result.final_url or spec.url,
        headers={k.lower(): v for k, v in result.headers.items()},
        selector=spec.selector,
    )
    report.errors += [f"{spec.url}: {e}"[:500] for e in listing.errors]
    if listing.kind == "sitemap_index":
        if depth:
            return []
        links: list[str] = []
        for child in listing.links[:MAX_CHILD_SITEMAPS]:
            links += _links(ListingSpec(child), hosts, report, depth + 1)
        return links
    return listing.links


def _read_listing(
    school_id: int, spec: ListingSpec, hosts: set[str], report: SiteWatchReport, now: dt.datetime
) -> None:
    listed: dict[str, str] = {}
    for link in _links(spec, hosts, report)[:MAX_LINKS]:
        if not is_http_url(link):
            continue
        if live.host_of(link) not in hosts:
            report.refused.append(link)
            continue
        listed.setdefault(url_key(link), link)
    known = dict(SitePage.objects.filter(url_key__in=list(listed)).values_list("url_key", "status"))
    # New pages, and pages that could not be fetched last time (while they can still match).
    due = [
        (key, link)
        for key, link in listed.items()
        if key not in known or known[key] == SitePage.Status.ERROR
    ]
    for key, link in due[:MAX_NEW_PAGES]:
        fields = _read_page(link, hosts)
        report.pages_read += 1
        if key in known:
            SitePage.objects.filter(
                url_key=key, status=SitePage.Status.ERROR, first_seen_at__gte=now - MATCH_WINDOW
            ).update(**fields)
            continue
        try:
            with transaction.atomic():
                SitePage.objects.create(
                    school_id=school_id,
                    url=link[:1000],
                    url_key=key,
                    found_on=spec.url,
                    first_seen_at=now,
                    **fields,
                )
        except IntegrityError:  # another round stored it meanwhile
            continue


def _read_page(link: str, hosts: set[str]) -> dict[str, Any]:
    """The fields of a page's row: its text, or why it could not be fetched (tried again)."""
    html, error, final_url = live.fetch_html(link)
    if html is not None and live.host_of(final_url) not in hosts:
        html, error = None, f"redirected off the school's sites to {final_url}"
    if html is None:
        return {"status": SitePage.Status.ERROR, "error": error[:500]}
    try:
        item = live.article(html, final_url)
    except Exception as exc:  # one odd page must not stop the round
        item, error = None, f"extraction failed: {type(exc).__name__}: {exc}"
    if item is None:
        # Read, but no article on it (a list or index page): kept as seen, never matched.
        return {
            "status": SitePage.Status.UNMATCHED,
            "error": (error or "no article text found on the page")[:500],
        }
    return {
        "status": SitePage.Status.UNMATCHED,
        "error": "",
        "text": item.text[:MAX_TEXT],
        "text_hash": _text_hash(item.text),
        "title": item.title[:300],
        "published_at": item.published_at,
    }


def match_score(
    *,
    page_text: str,
    page_hash: str,
    signed_text: str,
    title: str,
    template: frozenset[str],
    shingles: dict[str, frozenset[str]] | None = None,
) -> float:
    """1.0 for the same text; else the shingle similarity of the texts without the template.

    ``shingles`` caches each text's shingles over one round (pages x drafts pairs).
    """
    if page_hash and page_hash == _text_hash(signed_text):
        return 1.0
    cache = {} if shingles is None else shingles
    for text in (signed_text, page_text):
        if text not in cache:
            cache[text] = char_shingles(text)
    signed, on_page = cache[signed_text], cache[page_text]
    inside = containment(signed, on_page)
    if inside < MATCH_THRESHOLD:
        # Cheap way out for the many pages that are other articles: the similarity below can
        # only be lower (Jaccard ≤ containment, and less text only loses shared shingles).
        return jaccard(signed, on_page)
    if (
        inside == 1.0
        and live.compare_with_signed(
            page_text, signed=signed_text, title=title, template=template
        ).matches
    ):
        return 1.0
    article = live.text_without_furniture(page_text, title=title, template=template)
    return jaccard(signed, char_shingles(article))


def _channel_of(draft: Draft) -> str:
    channels = draft.channels or []
    for channel in (Channel.WEBSITE, Channel.PARTY):
        if channel in channels:
            return channel
    return Channel.WEBSITE


def match_pending(
    *, school_id: int, now: dt.datetime | None = None, report: SiteWatchReport | None = None
) -> SiteWatchReport:
    """Record where approved drafts without a live address went live, from the pages read."""
    now = now or timezone.now()
    report = report or SiteWatchReport()
    drafts = list(
        Draft.objects.filter(
            status=Draft.Status.APPROVED, publications__isnull=True, current_revision__isnull=False
        ).select_related("current_revision")
    )
    if not drafts:
        return report
    pages = list(
        SitePage.objects.filter(
            status=SitePage.Status.UNMATCHED, first_seen_at__gte=now - MATCH_WINDOW
        ).exclude(text="")
    )
    templates: dict[str, frozenset[str] | None] = {}
    shingles: dict[str, frozenset[str]] = {}
    scored: list[tuple[float, int, int]] = []
    for page in pages:
        home = live.home_url(page.url)
        if home not in templates:
            templates[home] = live.template_lines(page.url)
        for draft in drafts:
            revision = draft.current_revision
            assert revision is not None
            score = match_score(
                page_text=page.text,
                page_hash=page.text_hash,
                signed_text=revision.text,
                title=revision.title,
                template=templates[home] or frozenset(),
                shingles=shingles,
            )
            if score >= MATCH_THRESHOLD:
                scored.append((score, page.pk, draft.pk))
    by_page = {p.pk: p for p in pages}
    by_draft = {d.pk: d for d in drafts}
    taken_pages: set[int] = set()
    taken_drafts: set[int] = set()
    # Best pairs first: each draft gets its most similar page, each page one draft.
    for score, page_id, draft_id in sorted(scored, key=lambda s: (-s[0], s[1], s[2])):
        if page_id in taken_pages or draft_id in taken_drafts:
            continue
        taken_pages.add(page_id)
        taken_drafts.add(draft_id)
        _record(by_draft[draft_id], by_page[page_id], score)
        report.found.append((draft_id, by_page[page_id].url, score))
    return report


def _record(draft: Draft, page: SitePage, score: float) -> None:
    from yuqing.alerts.models import Level
    from yuqing.alerts.services import notification_send

    with transaction.atomic():
        try:
            publication = services.publication_record(
                draft=draft,
                user=None,
                channel=_channel_of(draft),
                url=page.url[:500],
                published_at=page.published_at or page.first_seen_at,
                found_by=Publication.FoundBy.WATCH,
                similarity=round(score, 4),
                found_on=page.found_on,
            )
        except ValidationError as exc:  # e.g. the draft was edited meanwhile: next round
            log.warning("site watch: could not record %s for draft %s: %s", page.url, draft.pk, exc)
            return
        SitePage.objects.filter(pk=page.pk).update(
            status=SitePage.Status.MATCHED, draft=draft, similarity=round(score, 4)
        )
        body = _(
            "The site watch found the signed text at %(url)s (similarity %(score)s). "
            "The page is now watched for changes."
        ) % {"url": publication.url, "score": f"{score:.2f}"}
        if score < 1.0:
            body += " " + _(
                "The page does not show exactly the signed text: the tamper watch will report "
                "the differences."
            )
        notification_send(
            [draft.author_id],
            title=_("Found where “%(title)s” went live") % {"title": draft.title},
            body=body,
            level=Level.BLUE,
            school_id=draft.school_id,
        )
