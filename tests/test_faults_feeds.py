"""Hostile sources: a feed of 100,000 items, a 50 MB page, a feed that never ends.

Each case is polled by the real poller in a child process of its own (its own database),
against a server on 127.0.0.1. The child reports its peak resident memory before and after the
poll (``ru_maxrss``, which includes everything: parser, C libraries, Python objects) and the
fetch log the poll wrote. Memory must stay bounded and the source must carry the error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.clitools import child_database, cli_env, yuqing
from tests.faultkit import SCHOOL, ServerFactory, child_python

MB = 1024 * 1024
# The growth of the peak RSS allowed for one poll: the fetch limit is 10 MB (YUQING_FETCH_MAX_MB)
# and a feed is cut to 500 entries, so whatever a source sends, a poll needs tens of MB.
RSS_GROWTH_LIMIT_MB = 150

POLL = """
import resource, time
from yuqing.accounts.models import School
from yuqing.monitor.models import FetchLog, Scheme, Source
from yuqing.monitor.poller import poll_sources

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

with all_schools():
    school = School.objects.create(name="{school}", slug="feeds")
with school_scope(school):
    Scheme.objects.create(name="育英", subject_words=["{school}"])
    warm = Source.objects.create(name="warm", kind="feed", url="{warm}")
    poll_sources([warm])  # imports, parsers and the text engine are loaded before measuring
    before = peak_mb()
    source = Source.objects.create(name="case", kind="{kind}", url="{url}")
    started = time.monotonic()
    poll_sources([source])
    seconds = time.monotonic() - started
    log = FetchLog.objects.filter(source=source).get()
    source.refresh_from_db()
    from yuqing.monitor.models import Mention
    print(json.dumps({{
        "before_mb": before, "after_mb": peak_mb(), "seconds": seconds,
        "error_kind": log.error_kind, "error": log.error, "bytes": log.bytes,
        "items_seen": log.items_seen, "items_new": log.items_new,
        "source_error": source.last_error, "source_error_kind": source.last_error_kind,
        "failures": source.consecutive_failures,
        "mentions": Mention.objects.filter(source=source).count(),
    }}))
"""


def small_feed(n: int, base: str) -> bytes:
    items = "".join(
        f"<item><title>{SCHOOL}{i}</title><link>{base}/w/{i}</link></item>" for i in range(n)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>w</title>'
        f"{items}</channel></rss>"
    ).encode()


def huge_feed_chunks(n: int, base: str) -> Iterator[bytes]:
    yield b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>h</title>'
    batch = []
    for i in range(n):
        batch.append(f"<item><title>{SCHOOL}{i}</title><link>{base}/n/{i}</link></item>")
        if len(batch) == 1000:
            yield "".join(batch).encode()
            batch = []
    yield ("".join(batch) + "</channel></rss>").encode()


def handle(handler: Any) -> None:
    path = handler.path
    base = f"http://127.0.0.1:{handler.server.server_port}"
    if path == "/warm.xml":
        body = small_feed(3, base)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return
    if path not in ("/huge.xml", "/page50.html", "/page50-chunked.html", "/endless.xml"):
        handler.send_response(404)  # robots.txt and anything else
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return
    handler.send_response(200)
    if path == "/huge.xml":  # 100,000 items, about 7 MB: under the size limit, so it is parsed
        handler.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for chunk in huge_feed_chunks(100_000, base):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        handler.wfile.write(b"0\r\n\r\n")
        return
    if path in ("/page50.html", "/page50-chunked.html"):
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        declared = path == "/page50.html"
        if declared:
            handler.send_header("Content-Length", str(50 * MB))
        else:
            handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk = b"<p>" + f"{SCHOOL}".encode() * 4000 + b"</p>\n"
        sent = 0
        while sent < 50 * MB:
            if declared:
                handler.wfile.write(chunk)
            else:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        return
    if path == "/endless.xml":  # a feed that never ends, trickling 1 KB every 50 ms
        handler.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>e</title>'
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(head), head))
        item = f"<item><title>{SCHOOL}</title><link>{base}/e</link></item>".encode()
        piece = item * (1024 // len(item) + 1)
        while True:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            handler.wfile.flush()
            time.sleep(0.05)


@contextmanager
def server() -> Iterator[ServerFactory]:
    s = ServerFactory(handle)
    try:
        yield s
    finally:
        s.close()


def poll_once(tmp_path: Path, kind: str, path: str) -> dict[str, Any]:
    with server() as s, child_database() as database_url:
        env = cli_env(
            tmp_path,
            database_url=database_url,
            YUQING_DEMO="0",
            YUQING_FETCH_ALLOW_HOSTS="127.0.0.1",
            YUQING_FETCH_TIMEOUT="5",
            YUQING_FETCH_HOST_SPACING_MS="0",
        )
        assert yuqing("migrate", env=env).returncode == 0
        code = POLL.format(school=SCHOOL, warm=s.url("/warm.xml"), kind=kind, url=s.url(path))
        result: dict[str, Any] = child_python(code, env, timeout=600)
    result["growth_mb"] = result["after_mb"] - result["before_mb"]
    print(f"{path}: {result}")  # the figures for the report (pytest -s)
    return result


@pytest.mark.slow
def test_a_feed_of_100000_items_keeps_the_newest_500_in_bounded_memory(tmp_path: Path) -> None:
    result = poll_once(tmp_path, "feed", "/huge.xml")
    assert result["growth_mb"] < RSS_GROWTH_LIMIT_MB, result
    assert result["items_seen"] == 500 and result["mentions"] == result["items_new"] > 490
    assert result["bytes"] > 5 * MB
    # Recorded on the fetch log; the source itself is healthy.
    assert result["error_kind"] == "parse" and "more than 500 entries" in result["error"]
    assert result["failures"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/page50.html", "/page50-chunked.html"])
def test_a_50_mb_page_is_refused_at_the_size_limit(tmp_path: Path, path: str) -> None:
    result = poll_once(tmp_path, "web", path)
    assert result["error_kind"] == "too_large", result
    assert "exceeds" in result["error"] and result["source_error"] == result["error"]
    assert result["source_error_kind"] == "too_large"
    assert result["failures"] == 1
    assert result["growth_mb"] < RSS_GROWTH_LIMIT_MB, result


@pytest.mark.slow
def test_a_feed_that_never_ends_times_out_and_is_recorded(tmp_path: Path) -> None:
    result = poll_once(tmp_path, "feed", "/endless.xml")
    assert result["error_kind"] == "timeout", result
    assert result["source_error"] == result["error"] and result["failures"] == 1
    assert result["source_error_kind"] == "timeout"
    assert result["seconds"] < 15  # YUQING_FETCH_TIMEOUT=5 bounds the whole fetch
    assert result["growth_mb"] < RSS_GROWTH_LIMIT_MB, result
