"""WeCom group robot: markdown with the key in the URL, answered by a local robot endpoint."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.alerts.transports.helpers import json_answer, send
from tests.monitor.collect.servers import LocalServer
from yuqing.alerts.transports import Message, WeComTransport

KEY = "693a91f6-7a1c-4bc4-97a0-0ec2f1a5aaa1"
WEBHOOK = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"


def config(server: LocalServer) -> dict[str, Any]:
    return {"webhook": WEBHOOK, "endpoint": server.base}


def test_it_posts_a_markdown_message_with_the_key(server: LocalServer, message: Message) -> None:
    seen: list[dict[str, Any]] = []

    @server.route("/cgi-bin/webhook/send")
    async def robot(request: web.Request) -> web.Response:
        seen.append({"key": request.query.get("key"), "body": json.loads(await request.read())})
        assert request.content_type == "application/json"
        return json_answer({"errcode": 0, "errmsg": "ok"})

    result = send(WeComTransport(allow_custom_endpoint=True), config(server), message)

    assert result.ok, result
    assert seen[0]["key"] == KEY
    body = seen[0]["body"]
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.splitlines()[0] == (
        '## 🔴 <font color="warning">【红色预警】</font>育才中学食堂多名学生呕吐送医'
    )
    assert "- 30 分钟内新增 35 条" in content
    assert '<font color="comment">学校：</font>滨江市育才中学' in content
    assert "[查看详情](https://yuqing.school.example/alerts/42)" in content


def test_it_treats_api_freq_out_of_limit_as_retryable(
    server: LocalServer, message: Message
) -> None:
    @server.route("/cgi-bin/webhook/send")
    async def robot(request: web.Request) -> web.Response:
        return json_answer({"errcode": 45009, "errmsg": "api freq out of limit"})

    result = send(WeComTransport(allow_custom_endpoint=True), config(server), message)

    assert not result.ok and result.retryable and result.retry_after == 60.0
    assert "45009" in result.error


def test_it_does_not_retry_an_invalid_key(server: LocalServer, message: Message) -> None:
    @server.route("/cgi-bin/webhook/send")
    async def robot(request: web.Request) -> web.Response:
        return json_answer({"errcode": 93000, "errmsg": "invalid webhook url"})

    result = send(WeComTransport(allow_custom_endpoint=True), config(server), message)

    assert not result.ok and not result.retryable
    assert result.error == "WeCom refused the message: 93000 invalid webhook url"
    assert "invalid webhook url" in result.response


def test_it_does_not_take_a_non_json_answer_for_success(
    server: LocalServer, message: Message
) -> None:
    @server.route("/cgi-bin/webhook/send")
    async def portal(request: web.Request) -> web.Response:
        return web.Response(text="<html>请先登录上网认证</html>", content_type="text/html")

    result = send(WeComTransport(allow_custom_endpoint=True), config(server), message)

    assert not result.ok and not result.retryable
    assert "check the URL" in result.error


def test_it_keeps_the_markdown_within_wecoms_4096_bytes(server: LocalServer) -> None:
    long = Message(level=1, title="标题", summary="很长的内容。" * 2000, lines=["事实"] * 50)
    content = WeComTransport.preview(long).text

    assert len(content.encode("utf-8")) <= 4096


def test_it_refuses_urls_that_are_not_wecom_robots() -> None:
    def error(url: str) -> str:
        return WeComTransport.validate_config({"webhook": url}).get("webhook", "")

    assert "not a webhook URL" in error("https://oapi.dingtalk.com/robot/send?access_token=x")
    assert "not a webhook URL" in error(
        f"http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"
    )
    assert error("https://qyapi.weixin.qq.com/cgi-bin/webhook/send") != ""
    assert error(f"https://qyapi.weixin.qq.com/cgi-bin/message/send?key={KEY}") != ""
    assert error("") == "Enter the robot's webhook URL."
    assert error(WEBHOOK) == ""
