"""Feishu (飞书) / Lark custom bot: a signed interactive card.

Signing, as the custom-bot guide describes it (签名校验): ``timestamp + "\\n" + secret``
(timestamp in seconds, within an hour of Feishu's clock) is the HMAC-SHA256 *key*, the
message is empty, and the Base64 digest goes into the JSON body as ``sign`` beside
``timestamp``. (The key/message roles are the reverse of DingTalk's.)
https://open.feishu.cn/document/ukTMukTMukTM/ucTM5YjL3ETO24yNxkjN

The guide also limits a custom bot to 100 requests a minute and 5 a second, and the request
body to 20 KB.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
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
from .message import Message, markdown_inert

FEISHU_HOSTS = ("open.feishu.cn", "open.larksuite.com")
HOOK_PATH = re.compile(r"/open-apis/bot/v2/hook/[A-Za-z0-9_-]{8,200}")
SECRET = re.compile(r"[0-9A-Za-z]{8,200}")
SIGNING_KEY_HELP = (
    "A Feishu signing secret is letters and digits only; copy it from the bot's "
    "security settings (签名校验)."
)


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Base64 of HMAC-SHA256 keyed by "timestamp\\nsecret" over an empty message."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


class FeishuTransport(RobotTransport):
    kind = "feishu"
    label = "Feishu"
    code_fields = ("code", "StatusCode")  # StatusCode: the older answer format
    message_fields = ("msg", "StatusMessage")
    rate_limits: ClassVar[dict[int, RateLimit]] = {
        # 11232 "frequency limited": the custom-bot guide says it appears under load around
        # the hour and half hour, besides the 100/min and 5/s limits.
        11232: RateLimit(60.0, "Feishu rate limit (100 a minute, 5 a second per bot)"),
        # 9499 is two things: "Bad Request" for a malformed body (per the guide, not worth a
        # retry) and "too many request" from the API gateway. Only the latter is retried.
        9499: RateLimit(60.0, "Feishu gateway rate limit", only_if_message_has="too many"),
    }
    # Not retryable: 19021 (signature wrong or timestamp over an hour off: fix the secret or
    # the server clock), 19022 (IP not allowed), 19024 (keyword missing).

    @classmethod
    def validate_config(
        cls, config: Mapping[str, Any], *, allow_custom_endpoint: bool = False
    ) -> dict[str, str]:
        errors: dict[str, str] = {}
        problem = check_robot_url(
            config.get("webhook"),
            hosts=FEISHU_HOSTS,
            path=HOOK_PATH,
            query_name=None,
            example="https://open.feishu.cn/open-apis/bot/v2/hook/…",
        )
        if problem:
            errors["webhook"] = problem
        secret = str(config.get("secret") or "").strip()
        if secret and not SECRET.fullmatch(secret):
            errors["secret"] = SIGNING_KEY_HELP
        errors.update(check_endpoint(config, allow_custom_endpoint))
        return errors

    @classmethod
    def build_payload(cls, message: Message) -> dict[str, Any]:
        info = message.level_info
        elements: list[dict[str, Any]] = [
            {"tag": "div", "text": {"tag": "lark_md", "content": message.render_text("feishu")}}
        ]
        if message.link:
            elements.append(
                {
                    "tag": "action",
                    "actions": [
                        {
                            "tag": "button",
                            "text": {"tag": "plain_text", "content": "查看详情"},
                            "type": "danger" if message.level >= 4 else "primary",
                            "url": message.link,
                        }
                    ],
                }
            )
        elements.append(
            {"tag": "note", "elements": [{"tag": "plain_text", "content": "舆情监测 Yuqing"}]}
        )
        return {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {
                    "template": info.feishu_template,
                    # plain_text is not markdown, but whether Feishu reads <at> in it is not
                    # documented: the crawled title is made inert here too.
                    "title": {
                        "tag": "plain_text",
                        "content": f"{info.emoji} {markdown_inert(message.heading)}",
                    },
                },
                "elements": elements,
            },
        }

    def build_request(
        self, config: Mapping[str, Any], message: Message, *, delivery_id: str, now: float
    ) -> OutgoingRequest:
        payload: dict[str, Any] = {}
        secret = str(config.get("secret") or "").strip()
        if secret:
            timestamp = int(now)
            payload = {"timestamp": str(timestamp), "sign": feishu_sign(secret, timestamp)}
        payload.update(self.build_payload(message))
        url = with_endpoint(str(config["webhook"]).strip(), config, self.allow_custom_endpoint)
        return OutgoingRequest(
            url=url,
            body=json_bytes(payload),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    @classmethod
    def preview(cls, message: Message) -> Preview:
        return Preview(
            kind=cls.kind, text=message.render_text("feishu"), payload=cls.build_payload(message)
        )
