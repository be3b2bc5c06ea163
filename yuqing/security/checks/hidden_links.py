"""Hidden links (暗链) and injected spam on the school's page.

Attackers sell links from school sites (a .edu.cn page ranks well), so the links are hidden
from visitors and shown to search engines: in an element styled invisible (inline or by a
class in a <style> block), written by a script, or in a zero-size iframe. A link to a gambling
or porn site is serious even when visible. Pure analysis of the page the check fetched: the
linked sites themselves are never contacted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yuqing.security.checks.base import (
    CRITICAL,
    HIGH,
    MEDIUM,
    Check,
    CheckContext,
    Outcome,
    Problem,
    squash,
)
from yuqing.security.guard import Target

SPAM_WORDS = (
    "博彩", "赌场", "赌博", "百家乐", "六合彩", "时时彩", "真人视讯", "葡京", "威尼斯人",
    "澳门赌", "体育投注", "老虎机", "棋牌", "彩票", "娱乐城", "开户送", "首存", "pk10",
    "色情", "成人", "av", "黄色", "裸聊", "约炮", "一夜情", "代开发票", "办证", "私服",
    "外挂", "贷款", "套现", "casino", "bet", "poker", "slot", "porn", "sex", "xxx",
)  # fmt: skip
# Host name parts typical of gambling and porn domains.
SPAM_HOST = re.compile(
    r"(casino|bet\d|bet365|\d{3,}bet|bwin|dafa|xpj|amjs|pj\d|vns|yh\d|lhc|ssc|"
    r"porn|sex|xxx|jav|av\d|18\+|caipiao|cp\d{2,}|qipai|huangguan)",
    re.I,
)
SPAM_TLDS = (".bet", ".casino", ".poker", ".porn", ".sex", ".xxx", ".adult", ".vip", ".top", ".xyz")
_HIDE_DECL = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(px|em|rem|pt)?\s*(;|$)"
    r"|(left|top|text-indent|margin-left)\s*:\s*-\d{3,}px|(height|width)\s*:\s*[01]px",
    re.I,
)
_HEIGHT0 = re.compile(r"height\s*:\s*0(px)?\s*(;|$)", re.I)
_OVERFLOW_HIDDEN = re.compile(r"overflow\s*:\s*hidden", re.I)
_CSS_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_SCRIPT_LINK = re.compile(r"document\.write(ln)?\s*\((?P<arg>.{0,2000}?)\)\s*;?", re.I | re.S)
_HREF_IN_JS = re.compile(r"""href\s*=\s*\\?["']?(?P<url>https?://[^"'\\\s>]+)""", re.I)


@dataclass
class LinkFinding:
    how: str
    url: str
    text: str


def spammy(text: str, url: str = "") -> bool:
    host = (urlsplit(url).hostname or "").lower() if url else ""
    lowered = text.lower()
    if any(word in lowered for word in SPAM_WORDS if len(word) > 2 or not word.isascii()):
        return True
    if re.search(r"\b(av|bet)\b", lowered):
        return True
    return bool(host) and (bool(SPAM_HOST.search(host)) or host.endswith(SPAM_TLDS))


def hidden_style(style: str) -> bool:
    if _HIDE_DECL.search(style):
        return True
    return bool(_HEIGHT0.search(style) and _OVERFLOW_HIDDEN.search(style))


def hidden_selectors(css: str) -> tuple[set[str], set[str]]:
    """Classes and ids a <style> block hides."""
    classes: set[str] = set()
    ids: set[str] = set()
    for selectors, body in _CSS_RULE.findall(css):
        if not hidden_style(body):
            continue
        for selector in selectors.split(","):
            selector = selector.strip()
            if re.fullmatch(r"[a-z]*\.[\w-]+", selector, re.I):
                classes.add(selector.split(".", 1)[1])
            elif re.fullmatch(r"[a-z]*#[\w-]+", selector, re.I):
                ids.add(selector.split("#", 1)[1])
    return classes, ids


def analyse(html: str, base_url: str, own_hosts: frozenset[str]) -> list[LinkFinding]:
    import lxml.html  # heavy; only the HTML checks need it

    try:
        doc = lxml.html.document_fromstring(html)
    except Exception:  # lxml raises several types on empty or broken documents
        return []
    css = "\n".join(s.text_content() for s in doc.iter("style"))
    hidden_classes, hidden_ids = hidden_selectors(css)

    def is_hidden(el: Any) -> bool:
        node = el
        while node is not None and isinstance(node.tag, str):
            if hidden_style(node.get("style") or ""):
                return True
            if node.get("hidden") is not None:
                return True
            if set((node.get("class") or "").split()) & hidden_classes:
                return True
            if node.get("id") in hidden_ids:
                return True
            node = node.getparent()
        return False

    def external(url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return bool(host) and host not in own_hosts

    found: list[LinkFinding] = []
    for a in doc.iter("a"):
        href = urljoin(base_url, (a.get("href") or "").strip())
        if not href.startswith(("http://", "https://")) or not external(href):
            continue
        text = squash(a.text_content())[:100]
        if is_hidden(a):
            found.append(LinkFinding("css", href, text))
        elif spammy(text, href):
            found.append(LinkFinding("spam", href, text))
    for script in doc.iter("script"):
        src = (script.get("src") or "").strip()
        if src:
            url = urljoin(base_url, src)
            if external(url) and spammy("", url):
                found.append(LinkFinding("script-src", url, ""))
            continue
        code = script.text_content()
        for call in _SCRIPT_LINK.finditer(code):
            for link in _HREF_IN_JS.finditer(call.group("arg")):
                if external(link.group("url")):
                    found.append(LinkFinding("script", link.group("url"), call.group(0)[:120]))
    for frame in doc.iter("iframe"):
        src = urljoin(base_url, (frame.get("src") or "").strip())
        size_zero = (frame.get("width") or "").strip() in ("0", "1") or (
            frame.get("height") or ""
        ).strip() in ("0", "1")
        if external(src) and (size_zero or is_hidden(frame)):
            found.append(LinkFinding("iframe", src, ""))
    return found


class HiddenLinks(Check):
    key = "hidden_links"
    label = gettext_lazy("Hidden links and injected spam")

    async def run(self, target: Target, ctx: CheckContext) -> Outcome:
        async with target.http_client(total_timeout=30) as client:
            result = await target.get(client, ctx.base_url, max_bytes=5 * 1024 * 1024)
        if result.status != 200:
            return Outcome(error=result.error_message or f"HTTP {result.status}")
        links = analyse(result.text(), result.final_url or ctx.base_url, target.hosts)
        problems: list[Problem] = []
        titles = {
            "css": _("Hidden link to another site"),
            "script": _("Link written into the page by a script"),
            "iframe": _("Hidden frame loading another site"),
            "script-src": _("Script loaded from a suspicious site"),
            "spam": _("Link to a gambling, porn or spam site"),
        }
        for link in links:
            spam = spammy(link.text, link.url)
            severity = CRITICAL if spam else (MEDIUM if link.how == "spam" else HIGH)
            if link.how in ("iframe", "script-src"):
                severity = CRITICAL if spam or link.how == "script-src" else HIGH
            host = urlsplit(link.url).hostname or link.url
            problems.append(
                Problem(
                    f"{link.how}:{host}",
                    severity,
                    f"{titles[link.how]}: {host}",
                    _("%(url)s %(text)s") % {"url": link.url, "text": link.text},
                    _(
                        "Remove it from the page and the templates, then find how it got there: "
                        "change the site's passwords and update the CMS."
                    ),
                    {"url": link.url, "text": link.text, "how": link.how, "spam": spam},
                )
            )
        summary = (
            _("%(count)s suspicious links") % {"count": len(problems)}
            if problems
            else _("No hidden or spam links")
        )
        return Outcome(problems, summary, {"links": len(problems)})
