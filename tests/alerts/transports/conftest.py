"""Fixtures of the transport tests: messages, and a real HTTP server on 127.0.0.1.

The server is the collector tests' loopback server (a real aiohttp app in a thread); each test
registers the handler that plays the vendor and checks the signature itself, with code
written from the vendor's documentation rather than imported from the transport.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.alerts.transports.helpers import HOSTILE_TITLE, SENT_AT
from tests.monitor.collect.servers import LocalServer, serve
from yuqing.alerts.transports import Message


@pytest.fixture
def message() -> Message:
    return Message(
        level=4,
        title="育才中学食堂多名学生呕吐送医",
        summary="微博、本地论坛集中出现家长发帖，称午餐后多名学生不适。",
        url="https://yuqing.school.example/alerts/42",
        lines=["来源：滨江论坛 等 12 个来源", "30 分钟内新增 35 条", "风险：红色"],
        school="滨江市育才中学",
        event="食堂学生呕吐",
        created_at=SENT_AT,
        id="alert-42",
    )


@pytest.fixture
def hostile_message() -> Message:
    return Message(
        level=3,
        title=HOSTILE_TITLE,
        summary="转帖：[官方回应](javascript:alert(1)) @所有人 <font color=red>假</font>",
        url="https://yuqing.school.example/alerts/43",
        lines=["作者：<b>某网友</b> @13800000000", "# 标题注入"],
        school="滨江市育才中学",
        event="<img src=x onerror=alert(1)>",
        created_at=SENT_AT,
        id="alert-43",
    )


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with serve() as srv:
        yield srv
