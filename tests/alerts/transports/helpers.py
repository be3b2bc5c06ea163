"""Helpers of the transport tests: one attempt through a real client, vendor answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web

from yuqing.alerts.transports import Message, SendResult, Transport
from yuqing.lib.http import HttpClient

T = TypeVar("T")

HOSTILE_TITLE = (
    "育才中学食堂[点我看详情](http://evil.example/x) @all <at id=all></at> "
    "<script>alert(1)</script> **加粗** `代码`\u202e"
)
SENT_AT = datetime(2025, 3, 7, 15, 5, tzinfo=UTC)  # 23:05 in Beijing


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def send(
    transport: Transport,
    config: dict[str, Any],
    message: Message,
    *,
    allow: tuple[str, ...] = ("127.0.0.1",),
    **kwargs: Any,
) -> SendResult:
    """One attempt through a shared client that may reach ``allow`` (loopback by default)."""

    async def go() -> SendResult:
        async with HttpClient(allow_hosts=allow) as client:
            return await transport.send(config, message, client=client, **kwargs)

    return asyncio.run(go())


def json_answer(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(payload), content_type="application/json")
