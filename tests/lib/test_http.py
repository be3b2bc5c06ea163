"""The HTTP client against real servers on loopback that misbehave on purpose."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from tests.monitor.collect.servers import (
    LocalServer,
    connect_tripwire,
    ipv6_loopback_available,
    serve,
)
from yuqing.lib.http import (
    AddressPolicy,
    BlockedAddressError,
    ErrorKind,
    HttpClient,
    HttpResult,
    StaticResolver,
    blocked_reason,
    decode_body,
    fetch_sync,
    parse_max_age,
    parse_retry_after,
)

GBK_TEXT = "育才中学家长会通知：本周五下午三点在学校礼堂召开，请各位家长准时参加。"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with serve() as srv:
        yield srv


def get(url: str, **kwargs: Any) -> HttpResult:
    client_args = {
        k: kwargs.pop(k)
        for k in list(kwargs)
        if k in ("total_timeout", "max_bytes", "max_redirects", "resolver", "connect_timeout")
    }

    async def go() -> HttpResult:
        async with HttpClient(allow_hosts={"127.0.0.1"}, **client_args) as client:
            return await client.get(url, **kwargs)

    with connect_tripwire():
        return asyncio.run(go())


# --------------------------------------------------------------------------- happy path


def test_it_fetches_a_page_and_reports_its_metadata(server: LocalServer) -> None:
    @server.route("/ok")
    async def ok(request: web.Request) -> web.Response:
        return web.Response(
            text="你好", content_type="text/plain", headers={"Cache-Control": "public, max-age=300"}
        )

    result = get(server.url("/ok"))
    assert result.ok and result.status == 200
    assert result.text() == "你好"
    assert result.max_age == 300
    assert result.final_url == server.url("/ok")
    assert result.elapsed > 0
    assert server.hits[0].headers["User-Agent"].startswith("YuqingBot")


def test_it_follows_redirects_and_records_every_hop(server: LocalServer) -> None:
    @server.route("/a")
    async def a(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/b")

    @server.route("/b")
    async def b(request: web.Request) -> web.Response:
        raise web.HTTPFound(server.url("/c"))

    @server.route("/c")
    async def c(request: web.Request) -> web.Response:
        return web.Response(text="done")

    result = get(server.url("/a"))
    assert result.ok and result.text() == "done"
    assert result.final_url == server.url("/c")
    assert result.redirects == [server.url("/b"), server.url("/c")]


def test_it_sends_conditional_headers_and_reports_not_modified(server: LocalServer) -> None:
    @server.route("/feed")
    async def feed(request: web.Request) -> web.Response:
        headers = {"ETag": '"v1"', "Last-Modified": "Tue, 05 Mar 2024 02:30:00 GMT"}
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers=headers)
        return web.Response(text="<rss/>", headers=headers)

    first = get(server.url("/feed"))
    assert first.etag == '"v1"' and first.last_modified
    second = get(server.url("/feed"), etag=first.etag, last_modified=first.last_modified)
    assert second.ok and second.not_modified and second.status == 304 and second.body == b""
    assert server.hits[1].headers["If-Modified-Since"] == "Tue, 05 Mar 2024 02:30:00 GMT"


@pytest.mark.parametrize("status", [429, 503])
def test_it_returns_retry_after_on_rate_limits(server: LocalServer, status: int) -> None:
    @server.route("/busy")
    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=status, text="slow down", headers={"Retry-After": "120"})

    result = get(server.url("/busy"))
    assert result.error is ErrorKind.HTTP_STATUS and result.status == status
    assert result.retry_after == 120.0


def test_it_classifies_http_errors(server: LocalServer) -> None:
    result = get(server.url("/missing"))
    assert result.error is ErrorKind.HTTP_STATUS and result.status == 404
    assert "404" in result.error_message


# --------------------------------------------------------------------------- time and size limits


def test_it_gives_up_on_a_server_that_hangs(server: LocalServer) -> None:
    @server.route("/hang")
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="too late")

    started = time.monotonic()
    result = get(server.url("/hang"), total_timeout=0.5)
    assert result.error is ErrorKind.TIMEOUT
    assert time.monotonic() - started < 3


def test_it_gives_up_on_a_body_that_trickles(server: LocalServer) -> None:
    @server.route("/slow")
    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(50):
            await response.write(b"x" * 10)
            await asyncio.sleep(0.1)
        return response

    result = get(server.url("/slow"), total_timeout=0.6)
    assert result.error is ErrorKind.TIMEOUT


def test_it_refuses_a_huge_declared_body_without_reading_it(server: LocalServer) -> None:
    @server.route("/huge")
    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 3_000_000)

    result = get(server.url("/huge"), max_bytes=1_000_000)
    assert result.error is ErrorKind.TOO_LARGE and result.body == b""


def test_it_stops_a_huge_streamed_body_at_the_limit(server: LocalServer) -> None:
    @server.route("/stream")
    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to check in advance
        await response.prepare(request)
        for _ in range(200):
            await response.write(b"y" * 65536)
        return response

    result = get(server.url("/stream"), max_bytes=1_000_000)
    assert result.error is ErrorKind.TOO_LARGE


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_it_stops_a_compression_bomb_at_the_limit(server: LocalServer, encoding: str) -> None:
    payload = b"\0" * 30_000_000  # 30 MB of zeros compress to about 30 KB
    bomb = gzip.compress(payload) if encoding == "gzip" else zlib.compress(payload)
    assert len(bomb) < 1_000_000

    @server.route("/bomb")
    async def serve_bomb(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": encoding})

    started = time.monotonic()
    result = get(server.url("/bomb"), max_bytes=1_000_000)
    assert result.error is ErrorKind.TOO_LARGE
    assert "decoded" in result.error_message
    assert time.monotonic() - started < 5


def test_it_decompresses_normal_gzip_bodies(server: LocalServer) -> None:
    @server.route("/gz")
    async def gz(request: web.Request) -> web.Response:
        return web.Response(
            body=gzip.compress("压缩的内容".encode()),
            headers={"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"},
        )

    result = get(server.url("/gz"))
    assert result.ok and result.text() == "压缩的内容"
    assert "gzip" in server.hits[0].headers["Accept-Encoding"]


def test_it_reports_a_corrupt_compressed_body(server: LocalServer) -> None:
    @server.route("/corrupt")
    async def corrupt(request: web.Request) -> web.Response:
        return web.Response(body=b"this is not gzip at all", headers={"Content-Encoding": "gzip"})

    result = get(server.url("/corrupt"))
    assert result.error is ErrorKind.ENCODING


# --------------------------------------------------------------------------- redirects


def test_it_stops_a_redirect_loop(server: LocalServer) -> None:
    @server.route("/loop1")
    async def loop1(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop2")

    @server.route("/loop2")
    async def loop2(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop1")

    result = get(server.url("/loop1"))
    assert result.error is ErrorKind.TOO_MANY_REDIRECTS
    assert len(server.hits) <= 3


def test_it_stops_an_endless_redirect_chain(server: LocalServer) -> None:
    @server.route("/hop/*")
    async def hop(request: web.Request) -> web.Response:
        n = int(request.path.rsplit("/", 1)[1])
        raise web.HTTPFound(f"/hop/{n + 1}")

    result = get(server.url("/hop/0"), max_redirects=4)
    assert result.error is ErrorKind.TOO_MANY_REDIRECTS
    assert len(server.hits) == 5


# --------------------------------------------------------------------------- address guard


def test_it_refuses_a_redirect_to_another_loopback_address_before_connecting(
    server: LocalServer,
) -> None:
    with serve("127.0.0.2") as other:

        @server.route("/to-other")
        async def to_other(request: web.Request) -> web.Response:
            raise web.HTTPFound(other.url("/secret"))

        result = get(server.url("/to-other"))
        assert result.error is ErrorKind.BLOCKED_ADDRESS
        assert "127.0.0.2" in result.error_message
        assert other.hits == []  # refused before any connection


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback on this machine")
def test_it_refuses_a_redirect_to_ipv6_loopback(server: LocalServer) -> None:
    with serve("::1") as v6:

        @server.route("/to-v6")
        async def to_v6(request: web.Request) -> web.Response:
            raise web.HTTPFound(v6.url("/secret"))

        result = get(server.url("/to-v6"))
        assert result.error is ErrorKind.BLOCKED_ADDRESS
        assert v6.hits == []


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
    ],
)
def test_it_refuses_redirects_to_internal_addresses(server: LocalServer, target: str) -> None:
    @server.route("/redirect")
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(target)

    with connect_tripwire() as attempts:
        result = get(server.url("/redirect"))
    assert result.error is ErrorKind.BLOCKED_ADDRESS
    assert attempts == []


def test_it_checks_the_resolved_address_not_the_name(server: LocalServer) -> None:
    # DNS rebinding: a public-looking name that resolves to loopback is refused even though
    # 127.0.0.1 itself is allowed, because the allow-list names hosts, not addresses.
    resolver = StaticResolver({"rebind.example.com": ["127.0.0.1"], "school.test": ["127.0.0.1"]})
    result = get(f"http://rebind.example.com:{server.port}/ok", resolver=resolver)
    assert result.error is ErrorKind.BLOCKED_ADDRESS
    assert "rebind.example.com (127.0.0.1)" in result.error_message
    assert server.hits == []

    async def allowed_by_name() -> HttpResult:
        async with HttpClient(allow_hosts={"school.test"}, resolver=resolver) as client:
            return await client.get(f"http://school.test:{server.port}/missing")

    assert asyncio.run(allowed_by_name()).status == 404


def test_it_reports_dns_and_connect_failures() -> None:
    resolver = StaticResolver({})
    result = get("http://nowhere.test/", resolver=resolver)
    assert result.error is ErrorKind.DNS
    with serve() as srv:
        port = srv.port
    result = get(f"http://127.0.0.1:{port}/")  # the server is gone: nothing listens
    assert result.error is ErrorKind.CONNECT


def test_it_rejects_urls_that_are_not_http() -> None:
    assert get("ftp://127.0.0.1/x").error is ErrorKind.INVALID_URL
    assert get("file:///etc/passwd").error is ErrorKind.INVALID_URL


def test_the_address_policy_knows_what_is_not_public() -> None:
    for address in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                    "0.0.0.0", "::1", "::", "fe80::1", "fc00::1", "::ffff:10.0.0.1", "224.0.0.1", "240.0.0.1",
                    "2002:0a00:0001::1", "64:ff9b::a00:1"]:  # fmt: skip
        assert blocked_reason(address), address
    for address in ["1.1.1.1", "114.114.114.114", "2400:3200::1"]:
        assert blocked_reason(address) is None, address
    policy = AddressPolicy.from_hosts(["127.0.0.1", "10.8.0.0/16", "Intranet.School.CN."])
    policy.check("127.0.0.1", "127.0.0.1")
    policy.check("oa.example", "10.8.3.4")
    policy.check("intranet.school.cn", "192.168.1.10")
    with pytest.raises(BlockedAddressError):
        policy.check("oa.example", "10.9.0.1")


# --------------------------------------------------------------------------- encodings


def test_it_decodes_gbk_declared_as_utf8(server: LocalServer) -> None:
    @server.route("/liar")
    async def liar(request: web.Request) -> web.Response:
        return web.Response(
            body=f"<html><body><p>{GBK_TEXT}</p></body></html>".encode("gbk"),
            headers={"Content-Type": "text/html; charset=utf-8"},
        )

    decoded = get(server.url("/liar")).decoded()
    assert GBK_TEXT in decoded.text
    assert decoded.encoding == "gb18030" and decoded.how == "detected"


def test_it_decodes_undeclared_gbk(server: LocalServer) -> None:
    @server.route("/silent")
    async def silent(request: web.Request) -> web.Response:
        return web.Response(body=GBK_TEXT.encode("gbk"), headers={"Content-Type": "text/plain"})

    assert get(server.url("/silent")).text() == GBK_TEXT


def test_it_reads_gb2312_labels_as_gb18030() -> None:
    text = "中文𠀀"  # the last character exists in GB18030 only
    decoded = decode_body(text.encode("gb18030"), "text/html; charset=GB2312")
    assert decoded.text == text and decoded.encoding == "gb18030" and decoded.how == "declared"


def test_it_prefers_a_meta_charset_over_a_latin1_default() -> None:
    html = f'<html><head><meta charset="gbk"></head><body>{GBK_TEXT}</body></html>'.encode("gbk")
    decoded = decode_body(html, "text/html; charset=ISO-8859-1")
    assert GBK_TEXT in decoded.text and decoded.how == "markup"


def test_it_decodes_big5_and_boms() -> None:
    big5 = "學校家長會通知，請準時出席。".encode("big5")
    assert decode_body(big5, "text/plain; charset=big5").text == "學校家長會通知，請準時出席。"
    assert decode_body("\ufeff你好".encode("utf-8")).text == "你好"
    assert decode_body("你好".encode("utf-16")).text == "你好"


def test_it_never_fails_to_produce_text() -> None:
    decoded = decode_body(bytes(range(256)) * 3, "text/plain; charset=no-such-charset")
    assert decoded.text


# --------------------------------------------------------------------------- helpers


def test_retry_after_reads_seconds_and_dates() -> None:
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60.0
    assert parse_retry_after("soon") is None


def test_max_age_reads_cache_control() -> None:
    assert parse_max_age("public, max-age=600") == 600
    assert parse_max_age("no-cache") == 0
    assert parse_max_age(None) is None


def test_the_sync_wrapper_works_outside_an_event_loop(server: LocalServer) -> None:
    @server.route("/sync")
    async def sync(request: web.Request) -> web.Response:
        return web.Response(text="同步")

    result = fetch_sync(server.url("/sync"), allow_hosts={"127.0.0.1"})
    assert result.ok and result.text() == "同步"
