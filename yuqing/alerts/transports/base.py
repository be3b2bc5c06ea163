"""The contract every channel transport keeps, and the parts the HTTP channels share.

A transport turns one ``Message`` into one delivery attempt and says how it went; it never
retries, sleeps or touches the database (the alerts app owns deliveries and their retry
policy). ``SendResult.retryable`` is the transport's judgement of whether trying again later
can help: server errors, timeouts, refused connections and the vendors' rate-limit codes can;
bad configuration, 4xx answers and the vendors' other error codes cannot.

Every outgoing HTTP request goes through ``yuqing.lib.http.HttpClient``, so its timeouts, size
limits and private-address guard apply to webhook URLs typed in by school administrators.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from yuqing.lib.http import ErrorKind, HttpClient, HttpResult

from .message import Message

RESPONSE_LIMIT = 1000  # characters of a response body kept in the delivery log
RESPONSE_MAX_BYTES = 64 * 1024  # a webhook's answer is a status line, not a download
DEFAULT_TIMEOUT = 10.0

# Failures of the network path that a later attempt may not meet again.
_RETRYABLE_KINDS = frozenset({ErrorKind.TIMEOUT, ErrorKind.CONNECT, ErrorKind.DNS})
_RETRYABLE_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status: int | None = None  # HTTP or SMTP status of the last answer, if any
    response: str = ""  # the answer, truncated to RESPONSE_LIMIT characters
    retryable: bool = False
    error: str = ""
    retry_after: float | None = None  # seconds the far side asked us to wait, if it said


@dataclass(frozen=True)
class Preview:
    """What a channel would send for a message, for the UI's preview (nothing is signed)."""

    kind: str
    text: str  # the rendered body people read: markdown for robots, plain for e-mail
    subject: str = ""
    html: str = ""
    payload: dict[str, Any] | None = None  # the JSON body of HTTP channels


