"""The one HTTP client of the project: collectors, alert webhooks and link checks use it.

Everything fetched is untrusted, so every request is bounded: connect and total timeouts, a
size limit that also counts decompressed bytes (a gzip bomb stops at the limit), a redirect
limit with every hop checked, and a guard that refuses private, loopback, link-local and other
non-public addresses unless the host was explicitly allowed. The guard checks the address a
connection is actually made to (inside the resolver), so DNS rebinding and redirects to an
internal address are refused before any connection is opened.

Failures never raise: they come back as an ``HttpResult`` whose ``error`` says what kind of
failure it was, so callers record it on the source and back off.
"""

from __future__ import annotations

import asyncio
import codecs
import email.utils
import ipaddress
import re
import socket
import ssl
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

DEFAULT_USER_AGENT = "YuqingBot/0.1 (school online-affairs monitor)"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


class ErrorKind(StrEnum):
    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    TIMEOUT = "timeout"
    HTTP_STATUS = "http_status"
    TOO_LARGE = "too_large"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BLOCKED_ADDRESS = "blocked_address"
    INVALID_URL = "invalid_url"
    PARSE = "parse"
    ENCODING = "encoding"


class FetchError(Exception):
    """Internal: a classified failure, turned into an ``HttpResult`` at the edge."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class BlockedAddressError(FetchError):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.BLOCKED_ADDRESS, message)


# --------------------------------------------------------------------------- address guard

_IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_NET = ipaddress.IPv4Network | ipaddress.IPv6Network


def blocked_reason(address: str | _IP) -> str | None:
    """Why ``address`` is not a public unicast address, or None when it is."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        # Embedded IPv4 forms reach the IPv4 host they carry: judge that one.
        if ip.ipv4_mapped is not None:
            inner = blocked_reason(ip.ipv4_mapped)
            return f"IPv4-mapped {inner}" if inner else "IPv4-mapped address"
        if ip.sixtofour is not None and blocked_reason(ip.sixtofour):
            return "6to4 address of a non-public host"
        if ip in ipaddress.ip_network("64:ff9b::/96"):
            inner_ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            if blocked_reason(inner_ip):
                return "NAT64 address of a non-public host"
    for name in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{name}"):
            return f"{name.replace('_', '-')} address"
    if not ip.is_global:  # shared address space 100.64/10, documentation ranges, ...
        return "non-global address"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which non-public destinations may be reached.

    ``allow_hosts`` holds host names or IP literals compared with the URL's host (so
    ``localhost`` must be listed by name to be reached) and CIDR networks compared with the
    resolved address. Matching by URL host rather than by resolved address means an outside
    name that resolves to 127.0.0.1 is still refused when only ``127.0.0.1`` is allowed.
    """

    allow_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[_NET, ...] = ()

    @classmethod
    def from_hosts(cls, entries: Iterable[str] = ()) -> AddressPolicy:
        hosts: set[str] = set()
        nets: list[_NET] = []
        for raw in entries:
            entry = raw.strip().lower().strip("[]")
            if not entry:
                continue
            if "/" in entry:
                nets.append(ipaddress.ip_network(entry, strict=False))
            else:
                hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(nets))

    def host_allowed(self, host: str) -> bool:
        return host.lower().strip("[]").rstrip(".") in self.allow_hosts

    def check(self, host: str, address: str) -> None:
        """Raise ``BlockedAddressError`` unless connecting to ``address`` for ``host`` is fine."""
        if self.host_allowed(host):
            return
        reason = blocked_reason(address)
        if reason is None:
            return
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise BlockedAddressError(f"{host} resolved to {address!r}") from None
        if any(ip in net for net in self.allow_networks):
            return
        shown = host if host == address else f"{host} ({address})"
        raise BlockedAddressError(f"refused to connect to {shown}: {reason}")


class GuardedResolver(AbstractResolver):
    """Resolve with ``inner`` and drop every address the policy refuses.

    aiohttp calls the resolver right before it connects, for every new connection, so this is
    the check on the address actually used; IP-literal hosts skip resolvers in aiohttp and
    are checked by the client before the request.
    """

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        kept: list[ResolveResult] = []
        refusal: BlockedAddressError | None = None
        for entry in results:
            try:
                self.policy.check(host, entry["host"])
            except BlockedAddressError as exc:
                refusal = exc
                continue
            kept.append(entry)
        if not kept:
            raise refusal or BlockedAddressError(f"{host} did not resolve")
        return kept

    async def close(self) -> None:
        await self.inner.close()


class StaticResolver(AbstractResolver):
    """A fixed name → addresses table: for tests and the loopback benchmark, never for DNS."""

    def __init__(self, table: Mapping[str, Iterable[str]]) -> None:
        self.table = {name.lower(): list(addrs) for name, addrs in table.items()}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addrs = self.table.get(host.lower())
        if not addrs:
            raise OSError(socket.EAI_NONAME, f"{host} not in the static table")
        return [
            ResolveResult(
                hostname=host,
                host=addr,
                port=port,
                family=socket.AF_INET6 if ":" in addr else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for addr in addrs
        ]

    async def close(self) -> None:
        return None


# --------------------------------------------------------------------------- decoding text

# WHATWG-style aliases: gb2312 and gbk labels are decoded as their superset gb18030 (pages
# labelled gb2312 routinely contain GBK/GB18030 characters); big5 pages carry HKSCS
# characters; latin-1 labels mean windows-1252 in practice.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "hz-gb-2312": "gb18030",
    "big5": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "cp950": "big5hkscs",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "windows-1252": "cp1252",
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}
# A server that says "latin-1" usually says nothing at all (a framework default): a meta
# declaration or detection is preferred over it.
_WEAK_CHARSETS = frozenset({"cp1252"})
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})""", re.I
)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9_.:-]{2,40})["']""")
_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def normalise_charset(label: str | None) -> str | None:
    """Map a declared charset label to a Python codec name, or None when unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return _CHARSET_ALIASES.get(codec, codec)


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CHARSET_PARAM.search(content_type)
    return match.group(1) if match else None


def sniff_markup_charset(body: bytes) -> str | None:
    """The charset declared inside an HTML meta tag or XML declaration (first 4 KiB)."""
    head = body[:4096]
    match = _XML_DECL.search(head) or _META_CHARSET.search(head)
    return match.group(1).decode("ascii", "replace") if match else None


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str
    how: str  # bom, declared, markup, utf-8, detected, fallback
    lossy: bool = False


def _strict(body: bytes, codec: str | None) -> str | None:
    if not codec:
        return None
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _detect(body: bytes) -> str | None:
    # Imported here: charset-normalizer's first import costs ~50 ms, and most bodies are UTF-8.
    from charset_normalizer import from_bytes

    best = from_bytes(body[:200_000]).best()
    return normalise_charset(best.encoding) if best is not None else None


def decode_body(body: bytes, content_type: str | None = None) -> DecodedText:
    """Decode ``body``: BOM, declared charset, markup declaration, UTF-8, detection, fallback.

    A declaration is only trusted when the bytes decode under it strictly, because Chinese
    sites often declare UTF-8 for GBK pages or the reverse.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            text = _strict(body[len(bom) :], codec)
            if text is not None:
                return DecodedText(text, codec, "bom")
    declared = normalise_charset(charset_from_content_type(content_type))
    markup = normalise_charset(sniff_markup_charset(body))
    candidates: list[tuple[str | None, str]] = []
    if declared and declared not in _WEAK_CHARSETS:
        candidates.append((declared, "declared"))
    candidates += [(markup, "markup"), ("utf-8", "utf-8")]
    for candidate, how in candidates:
        decoded_text = _strict(body, candidate)
        if decoded_text is not None and candidate is not None:
            return DecodedText(decoded_text, candidate, how)
    detected = _detect(body)
    # Detection on short Chinese text sometimes picks a single-byte codepage; a strict
    # gb18030 decode is a better bet for this project's sources.
    if detected in (None, "cp1252") or (detected or "").startswith(("cp125", "mac", "iso8859")):
        text = _strict(body, "gb18030")
        if text is not None and _cjk_share(text) > 0.2:
            return DecodedText(text, "gb18030", "detected")
    text = _strict(body, detected)
    if text is not None and detected is not None:
        return DecodedText(text, detected, "detected")
    if declared:
        text = _strict(body, declared)
        if text is not None:
            return DecodedText(text, declared, "declared")
    codec = declared or markup or detected or "utf-8"
    return DecodedText(body.decode(codec, errors="replace"), codec, "fallback", lossy=True)


