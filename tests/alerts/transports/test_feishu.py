"""Feishu bot: a signed card, checked by a local endpoint written from Feishu's guide."""

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
from yuqing.alerts.transports import FeishuTransport, Message

SECRET = "qVpVZ1xT3KpYVc4mzK2dnb"
HOOK = "https://open.feishu.cn/open-apis/bot/v2/hook/5e3d587e-d78e-4a07-bd07-265f269f86fd"


def play_feishu(server: LocalServer, seen: list[dict[str, Any]], secret: str = SECRET) -> None:
    @server.route("/open-apis/bot/v2/hook/*")
    async def bot(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        seen.append(body)
        timestamp = str(body.get("timestamp", ""))
        # The guide: timestamp + "\n" + 密钥 as the signature string, HmacSHA256 keyed by it
        # over empty data, then Base64.
        key = f"{timestamp}\n{secret}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 3600
        if not (fresh and hmac.compare_digest(str(body.get("sign", "")), expected)):
            return json_answer(
                {
                    "code": 19021,
                    "data": {},
                    "msg": "sign match fail or timestamp is not within one hour from current time",
                }
            )
        return json_answer({"code": 0, "data": {}, "msg": "success"})


def config(server: LocalServer) -> dict[str, Any]:
    return {"webhook": HOOK, "secret": SECRET, "endpoint": server.base}


def test_it_signs_the_card_as_feishu_documents(server: LocalServer, message: Message) -> None:
    seen: list[dict[str, Any]] = []
    play_feishu(server, seen)

    result = send(FeishuTransport(allow_custom_endpoint=True), config(server), message)

    assert result.ok, result
    body = seen[0]
    assert body["msg_type"] == "interactive"
    card = body["card"]
    assert card["header"]["template"] == "red"
    assert card["header"]["title"] == {
        "tag": "plain_text",
        "content": "🔴 【红色预警】育才中学食堂多名学生呕吐送医",
    }
    text = card["elements"][0]["text"]
    assert text["tag"] == "lark_md"
    assert "**事件**：食堂学生呕吐" in text["content"]
    button = card["elements"][1]["actions"][0]
    assert button["url"] == "https://yuqing.school.example/alerts/42"
    assert button["type"] == "danger"


def test_it_colours_the_card_by_level(message: Message) -> None:
    colours = [
        FeishuTransport.preview(
            Message(level=level, title="t", created_at=message.created_at)
        ).payload["card"]["header"]["template"]  # type: ignore[index]
        for level in (1, 2, 3, 4)
    ]

    assert colours == ["blue", "yellow", "orange", "red"]


def test_it_reports_a_wrong_secret_as_not_retryable(server: LocalServer, message: Message) -> None:
    play_feishu(server, [], secret="AnotherSecret123456")

    result = send(FeishuTransport(allow_custom_endpoint=True), config(server), message)

    assert not result.ok and not result.retryable
    assert "19021" in result.error


def test_it_retries_feishu_rate_limits_but_not_bad_requests(
    server: LocalServer, message: Message
) -> None:
    answers = [
        (200, {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]"}),
        (400, {"code": 9499, "msg": "too many request"}),
        (400, {"code": 9499, "msg": "Bad Request", "data": {}}),
        (200, {"StatusCode": 0, "StatusMessage": "success"}),  # the older answer format
    ]

    @server.route("/open-apis/bot/v2/hook/*")
    async def bot(request: web.Request) -> web.Response:
        status, payload = answers.pop(0)
        return json_answer(payload, status=status)

    transport = FeishuTransport(allow_custom_endpoint=True)
    results = [send(transport, config(server), message) for _ in range(4)]

    assert [(r.ok, r.retryable) for r in results] == [
        (False, True),
        (False, True),
        (False, False),
        (True, False),
    ]
    assert results[1].status == 400 and "9499" in results[1].error


def test_it_refuses_urls_that_are_not_feishu_bots_and_bad_secrets() -> None:
    errors = FeishuTransport.validate_config(
        {"webhook": "https://open.feishu.cn/open-apis/bot/hook/abcdefgh", "secret": "有 空格"}
    )

    assert "e.g. https://open.feishu.cn/open-apis/bot/v2/hook/" in errors["webhook"]
    assert "letters and digits only" in errors["secret"]
    assert FeishuTransport.validate_config({"webhook": HOOK, "secret": SECRET}) == {}
    lark = HOOK.replace("open.feishu.cn", "open.larksuite.com")
    assert FeishuTransport.validate_config({"webhook": lark}) == {}
    assert "webhook" in FeishuTransport.validate_config({"webhook": HOOK + "?x=1"})
