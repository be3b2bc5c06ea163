"""Canonical URLs: one spelling per page, so the same post never makes two mentions.

Shares from WeChat, Weibo and portals append tracking parameters (who shared, from which
scene, which campaign) that change with every share of the same article. They are dropped;
everything else is kept and sorted, because we cannot know which parameters select content.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Exact names dropped on every site.
_TRACKING = frozenset(
    {
        "spm",
        "spm_id_from",
        "from",
        "fbclid",
        "gclid",
        "msclkid",
        "yclid",
        "scene",
        "srcid",
        "chksm",
        "isappinstalled",
        "wfr",
        "vd_source",
        "share_source",
        "mpshare",
        "_wv",
        "tt_from",
    }
)
# Prefixes dropped on every site.
_TRACKING_PREFIXES = ("utm_", "share_", "sharer_")

# A WeChat article is identified by exactly these; every other parameter on mp.weixin.qq.com
# (scene, chksm, pass_ticket, exportkey, key, ascene, devicetype, version, lang, ...) is about
# the reader or the share, and some of them are personal tokens we must not store.
_WECHAT_HOST = "mp.weixin.qq.com"
_WECHAT_KEEP = frozenset({"__biz", "mid", "idx", "sn"})

_SAFE_PATH = "/:@!$&'()*+,;=-._~%"
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host and no whitespace."""
    if not isinstance(url, str) or not url or any(ch.isspace() for ch in url):
        return False
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError:
        return False
    return parts.scheme.lower() in _DEFAULT_PORTS and bool(parts.hostname)


def safe_link(url: str) -> str:
    """The URL (trimmed) if it is an http(s) link, else "": a javascript: or data: URL from
    outside is never rendered as a link, whatever is already stored."""
    url = (url or "").strip() if isinstance(url, str) else ""
    return url if is_http_url(url) else ""


def _normalise_escapes(text: str) -> str:
    # Upper-case hex and decode escaped unreserved characters, so %7e, %7E and ~ are one URL.
    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(0)[1:], 16))
        return char if char in _UNRESERVED else match.group(0).upper()

    return _ESCAPE.sub(fix, text)


def _host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        return f"[{host}]"
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING or lowered.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Return the canonical spelling of ``url``; non-http input comes back stripped only."""
    url = url.strip()
    if not is_http_url(url):
        return url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = _host(parts.hostname or "")
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    # User info is dropped: it is not part of a page's identity and must not be stored.

    path = _normalise_escapes(quote(parts.path or "/", safe=_SAFE_PATH))

    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if host == _WECHAT_HOST and path == "/s":
        pairs = [(k, v) for k, v in pairs if k in _WECHAT_KEEP]
    elif host == _WECHAT_HOST:
        pairs = []  # /s/<short id> and the like: the path is the identity
    else:
        pairs = [(k, v) for k, v in pairs if not _is_tracking(k)]
    pairs.sort()
    query = urlencode(pairs, quote_via=quote, safe="-._~")

    # Fragments are client-side, except hash-bang and "#/..." routes of single-page sites,
    # where the fragment is what selects the article.
    fragment = parts.fragment if parts.fragment.startswith(("!", "/")) else ""
    return urlunsplit((scheme, netloc, path, query, fragment))


def url_hash(url: str) -> str:
    """SHA-256 (hex) of the canonical URL: the dedupe key of a mention."""
    return hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()