def _cjk_share(text: str) -> float:
    sample = text[:5000]
    letters = [ch for ch in sample if not ch.isspace() and not ch.isascii()]
    if not sample.strip():
        return 0.0
    cjk = sum(1 for ch in letters if "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f")
    non_ascii = len(letters)
    return cjk / non_ascii if non_ascii else 0.0


# --------------------------------------------------------------------------- result


@dataclass
class HttpResult:
    """What a fetch gave: a response, or a classified error (never an exception)."""

    url: str
    final_url: str = ""
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    elapsed: float = 0.0
    error: ErrorKind | None = None
    error_message: str = ""
    not_modified: bool = False
    retry_after: float | None = None
    max_age: int | None = None
    redirects: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def decoded(self) -> DecodedText:
        return decode_body(self.body, self.content_type)

    def text(self) -> str:
        return self.decoded().text


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


def parse_max_age(cache_control: str | None) -> int | None:
    """max-age from Cache-Control; no-store / no-cache count as 0."""
    if not cache_control:
        return None
    result: int | None = None
    for directive in cache_control.lower().split(","):
        name, _, raw = directive.strip().partition("=")
        if name in ("no-store", "no-cache"):
            return 0
        if name == "max-age":
            try:
                result = max(0, int(raw.strip().strip('"')))
            except ValueError:
                continue
    return result


