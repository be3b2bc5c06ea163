"""Dead links on the school's page, and outbound links to domains that no longer exist.

Links within the asset are requested (through the guard). Links to other sites are never
requested — they are not ours to contact — but their names are looked up in DNS: a name that
no longer resolves has expired, and whoever registers it next (often a gambling site) gets a
link from the school.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urldefrag, urljoin, urlsplit

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yuqing.security.checks.base import HIGH, LOW, Check, CheckContext, Outcome, Problem
from yuqing.security.guard import Target, lookup_only

MAX_INTERNAL = 40
MAX_EXTERNAL_HOSTS = 40

Lookup = Callable[[str], Awaitable[bool | None]]


def page_links(html: str, base_url: str) -> list[str]:
    import lxml.html

    try:
        doc = lxml.html.document_fromstring(html)
    except Exception:  # empty or broken document
        return []
    links: list[str] = []
    for a in doc.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "tel:", "javascript:")):
            continue
        url = urldefrag(urljoin(base_url, href))[0]
        if url.startswith(("http://", "https://")) and url not in links:
            links.append(url)
    return links


class DeadLinks(Check):
    key = "dead_links"
    label = gettext_lazy("Dead links and expired domains")

    def __init__(self, lookup: Lookup | None = None) -> None:
        self.lookup: Lookup = lookup or lookup_only

    async def run(self, target: Target, ctx: CheckContext) -> Outcome:
        async with target.http_client(total_timeout=60) as client:
            page = await target.get(client, ctx.base_url, max_bytes=5 * 1024 * 1024)
            if page.status != 200:
                return Outcome(error=page.error_message or f"HTTP {page.status}")
            links = page_links(page.text(), page.final_url or ctx.base_url)
            internal = [u for u in links if (urlsplit(u).hostname or "") in target.hosts]
            external_hosts = sorted(
                {
                    (urlsplit(u).hostname or "").lower()
                    for u in links
                    if (urlsplit(u).hostname or "") not in target.hosts
                }
                - {""}
            )
            dead: list[dict[str, object]] = []
            for url in internal[:MAX_INTERNAL]:
                result = await target.get(client, url, max_bytes=256 * 1024)
                if result.status is None or result.status >= 400:
                    dead.append(
                        {"url": url, "why": result.error_message or f"HTTP {result.status}"}
                    )
        gone: list[str] = []
        for host in external_hosts[:MAX_EXTERNAL_HOSTS]:
            if await self.lookup(host) is False:
                gone.append(host)
        problems: list[Problem] = []
        if dead:
            problems.append(
                Problem(
                    "dead",
                    LOW,
                    _("%(count)s dead links on the page") % {"count": len(dead)},
                    "\n".join(f"{d['url']} ({d['why']})" for d in dead),
                    _("Fix or remove the links."),
                    {"links": dead},
                )
            )
        for host in gone:
            problems.append(
                Problem(
                    f"expired:{host}",
                    HIGH,
                    _("Link to a domain that no longer exists: %(host)s") % {"host": host},
                    _("Anyone can register %(host)s and put anything behind the school's link.")
                    % {"host": host},
                    _("Remove the link."),
                    {"host": host},
                )
            )
        summary = _("%(internal)s links checked, %(dead)s dead; %(gone)s expired domains") % {
            "internal": min(len(internal), MAX_INTERNAL),
            "dead": len(dead),
            "gone": len(gone),
        }
        return Outcome(
            problems,
            summary,
            {"internal": len(internal), "external_hosts": len(external_hosts), "dead": len(dead)},
        )
