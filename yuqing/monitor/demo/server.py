"""The demo "internet": fictional feeds and news pages about the demo school, on 127.0.0.1.

`yuqing run` starts it beside the web server so that a newcomer watches mentions, an event and
an alert appear within minutes: posts are released on a timeline from the moment the server
starts (``speed`` > 1 plays it faster), including a canteen story that escalates from one
parent's post to news coverage and the school's statement.

Standard library only: it is demo scaffolding, not a product surface. Feeds answer
conditional GETs (ETag / Last-Modified) like a well-behaved site.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any


@dataclass(frozen=True, slots=True)
class DemoPost:
    number: int
    at: float  # seconds after the start when it appears
    feed: str
    title: str
    author: str
    text: str


def load_script() -> dict[str, Any]:
    raw = resources.files("yuqing.monitor.demo").joinpath("posts.json").read_text(encoding="utf-8")
    return json.loads(raw)  # type: ignore[no-any-return]


class DemoInternet:
    def __init__(self, *, speed: float = 1.0, started: float | None = None) -> None:
        script = load_script()
        self.feeds: dict[str, dict[str, str]] = script["feeds"]
        self.posts = [
            DemoPost(i + 1, float(p["at"]), p["feed"], p["title"], p["author"], p["text"])
            for i, p in enumerate(script["posts"])
        ]
        self.speed = max(speed, 0.01)
        self.started = started if started is not None else time.time()

    def published(self, post: DemoPost) -> datetime:
        return datetime.fromtimestamp(self.started + post.at / self.speed, tz=UTC)

    def visible(self, feed: str, now: float | None = None) -> list[DemoPost]:
        elapsed = ((now if now is not None else time.time()) - self.started) * self.speed
        return [p for p in self.posts if p.feed == feed and p.at <= elapsed]

    def rss(self, feed: str, base_url: str) -> bytes:
        meta = self.feeds[feed]
        items = []
        for post in sorted(self.visible(feed), key=lambda p: -p.at):
            title = post.title or post.text[:30]
            items.append(
                "<item>"
                f"<title>{html.escape(title)}</title>"
                f"<link>{base_url}/posts/{post.number}.html</link>"
                f'<guid isPermaLink="true">{base_url}/posts/{post.number}.html</guid>'
                f"<author>{html.escape(post.author)}</author>"
                f"<pubDate>{format_datetime(self.published(post))}</pubDate>"
                f"<description>{html.escape(post.text)}</description>"
                "</item>"
            )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{html.escape(meta['title'])}</title><link>{base_url}/</link>"
            "<description>Yuqing demo feed (fictional)</description><ttl>1</ttl>"
            + "".join(items)
            + "</channel></rss>"
        )
        return body.encode("utf-8")

    def page(self, number: int) -> bytes | None:
        post = next((p for p in self.posts if p.number == number), None)
        if post is None or post.at > (time.time() - self.started) * self.speed:
            return None
        title = html.escape(post.title or post.text[:30])
        return (
            '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<title>{title}</title><meta name="author" content="{html.escape(post.author)}">'
            f'<meta property="article:published_time" content="{self.published(post).isoformat()}">'
            "</head><body><header><nav>首页 · 教育 · 民生</nav></header>"
            f'<article><h1>{title}</h1><p class="byline">{html.escape(post.author)}</p>'
            f"<p>{html.escape(post.text)}</p></article>"
            "<footer>演示站点 · 内容虚构</footer></body></html>"
        ).encode()


def _handler(internet: DemoInternet) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "YuqingDemo/1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the demo runs beside the real server's log

        def do_GET(self) -> None:
            base = f"http://{self.headers.get('Host', '127.0.0.1')}"
            path = self.path.split("?", 1)[0]
            if path == "/robots.txt":
                return self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
            if path.startswith("/feeds/") and path.endswith(".xml"):
                feed = path[len("/feeds/") : -4]
                if feed not in internet.feeds:
                    return self._send(404, b"no such feed", "text/plain")
                body = internet.rss(feed, base)
                return self._send(200, body, "application/rss+xml; charset=utf-8", conditional=True)
            if path.startswith("/posts/") and path.endswith(".html"):
                try:
                    page = internet.page(int(path[len("/posts/") : -5]))
                except ValueError:
                    page = None
                if page is None:
                    return self._send(404, b"not found", "text/plain")
                return self._send(200, page, "text/html; charset=utf-8")
            if path == "/":
                links = "".join(
                    f'<li><a href="/feeds/{k}.xml">{html.escape(v["title"])}</a></li>'
                    for k, v in internet.feeds.items()
                )
                return self._send(200, f"<ul>{links}</ul>".encode(), "text/html; charset=utf-8")
            return self._send(404, b"not found", "text/plain")

        def _send(self, status: int, body: bytes, ctype: str, *, conditional: bool = False) -> None:
            if conditional:
                etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("ETag", etag)
            else:
                self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def serve(
    host: str = "127.0.0.1", port: int = 0, *, speed: float = 1.0
) -> tuple[ThreadingHTTPServer, DemoInternet]:
    """Start the demo internet in a daemon thread; returns the server (``server_port``)."""
    internet = DemoInternet(speed=speed)
    server = ThreadingHTTPServer((host, port), _handler(internet))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="demo-internet", daemon=True).start()
    return server, internet


__all__ = ["DemoInternet", "serve"]