def _plain_headers(headers: Any) -> dict[str, str]:
    plain: dict[str, str] = {}
    for key, value in headers.items():
        name = key.lower()
        plain[name] = f"{plain[name]}, {value}" if name in plain else value
    return plain


# --------------------------------------------------------------------------- body reading


class _Inflater:
    """Incremental gzip/deflate decoder whose output is capped per call (bomb-safe)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._obj: Any = None

    def _new(self, first: bytes) -> Any:
        if self.encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" is zlib-wrapped by the RFC, raw deflate by some servers: look at the header.
        zlib_header = (
            len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
        )
        return zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)

    def feed(self, data: bytes, budget: int) -> Iterable[bytes]:
        """Yield decompressed pieces, each at most ``budget + 1`` bytes."""
        while data:
            if self._obj is None:
                self._obj = self._new(data)
            out = self._obj.decompress(data, budget + 1)
            if out:
                yield out
            if self._obj.eof:
                # Concatenated gzip members: start a new member with what is left.
                data = self._obj.unused_data
                self._obj = None if data else self._obj
            else:
                data = self._obj.unconsumed_tail


async def _read_limited(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise FetchError(ErrorKind.ENCODING, f"unsupported content-encoding {encoding!r}")
    inflater = _Inflater(encoding) if encoding in ("gzip", "x-gzip", "deflate") else None
    declared = resp.content_length
    if declared is not None and declared > max_bytes:
        raise FetchError(
            ErrorKind.TOO_LARGE, f"Content-Length {declared} exceeds {max_bytes} bytes"
        )
    body = bytearray()
    wire = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        wire += len(chunk)
        if wire > max_bytes:
            raise FetchError(ErrorKind.TOO_LARGE, f"body exceeds {max_bytes} bytes")
        if inflater is None:
            body += chunk
        else:
            try:
                for piece in inflater.feed(chunk, max_bytes - len(body)):
                    body += piece
                    if len(body) > max_bytes:
                        break
            except zlib.error as exc:
                raise FetchError(ErrorKind.ENCODING, f"corrupt {encoding} body: {exc}") from exc
        if len(body) > max_bytes:
            raise FetchError(ErrorKind.TOO_LARGE, f"decoded body exceeds {max_bytes} bytes")
    return bytes(body)


# --------------------------------------------------------------------------- client


def _classify(exc: BaseException) -> tuple[ErrorKind, str]:
    seen: BaseException | None = exc
    while seen is not None:  # aiohttp may wrap the resolver's refusal
        if isinstance(seen, FetchError):
            return seen.kind, seen.message
        seen = seen.__cause__ or seen.__context__
        if seen is exc:
            break
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return ErrorKind.DNS, message
    if isinstance(
        exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError | ssl.SSLError
    ):
        return ErrorKind.TLS, message
    if isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return ErrorKind.TIMEOUT, message if str(exc) else "timed out"
    if isinstance(exc, aiohttp.InvalidURL):
        return ErrorKind.INVALID_URL, message
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ServerDisconnectedError):
        return ErrorKind.CONNECT, message
    if isinstance(exc, aiohttp.ClientPayloadError):
        return ErrorKind.CONNECT, f"body cut short: {message}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return ErrorKind.PARSE, f"malformed HTTP response: {message}"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return ErrorKind.CONNECT, message
    return ErrorKind.PARSE, f"{type(exc).__name__}: {message}"


class HttpClient:
    """An aiohttp session with the project's limits; use one per worker and share it.

    ``resolver`` replaces the system resolver (tests, benchmarks); the address guard wraps
    whatever resolver is used.
    """

    def __init__(
        self,
        *,
        allow_hosts: Iterable[str] = (),
        connect_timeout: float = 10.0,
        total_timeout: float = 30.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = 5,
        user_agent: str = DEFAULT_USER_AGENT,
        max_connections: int = 100,
        resolver: AbstractResolver | None = None,
        verify_tls: bool = True,
    ) -> None:
        self.policy = AddressPolicy.from_hosts(allow_hosts)
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self.max_connections = max_connections
        self.verify_tls = verify_tls
        self._inner_resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        # Created lazily: an aiohttp session must be made inside the running event loop.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self.policy, self._inner_resolver),
                limit=self.max_connections,
                ssl=self.verify_tls,
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # We decompress ourselves so the size limit applies to decoded bytes.
                auto_decompress=False,
                # Environment proxies would bypass the address guard.
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _check_url(self, url: URL) -> None:
        if url.scheme not in ("http", "https") or not url.host:
            raise FetchError(ErrorKind.INVALID_URL, f"not an http(s) URL: {url}")
        host = url.host
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return  # a name: the guarded resolver checks what it resolves to
        # aiohttp does not call the resolver for IP literals, so they are checked here.
        self.policy.check(host, host.strip("[]"))

    async def get(self, url: str, **kwargs: Any) -> HttpResult:
        return await self.request("GET", url, **kwargs)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | str | None = None,
        json: Any = None,
        etag: str | None = None,
        last_modified: str | None = None,
        max_bytes: int | None = None,
        total_timeout: float | None = None,
        follow_redirects: bool = True,
    ) -> HttpResult:
        """Send one request, following redirects by hand; never raises for network trouble."""
        started = time.monotonic()
        result = HttpResult(url=url, final_url=url)
        limit = max_bytes or self.max_bytes
        try:
            async with asyncio.timeout(total_timeout or self.total_timeout):
                await self._exchange(
                    result,
                    method.upper(),
                    headers=dict(headers or {}),
                    data=data,
                    json=json,
                    etag=etag,
                    last_modified=last_modified,
                    limit=limit,
                    follow=follow_redirects,
                )
        except Exception as exc:  # classified below; a fetch must never kill the worker
            result.error, result.error_message = _classify(exc)
            if result.error is ErrorKind.TIMEOUT and not str(exc):
                result.error_message = (
                    f"no complete answer within {total_timeout or self.total_timeout:g} s"
                )
        result.elapsed = time.monotonic() - started
        return result

    async def _exchange(
        self,
        result: HttpResult,
        method: str,
        *,
        headers: dict[str, str],
        data: bytes | str | None,
        json: Any,
        etag: str | None,
        last_modified: str | None,
        limit: int,
        follow: bool,
    ) -> None:
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            current = URL(result.url, encoded=False)
        except (ValueError, TypeError) as exc:
            raise FetchError(ErrorKind.INVALID_URL, f"bad URL {result.url!r}: {exc}") from exc
        seen: set[str] = set()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout)
        while True:
            self._check_url(current)
            seen.add(str(current))
            async with self.session.request(
                method,
                current,
                headers=headers,
                data=data,
                json=json,
                allow_redirects=False,
                timeout=timeout,
            ) as resp:
                result.final_url = str(current)
                result.status = resp.status
                result.headers = _plain_headers(resp.headers)
                location = resp.headers.get("Location")
                if follow and resp.status in REDIRECT_STATUSES and location:
                    target = current.join(URL(location))
                    if len(result.redirects) >= self.max_redirects:
                        raise FetchError(
                            ErrorKind.TOO_MANY_REDIRECTS,
                            f"more than {self.max_redirects} redirects",
                        )
                    if str(target) in seen:
                        raise FetchError(ErrorKind.TOO_MANY_REDIRECTS, f"redirect loop at {target}")
                    result.redirects.append(str(target))
                    if target.host != current.host:
                        # Credentials are for the host they were given to.
                        headers.pop("Authorization", None)
                        headers.pop("Cookie", None)
                    if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                        method, data, json = "GET", None, None
                    current = target
                    continue
                self._finish(result, resp)
                if resp.status != 304 and method != "HEAD":
                    result.body = await _read_limited(resp, limit)
                return

    @staticmethod
    def _finish(result: HttpResult, resp: aiohttp.ClientResponse) -> None:
        result.max_age = parse_max_age(resp.headers.get("Cache-Control"))
        if resp.status == 304:
            result.not_modified = True
            return
        if resp.status in (429, 503):
            result.retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        if resp.status >= 400:
            result.error = ErrorKind.HTTP_STATUS
            result.error_message = f"HTTP {resp.status} {resp.reason or ''}".strip()


async def fetch(url: str, **kwargs: Any) -> HttpResult:
    """One GET with a throw-away client; workers should share an ``HttpClient`` instead."""
    client_keys = {
        "allow_hosts",
        "connect_timeout",
        "total_timeout",
        "max_bytes",
        "max_redirects",
        "user_agent",
        "resolver",
        "verify_tls",
    }
    client_args = {k: kwargs.pop(k) for k in list(kwargs) if k in client_keys}
    async with HttpClient(**client_args) as client:
        return await client.get(url, **kwargs)


def fetch_sync(url: str, **kwargs: Any) -> HttpResult:
    """Blocking ``fetch`` for scripts and management commands (not inside an event loop)."""
    return asyncio.run(fetch(url, **kwargs))


def http_date(when: datetime) -> str:
    """Format ``when`` as an HTTP date (for If-Modified-Since and test servers)."""
    return email.utils.format_datetime(when.astimezone(UTC), usegmt=True)
