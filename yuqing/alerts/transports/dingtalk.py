"""DingTalk (钉钉) custom robot: a signed markdown message.

Signing, as the custom-robot documentation describes it ("加签"): the string
``timestamp + "\\n" + secret`` (timestamp in milliseconds, within an hour of DingTalk's clock)
is signed with HMAC-SHA256 keyed by the secret, Base64-encoded, then URL-encoded, and sent as
``&timestamp=…&sign=…`` after the robot's ``access_token``. Secrets start with "SEC".
https://open.dingtalk.com/document/robots/customize-robot-security-settings

A robot secured by keywords instead of signing only accepts messages containing a keyword:
every message here contains "舆情" and "预警", so either works as the robot's keyword.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote_plus

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

DINGTALK_HOST = "oapi.dingtalk.com"
DINGTALK_PATH = "/robot/send"
SECRET = re.compile(r"SEC[0-9A-Za-z]{16,200}")
MOBILE = re.compile(r"1[3-9][0-9]{9}")  # mainland mobile numbers, as DingTalk accounts use
MAX_MENTIONS = 20
SIGNING_KEY_HELP = (
    "A DingTalk signing secret starts with SEC followed by letters and digits; "
    "copy it from the robot's security settings (加签)."
)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query value: URL-encoded Base64 of HMAC-SHA256(secret, "ts\\nsecret")."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), string_to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def mobiles(config: Mapping[str, Any]) -> list[str]:
    raw = config.get("at_mobiles") or []
    if isinstance(raw, str):
        raw = re.split(r"[\s,，;；]+", raw)
    return [str(m).strip() for m in raw if str(m).strip()]


class DingTalkTransport(RobotTransport):
    kind = "dingtalk"
    label = "DingTalk"
    rate_limits: ClassVar[dict[int, RateLimit]] = {
        # -1 "系统繁忙" (system busy).
        -1: RateLimit(5.0, "DingTalk is busy"),
        # 130101 "send too fast, exceed 20 times per minute": the robot is then throttled for
        # 10 minutes (custom robot documentation, "消息发送频率限制"; the answer as seen in
        # ccfos/nightingale#369).
        130101: RateLimit(600.0, "over 20 messages a minute; DingTalk throttles for 10 minutes"),
    }
    # Not retryable on purpose: 310000 (wrong signature, keyword missing or IP not allowed),
    # 300001 (bad token) and 90030/"webhook over limit" (the month's quota of a free
    # organisation is spent) all need a person, not another attempt.

    @classmethod
    def validate_config(
        cls, config: Mapping[str, Any], *, allow_custom_endpoint: bool = False
    ) -> dict[str, str]:
        errors: dict[str, str] = {}
        problem = check_robot_url(
            config.get("webhook"),
            hosts=[DINGTALK_HOST],
            path=DINGTALK_PATH,
            query_name="access_token",
            example=f"https://{DINGTALK_HOST}{DINGTALK_PATH}?access_token=…",
        )
        if problem:
            errors["webhook"] = problem
        secret = str(config.get("secret") or "").strip()
        if secret and not SECRET.fullmatch(secret):
            errors["secret"] = SIGNING_KEY_HELP
        numbers = mobiles(config)
        bad = [m for m in numbers if not MOBILE.fullmatch(m)]
        if bad:
            errors["at_mobiles"] = f"Not a mobile number: {', '.join(bad[:3])}."
        elif len(numbers) > MAX_MENTIONS:
            errors["at_mobiles"] = f"Mention at most {MAX_MENTIONS} people."
        errors.update(check_endpoint(config, allow_custom_endpoint))
        return errors

    @classmethod
    def build_payload(cls, config: Mapping[str, Any], message: Message) -> dict[str, Any]:
        numbers = mobiles(config)
        at_all = bool(config.get("at_all"))
        text = message.render_text("dingtalk")
        # DingTalk only notifies the people whose "@number" also appears in the text.
        if numbers:
            text += "\n\n" + " ".join(f"@{m}" for m in numbers)
        return {
            "msgtype": "markdown",
            "markdown": {"title": message.heading, "text": text},
            "at": {"atMobiles": numbers, "isAtAll": at_all},
        }

    def build_request(
        self, config: Mapping[str, Any], message: Message, *, delivery_id: str, now: float
    ) -> OutgoingRequest:
        url = str(config["webhook"]).strip()
        secret = str(config.get("secret") or "").strip()
        if secret:
            timestamp = int(now * 1000)
            url += f"&timestamp={timestamp}&sign={dingtalk_sign(secret, timestamp)}"
        return OutgoingRequest(
            url=with_endpoint(url, config, self.allow_custom_endpoint),
            body=json_bytes(self.build_payload(config, message)),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    @classmethod
    def preview(cls, message: Message) -> Preview:
        payload = cls.build_payload({}, message)
        return Preview(kind=cls.kind, text=payload["markdown"]["text"], payload=payload)
