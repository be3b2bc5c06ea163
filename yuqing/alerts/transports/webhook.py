"""Generic signed webhook: a versioned JSON document for the school's own systems.

docs/webhooks.md is the receivers' description of the body, the headers and how to check the
signature; change them together. The signature is Stripe/GitHub style: HMAC-SHA256 with the
shared secret over ``"<timestamp>.<body bytes>"``, so a receiver can refuse replays by age.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from .base import HttpTransport, OutgoingRequest, Preview, json_bytes
from .message import Message

SCHEMA_VERSION = 1
MIN_SECRET_LENGTH = 16
SECRET = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: survives any form field
SIGNING_KEY_CHARS_HELP = "Use printable ASCII characters without spaces in the secret."

HEADER_TIMESTAMP = "X-Yuqing-Timestamp"
HEADER_SIGNATURE = "X-Yuqing-Signature"
HEADER_DELIVERY = "X-Yuqing-Delivery"
HEADER_EVENT = "X-Yuqing-Event"


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>." + body)."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def webhook_payload(message: Message) -> dict[str, Any]:
    info = message.level_info
    return {
        "version": SCHEMA_VERSION,
        "id": message.id,
        "level": message.level,
        "level_name": info.name,
        "level_label": info.label,
        "title": message.clean_title,
        "summary": message.clean_summary,
        "url": message.link,
        "lines": message.clean_lines,
        "school": message.clean_school,
        "event": message.clean_event,
        "created_at": message.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "test": message.test,
        "text": message.render_text("text"),
    }


class WebhookTransport(HttpTransport):
    kind = "webhook"
    label = "Webhook"

    @classmethod
    def validate_config(
        cls, config: Mapping[str, Any], *, allow_custom_endpoint: bool = False
    ) -> dict[str, str]:
        errors: dict[str, str] = {}
        url = str(config.get("url") or "").strip()
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            parts = None
        if not url:
            errors["url"] = "Enter the URL that receives the alerts."
        elif parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            errors["url"] = "Enter an http:// or https:// URL."
        elif parts.username or parts.password:
            errors["url"] = "Do not put a user name or password in the URL; use the secret."
        elif parts.fragment:
            errors["url"] = "Remove the #fragment from the URL."
        secret = str(config.get("secret") or "")
        if len(secret) < MIN_SECRET_LENGTH:
            errors["secret"] = (
                f"Enter a shared secret of at least {MIN_SECRET_LENGTH} characters; the "
                "receiver uses it to check each request's signature."
            )
        elif not SECRET.fullmatch(secret):
            errors["secret"] = SIGNING_KEY_CHARS_HELP
        return errors

    def build_request(
        self, config: Mapping[str, Any], message: Message, *, delivery_id: str, now: float
    ) -> OutgoingRequest:
        body = json_bytes(webhook_payload(message))
        timestamp = int(now)
        return OutgoingRequest(
            url=str(config["url"]).strip(),
            body=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                HEADER_EVENT: "test" if message.test else "alert",
                HEADER_DELIVERY: delivery_id,
                HEADER_TIMESTAMP: str(timestamp),
                HEADER_SIGNATURE: webhook_signature(str(config["secret"]), timestamp, body),
            },
        )

    @classmethod
    def preview(cls, message: Message) -> Preview:
        payload = webhook_payload(message)
        return Preview(kind=cls.kind, text=payload["text"], payload=payload)
