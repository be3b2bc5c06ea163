"""Generic webhook: the documented body and signature, and how failures are classified."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from typing import Any

from aiohttp import web

from tests.alerts.transports.helpers import run, send
from tests.monitor.collect.servers import LocalServer, connect_tripwire
from yuqing.alerts.transports import Message, WebhookTransport

SECRET = "whsec_0123456789abcdef"


def config(server: LocalServer, path: str = "/hook") -> dict[str, Any]:
    return {"url": server.url(path), "secret": SECRET}


def verify(request_headers: Any, body: bytes, secret: str = SECRET) -> bool:
    """A receiver's check, as docs/webhooks.md tells receivers to write it."""
    timestamp = request_headers["X-Yuqing-Timestamp"]
    if abs(time.time() - int(timestamp)) > 300:
        return False
    signed = timestamp.encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request_headers["X-Yuqing-Signature"])


def test_it_posts_the_documented_body_signed_with_the_secret(
    server: LocalServer, message: Message
) -> None:
    seen: list[dict[str, Any]] = []

    @server.route("/hook")
    async def receiver(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append({"headers": dict(request.headers), "body": body})
        if not verify(request.headers, body):
            return web.Response(status=401, text="bad signature")
        return web.Response(text="thanks")

    result = send(WebhookTransport(), config(server), message, delivery_id="dlv-1")

    assert result.ok and result.status == 200 and result.response == "thanks"
    headers = seen[0]["headers"]
    assert headers["X-Yuqing-Delivery"] == "dlv-1"
    assert headers["X-Yuqing-Event"] == "alert"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    payload = json.loads(seen[0]["body"])
    assert {k: v for k, v in payload.items() if k != "text"} == {
        "version": 1,
        "id": "alert-42",
        "level": 4,
        "level_name": "red",
        "level_label": "红色预警",
        "title": "育才中学食堂多名学生呕吐送医",
        "summary": "微博、本地论坛集中出现家长发帖，称午餐后多名学生不适。",
        "url": "https://yuqing.school.example/alerts/42",
        "lines": ["来源：滨江论坛 等 12 个来源", "30 分钟内新增 35 条", "风险：红色"],
        "school": "滨江市育才中学",
        "event": "食堂学生呕吐",
        "created_at": "2025-03-07T15:05:00Z",
        "test": False,
    }
    assert payload["text"].startswith("🔴 【红色预警】育才中学食堂多名学生呕吐送医")


def test_it_fails_a_receiver_that_checks_with_another_secret(
    server: LocalServer, message: Message
) -> None:
    @server.route("/hook")
    async def receiver(request: web.Request) -> web.Response:
        ok = verify(request.headers, await request.read(), secret="someone-elses-secret")
        return web.Response(status=200 if ok else 401, text="bad signature")

    result = send(WebhookTransport(), config(server), message)

    assert not result.ok and not result.retryable
    assert result.status == 401 and result.response == "bad signature"


def test_it_classifies_500_as_retryable_and_the_next_200_as_delivered(
    server: LocalServer, message: Message
) -> None:
    statuses = [500, 200]

    @server.route("/hook")
    async def flaky(request: web.Request) -> web.Response:
        return web.Response(status=statuses.pop(0), text="down" if statuses else "ok")

    transport = WebhookTransport()
    first = send(transport, config(server), message, delivery_id="dlv-7")
    second = send(transport, config(server), message, delivery_id="dlv-7")

    assert (first.ok, first.retryable, first.status) == (False, True, 500)
    assert (second.ok, second.status) == (True, 200)
    assert [hit.headers["X-Yuqing-Delivery"] for hit in server.hits] == ["dlv-7", "dlv-7"]


def test_it_does_not_retry_a_4xx_but_does_retry_429_with_its_wait(
    server: LocalServer, message: Message
) -> None:
    @server.route("/gone")
    async def gone(request: web.Request) -> web.Response:
        return web.Response(status=404, text="no such hook")

    @server.route("/busy")
    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "30"})

    gone_result = send(WebhookTransport(), config(server, "/gone"), message)
    busy_result = send(WebhookTransport(), config(server, "/busy"), message)

    assert (gone_result.ok, gone_result.retryable, gone_result.status) == (False, False, 404)
    assert "no such hook" in gone_result.response
    assert (busy_result.retryable, busy_result.retry_after) == (True, 30.0)


def test_it_does_not_follow_a_redirect(server: LocalServer, message: Message) -> None:
    @server.route("/old")
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(location="/new")

    result = send(WebhookTransport(), config(server, "/old"), message)

    assert not result.ok and not result.retryable
    assert "moved to /new" in result.error
    assert server.paths() == ["/old"]


def test_it_gives_up_on_a_slow_receiver_retryably(server: LocalServer, message: Message) -> None:
    @server.route("/slow")
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    started = time.monotonic()
    result = send(WebhookTransport(timeout=0.3), config(server, "/slow"), message)

    assert time.monotonic() - started < 3
    assert not result.ok and result.retryable
    assert result.error.startswith("timeout")


def test_it_retries_when_nothing_listens(message: Message) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the attempt

    result = send(
        WebhookTransport(), {"url": f"http://127.0.0.1:{port}/", "secret": SECRET}, message
    )

    assert not result.ok and result.retryable
    assert result.error.startswith("connect")


def test_it_refuses_private_addresses_unless_allowed(server: LocalServer, message: Message) -> None:
    @server.route("/hook")
    async def receiver(request: web.Request) -> web.Response:
        return web.Response(text="should not be reached")

    with connect_tripwire() as attempts:
        loopback = send(WebhookTransport(), config(server), message, allow=())
        metadata = send(
            WebhookTransport(),
            {"url": "http://169.254.169.254/latest/meta-data", "secret": SECRET},
            message,
            allow=(),
        )
        # No client given: the transport's own client applies its own (empty) allow-list.
        own_client = run(
            WebhookTransport().send({"url": "http://10.0.0.8/", "secret": SECRET}, message)
        )

    for result in (loopback, metadata, own_client):
        assert not result.ok and not result.retryable
        assert result.error.startswith("blocked_address")
    assert server.hits == [] and attempts == []


def test_it_reaches_a_private_receiver_listed_in_the_allow_list(
    server: LocalServer, message: Message
) -> None:
    @server.route("/hook")
    async def receiver(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    result = run(WebhookTransport(allow_hosts=["127.0.0.1"]).send(config(server), message))

    assert result.ok


def test_it_marks_test_messages_for_the_receiver(server: LocalServer, message: Message) -> None:
    @server.route("/hook")
    async def receiver(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    test_message = Message(level=1, title="测试消息", test=True)
    assert send(WebhookTransport(), config(server), test_message).ok
    assert server.hits[0].headers["X-Yuqing-Event"] == "test"


def test_it_requires_a_url_and_a_long_enough_secret() -> None:
    errors = WebhookTransport.validate_config({"url": "ftp://files.example/", "secret": "short"})

    assert errors["url"] == "Enter an http:// or https:// URL."
    assert "at least 16 characters" in errors["secret"]
    assert (
        "user name"
        in WebhookTransport.validate_config(
            {"url": "https://u:p@hooks.example/", "secret": SECRET}
        )["url"]
    )
    assert (
        WebhookTransport.validate_config({"url": "https://hooks.example/in", "secret": SECRET})
        == {}
    )