@dataclass(frozen=True)
class OutgoingRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def truncate(text: str, limit: int = RESPONSE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_bytes(payload: Mapping[str, Any]) -> bytes:
    # Compact UTF-8 (not \u escapes): the signed bytes are exactly the bytes sent.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Transport:
    """One notification channel kind. Subclasses set ``kind`` and ``label``.

    ``allow_custom_endpoint`` lets ``config["endpoint"]`` replace a vendor robot's origin (tests
    on 127.0.0.1, private deployments of DingTalk or Feishu); it is off by default so that an
    administrator cannot aim a "DingTalk robot" anywhere. ``allow_hosts`` is the address guard's
    allow-list for the throw-away client made when ``send`` gets no client.
    """

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def __init__(
        self,
        *,
        allow_custom_endpoint: bool = False,
        allow_hosts: Iterable[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.allow_custom_endpoint = allow_custom_endpoint
        self.allow_hosts = tuple(allow_hosts)
        self.timeout = timeout

    @classmethod
    def validate_config(
        cls, config: Mapping[str, Any], *, allow_custom_endpoint: bool = False
    ) -> dict[str, str]:
        """Field → error message; an empty dict means the configuration is usable."""
        raise NotImplementedError

    async def send(
        self,
        config: Mapping[str, Any],
        message: Message,
        *,
        client: HttpClient | None = None,
        delivery_id: str | None = None,
    ) -> SendResult:
        """Make one delivery attempt. Never raises for network or configuration trouble."""
        raise NotImplementedError

    @classmethod
    def preview(cls, message: Message) -> Preview:
        raise NotImplementedError

    def config_errors(self, config: Mapping[str, Any]) -> SendResult | None:
        errors = self.validate_config(config, allow_custom_endpoint=self.allow_custom_endpoint)
        if not errors:
            return None
        detail = "; ".join(f"{name}: {text}" for name, text in sorted(errors.items()))
        return SendResult(ok=False, retryable=False, error=f"invalid configuration: {detail}")


# --------------------------------------------------------------------------- HTTP channels


def check_endpoint(config: Mapping[str, Any], allowed: bool) -> dict[str, str]:
    endpoint = str(config.get("endpoint") or "").strip()
    if not endpoint:
        return {}
    if not allowed:
        return {"endpoint": "Custom endpoints are not enabled on this server."}
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return {"endpoint": "Enter an http(s) base URL, e.g. http://127.0.0.1:8080."}
    if parts.query or parts.fragment:
        return {"endpoint": "The endpoint is a base URL: no query or fragment."}
    return {}


_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,200}")


def check_robot_url(
    value: object,
    *,
    hosts: Iterable[str],
    path: str | re.Pattern[str],
    query_name: str | None,
    example: str,
) -> str | None:
    """Why ``value`` is not a webhook URL of this vendor's robots, or None when it is one."""
    text = str(value or "").strip()
    wrong = f"Enter the robot's webhook URL as the app shows it, e.g. {example}"
    if not text:
        return "Enter the robot's webhook URL."
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return wrong
    if parts.scheme != "https" or (parts.hostname or "") not in set(hosts):
        return f"This is not a webhook URL of this service. {wrong}"
    if parts.username or parts.password or port not in (None, 443) or parts.fragment:
        return wrong
    if isinstance(path, str):
        if parts.path != path:
            return wrong
    elif not path.fullmatch(parts.path):
        return wrong
    query = parse_qsl(parts.query, keep_blank_values=True)
    if query_name is None:
        return wrong if query else None
    if len(query) != 1 or query[0][0] != query_name or not _TOKEN.fullmatch(query[0][1]):
        return f"The URL must end in ?{query_name}=… with nothing after the token. {wrong}"
    return None


def with_endpoint(url: str, config: Mapping[str, Any], allowed: bool) -> str:
    """``url`` with its origin replaced by ``config["endpoint"]`` when that is allowed."""
    endpoint = str(config.get("endpoint") or "").strip()
    if not (endpoint and allowed):
        return url
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{endpoint.rstrip('/')}{parts.path}{query}"


def classify_http(result: HttpResult) -> SendResult | None:
    """A failed ``SendResult`` for transport-level trouble, or None to read the answer."""
    response = truncate(result.body.decode("utf-8", "replace")) if result.body else ""
    if result.error is None or result.error is ErrorKind.HTTP_STATUS:
        status = result.status or 0
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            where = result.headers.get("location", "?")
            return SendResult(
                ok=False,
                status=status,
                response=response,
                error=f"HTTP {status}: the webhook moved to {where}; update the URL",
            )
        return SendResult(
            ok=False,
            status=status,
            response=response,
            retryable=status >= 500 or status in _RETRYABLE_STATUSES,
            error=result.error_message or f"HTTP {status}",
            retry_after=result.retry_after,
        )
    kind = result.error
    if kind is ErrorKind.TOO_LARGE and result.status and 200 <= result.status < 300:
        # The far side took the request; only its answer was oversized. Sending again would
        # deliver twice.
        return None
    retryable = kind in _RETRYABLE_KINDS or (
        kind in (ErrorKind.PARSE, ErrorKind.ENCODING) and result.status is None
    )
    return SendResult(
        ok=False,
        status=result.status,
        response=response,
        retryable=retryable,
        error=f"{kind.value}: {result.error_message or kind.value}",
    )


class HttpTransport(Transport):
    """A channel that POSTs one JSON document: the robots and the generic webhook."""

    async def send(
        self,
        config: Mapping[str, Any],
        message: Message,
        *,
        client: HttpClient | None = None,
        delivery_id: str | None = None,
    ) -> SendResult:
        refused = self.config_errors(config)
        if refused is not None:
            return refused
        request = self.build_request(
            config, message, delivery_id=delivery_id or uuid.uuid4().hex, now=time.time()
        )
        if client is None:
            async with HttpClient(
                allow_hosts=self.allow_hosts, total_timeout=self.timeout
            ) as own_client:
                result = await self._post(own_client, request)
        else:
            result = await self._post(client, request)
        return self.judge(result)

    async def _post(self, client: HttpClient, request: OutgoingRequest) -> HttpResult:
        return await client.request(
            "POST",
            request.url,
            headers=request.headers,
            data=request.body,
            max_bytes=RESPONSE_MAX_BYTES,
            total_timeout=self.timeout,
            # A redirected POST loses its body or signature; a moved webhook needs a human.
            follow_redirects=False,
        )

    def build_request(
        self, config: Mapping[str, Any], message: Message, *, delivery_id: str, now: float
    ) -> OutgoingRequest:
        raise NotImplementedError

    def judge(self, result: HttpResult) -> SendResult:
        failure = classify_http(result)
        return failure if failure is not None else self.interpret(result)

    def interpret(self, result: HttpResult) -> SendResult:
        """Judge a 2xx answer; the generic webhook takes any 2xx as delivered."""
        body = result.body.decode("utf-8", "replace") if result.body else ""
        return SendResult(ok=True, status=result.status, response=truncate(body))


@dataclass(frozen=True)
class RateLimit:
    """A vendor error code that means "too fast, try later", and how long to wait."""

    wait: float
    note: str
    only_if_message_has: str = ""  # codes some vendors reuse for other failures


class RobotTransport(HttpTransport):
    """A vendor group robot: JSON answer ``{code_field: 0, message_field: "ok"}`` on success."""

    code_fields: ClassVar[tuple[str, ...]] = ("errcode",)
    message_fields: ClassVar[tuple[str, ...]] = ("errmsg",)
    rate_limits: ClassVar[dict[int, RateLimit]] = {}

    def judge(self, result: HttpResult) -> SendResult:
        # Vendors answer errors in JSON, sometimes with a 4xx or 5xx status (Feishu sends
        # 400 with code 9499): the vendor's code decides before the HTTP status does.
        if result.error in (None, ErrorKind.HTTP_STATUS) and result.status and result.body:
            found = self.vendor_code(result.body)
            if found is not None:
                code, note = found
                response = truncate(result.body.decode("utf-8", "replace"))
                if code == 0 and 200 <= result.status < 300:
                    return SendResult(ok=True, status=result.status, response=response)
                if code != 0:
                    return self.vendor_failure(code, note, status=result.status, response=response)
        return super().judge(result)

    def vendor_code(self, body: bytes) -> tuple[Any, str] | None:
        try:
            data = json.loads(body.decode("utf-8", "replace"))
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        code_field = next((f for f in self.code_fields if f in data), None)
        if code_field is None:
            return None
        note = next((str(data[f]) for f in self.message_fields if f in data), "")
        return data[code_field], note

    def interpret(self, result: HttpResult) -> SendResult:
        # Reached only for a 2xx answer without the vendor's code: not the robot API.
        text = result.body.decode("utf-8", "replace") if result.body else ""
        return SendResult(
            ok=False,
            status=result.status,
            response=truncate(text),
            error="the answer is not the JSON the robot API returns; check the URL",
        )

    def vendor_failure(
        self, code: Any, note: str, *, status: int | None, response: str
    ) -> SendResult:
        limit = self.rate_limits.get(code) if isinstance(code, int) else None
        if limit and limit.only_if_message_has.lower() not in note.lower():
            limit = None
        if limit is not None:
            return SendResult(
                ok=False,
                status=status,
                response=response,
                retryable=True,
                error=f"rate limited ({code} {note}): {limit.note}",
                retry_after=limit.wait,
            )
        return SendResult(
            ok=False,
            status=status,
            response=response,
            # A vendor error code with a 5xx status is the vendor's own trouble.
            retryable=status is not None and status >= 500,
            error=f"{self.label} refused the message: {code} {note}".strip(),
        )
