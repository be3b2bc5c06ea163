"""WeCom (企业微信) group robot: a markdown message POSTed to the robot's webhook URL.

The robot has no signature: the ``key`` in the URL is the credential, so the URL is a secret.
Vendor documentation: https://developer.work.weixin.qq.com/document/path/91770 (group robot,
markdown content at most 4096 bytes, 20 messages a minute per robot) and
https://developer.work.weixin.qq.com/document/path/90313 (global error codes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .base import (
    OutgoingRequest,
    Preview,
    RateLimit,
    RobotTransport,
    check_endpoint,
    check_robot_url,
    json_bytes,
    with_endpoint,
)
from .message import Message

WECOM_HOST = "qyapi.weixin.qq.com"
WECOM_PATH = "/cgi-bin/webhook/send"
MARKDOWN_LIMIT = 4096  # bytes, per the robot documentation


def fit_bytes(text: str, limit: int) -> str:
    """``text`` cut at a character boundary so its UTF-8 form is at most ``limit`` bytes."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


class WeComTransport(RobotTransport):
    kind = "wecom"
    label = "WeCom"
    rate_limits: ClassVar[dict[int, RateLimit]] = {
        # -1 "system busy" (global error codes, path/90313).
        -1: RateLimit(5.0, "WeCom is busy"),
        # 45009 "api freq out of limit": more than 20 messages a minute to one robot
        # (path/91770, "消息发送频率限制"); the minute window must pass.
        45009: RateLimit(60.0, "over 20 messages a minute for this robot"),
    }

    @classmethod
    def validate_config(
        cls, config: Mapping[str, Any], *, allow_custom_endpoint: bool = False
    ) -> dict[str, str]:
        errors: dict[str, str] = {}
        problem = check_robot_url(
            config.get("webhook"),
            hosts=[WECOM_HOST],
            path=WECOM_PATH,
            query_name="key",
            example=f"https://{WECOM_HOST}{WECOM_PATH}?key=…",
        )
        if problem:
            errors["webhook"] = problem
        errors.update(check_endpoint(config, allow_custom_endpoint))
        return errors

    @classmethod
    def build_payload(cls, message: Message) -> dict[str, Any]:
        content = fit_bytes(message.render_text("wecom"), MARKDOWN_LIMIT)
        return {"msgtype": "markdown", "markdown": {"content": content}}

    def build_request(
        self, config: Mapping[str, Any], message: Message, *, delivery_id: str, now: float
    ) -> OutgoingRequest:
        url = with_endpoint(str(config["webhook"]).strip(), config, self.allow_custom_endpoint)
        return OutgoingRequest(
            url=url,
            body=json_bytes(self.build_payload(message)),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    @classmethod
    def preview(cls, message: Message) -> Preview:
        payload = cls.build_payload(message)
        return Preview(kind=cls.kind, text=payload["markdown"]["content"], payload=payload)
