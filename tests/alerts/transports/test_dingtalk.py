"""DingTalk robot: signed markdown to a local server that checks the signature as DingTalk does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from aiohttp import web

from tests.alerts.transports.helpers import json_answer, send
from tests.monitor.collect.servers import LocalServer
from yuqing.alerts.transports import DingTalkTransport, Message

SECRET = "SEC" + "0123456789abcdef" * 4
TOKEN = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
WEBHOOK = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"


def play_dingtalk(server: LocalServer, seen: list[dict[str, Any]], secret: str = SECRET) -> None:
    """A DingTalk robot endpoint, written from the custom-robot security documentation."""

    @server.route("/robot/send")
    async def robot(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        seen.append({"query": dict(request.query), "raw_query": request.query_string, "body": body})
        if request.query.get("access_token") != TOKEN:
            return json_answer({"errcode": 300001, "errmsg": "token is not exist"})
        timestamp = request.query.get("timestamp", "")
        sign = request.query.get("sign", "")
        # "把timestamp+"\n"+密钥当做签名字符串，使用HmacSHA256算法计算签名，然后进行Base64
        # encode，最后再把签名参数再进行urlEncode" — the query parser has undone the urlEncode.
        string_to_sign = f"{timestamp}\n{secret}"
        expected = base64.b64encode(
            hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).digest()
        ).decode()
        fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) < 3_600_000
        if not (fresh and hmac.compare_digest(sign, expected)):
            return json_answer({"errcode": 310000, "errmsg": "sign not match"})
        return json_answer({"errcode": 0, "errmsg": "ok"})


def config(server: LocalServer, **extra: Any) -> dict[str, Any]:
    return {"webhook": WEBHOOK, "secret": SECRET, "endpoint": server.base, **extra}


def test_it_signs_the_request_as_dingtalk_documents(server: LocalServer, message: Message) -> None:
    seen: list[dict[str, Any]] = []
    play_dingtalk(server, seen)

    result = send(DingTalkTransport(allow_custom_endpoint=True), config(server), message)

    assert result.ok, result
    assert result.status == 200 and '"errcode": 0' in result.response
    body = seen[0]["body"]
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "【红色预警】育才中学食堂多名学生呕吐送医"
    text = body["markdown"]["text"]
    assert text.startswith("### 🔴 【红色预警】育才中学食堂多名学生呕吐送医")
    assert "[查看详情](https://yuqing.school.example/alerts/42)" in text
    assert "**时间**：2025-03-07 23:05" in text
    assert body["at"] == {"atMobiles": [], "isAtAll": False}
    # The sign travels URL-encoded: no raw "+" that a server would read as a space.
    assert "+" not in seen[0]["raw_query"].split("sign=")[1]


def test_it_mentions_the_configured_mobiles_in_text_and_at(
    server: LocalServer, message: Message
) -> None:
    seen: list[dict[str, Any]] = []
    play_dingtalk(server, seen)

    result = send(
        DingTalkTransport(allow_custom_endpoint=True),
        config(server, at_mobiles="13800001111, 13900002222"),
        message,
    )

    assert result.ok
    body = seen[0]["body"]
    assert body["at"]["atMobiles"] == ["13800001111", "13900002222"]
    assert body["markdown"]["text"].endswith("@13800001111 @13900002222")


def test_it_sends_unsigned_when_the_robot_uses_keywords(
    server: LocalServer, message: Message
) -> None:
    seen: list[dict[str, Any]] = []

    @server.route("/robot/send")
    async def robot(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        body = json.loads(await request.read())
        ok = "舆情" in body["markdown"]["text"]  # the keyword a school would configure
        return json_answer({"errcode": 0 if ok else 310000, "errmsg": "ok"})

    result = send(
        DingTalkTransport(allow_custom_endpoint=True),
        {"webhook": WEBHOOK, "endpoint": server.base},
        message,
    )

    assert result.ok
    assert set(seen[0]) == {"access_token"}


def test_it_reports_a_wrong_secret_as_not_retryable(server: LocalServer, message: Message) -> None:
    play_dingtalk(server, [], secret="SEC" + "f" * 64)

    result = send(DingTalkTransport(allow_custom_endpoint=True), config(server), message)

    assert not result.ok and not result.retryable
    assert "310000" in result.error and "sign not match" in result.error


def test_it_treats_send_too_fast_as_a_retryable_rate_limit(
    server: LocalServer, message: Message
) -> None:
    @server.route("/robot/send")
    async def robot(request: web.Request) -> web.Response:
        return json_answer(
            {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        )

    result = send(DingTalkTransport(allow_custom_endpoint=True), config(server), message)

    assert not result.ok and result.retryable
    assert result.retry_after == 600.0
    assert "130101" in result.error


def test_it_refuses_urls_of_other_hosts_and_malformed_secrets() -> None:
    errors = DingTalkTransport.validate_config(
        {
            "webhook": "https://oapi.dingtalk.com.evil.example/robot/send?access_token=abcdefgh12",
            "secret": "0123456789abcdef0123",
            "at_mobiles": ["1380000111"],
        }
    )

    assert "not a webhook URL of this service" in errors["webhook"]
    assert "starts with SEC" in errors["secret"]
    assert "Not a mobile number: 1380000111" in errors["at_mobiles"]


def test_it_refuses_extra_parameters_and_plain_http() -> None:
    assert (
        "?access_token="
        in DingTalkTransport.validate_config({"webhook": WEBHOOK + "&timestamp=1&sign=x"})[
            "webhook"
        ]
    )
    assert "webhook" in DingTalkTransport.validate_config(
        {"webhook": WEBHOOK.replace("https:", "http:")}
    )
    assert DingTalkTransport.validate_config({"webhook": WEBHOOK, "secret": SECRET}) == {}


def test_it_honours_an_endpoint_only_when_the_server_allows_it() -> None:
    cfg = {"webhook": WEBHOOK, "endpoint": "http://127.0.0.1:9"}

    assert "not enabled" in DingTalkTransport.validate_config(cfg)["endpoint"]
    assert DingTalkTransport.validate_config(cfg, allow_custom_endpoint=True) == {}


def test_it_refuses_to_send_with_a_bad_configuration(message: Message) -> None:
    result = send(DingTalkTransport(), {"webhook": "https://example.com/"}, message)

    assert not result.ok and not result.retryable
    assert result.error.startswith("invalid configuration: webhook:")
