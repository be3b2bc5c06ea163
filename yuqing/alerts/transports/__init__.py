"""Alert channel transports: one class per channel kind, one small shared contract.

    transport = get_transport("dingtalk", allow_hosts=settings.FETCH_ALLOW_HOSTS)
    errors = transport.validate_config(config)          # {} when usable; at save time
    result = await transport.send(config, message, client=http_client, delivery_id=...)
    if not result.ok and result.retryable: ...           # the alerts app's retry policy

In-app notifications are not a transport: they are rows the alerts app writes itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from .base import Preview, SendResult, Transport
from .dingtalk import DingTalkTransport
from .email import EmailTransport
from .feishu import FeishuTransport
from .message import LEVELS, Level, Message
from .webhook import WebhookTransport
from .wecom import WeComTransport

TRANSPORTS: dict[str, type[Transport]] = {
    cls.kind: cls
    for cls in (
        EmailTransport,
        WeComTransport,
        DingTalkTransport,
        FeishuTransport,
        WebhookTransport,
    )
}


def transport_class(kind: str) -> type[Transport]:
    try:
        return TRANSPORTS[kind]
    except KeyError:
        known = ", ".join(sorted(TRANSPORTS))
        raise ValueError(f"unknown channel kind {kind!r}; known kinds: {known}") from None


def get_transport(
    kind: str,
    *,
    allow_custom_endpoint: bool = False,
    allow_hosts: Iterable[str] = (),
    timeout: float | None = None,
) -> Transport:
    """A ready transport for ``kind``; ``ValueError`` for an unknown kind."""
    cls = transport_class(kind)
    if timeout is None:
        return cls(allow_custom_endpoint=allow_custom_endpoint, allow_hosts=allow_hosts)
    return cls(
        allow_custom_endpoint=allow_custom_endpoint, allow_hosts=allow_hosts, timeout=timeout
    )


def preview(kind: str, message: Message) -> Preview:
    """What ``kind`` would send for ``message`` (unsigned), for the UI's preview."""
    return transport_class(kind).preview(message)


__all__ = [
    "LEVELS",
    "TRANSPORTS",
    "DingTalkTransport",
    "EmailTransport",
    "FeishuTransport",
    "Level",
    "Message",
    "Preview",
    "SendResult",
    "Transport",
    "WeComTransport",
    "WebhookTransport",
    "get_transport",
    "preview",
    "transport_class",
]
