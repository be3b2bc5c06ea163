"""Links: insecure ``http://`` links, and dead links on the hosts a school allows.

Finding links and flagging ``http://`` is offline. The dead-link check goes to the network,
and only for hosts in ``config.link_hosts`` (the school's own sites): a draft's links to
anything else are never fetched, so a draft cannot make the server probe arbitrary hosts.
Every request goes through ``yuqing.lib.http.HttpClient`` (timeouts, size limit, address
guard) with redirects NOT followed: a redirect answers "alive" and could lead to a host that
is not allowed. HEAD first; servers that refuse HEAD get a GET, whose body is cut short.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from yuqing.lib.http import ErrorKind, HttpClient, HttpResult

from .config import ProofreadConfig
from .types import Finding

__all__ = ["check", "check_network", "find_links", "host_allowed"]

# ASCII URL characters only: a link written in Chinese prose ends at the first CJK character
# or full-width punctuation mark (见https://a.cn/x。 → https://a.cn/x).
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.I)
_TRAILING = ".,;:!?'\""
_PROBE_BYTES = 64 * 1024
_PARALLEL = 8
_GONE = frozenset({404, 410})


def find_links(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of every http(s) link, trailing punctuation left out."""
    links = []
    for m in _URL.finditer(text):
        url = m.group(0)
        while url and (
            url[-1] in _TRAILING or (url[-1] == ")" and url.count("(") < url.count(")"))
        ):
            url = url[:-1]
        if urlsplit(url).hostname:
            links.append((m.start(), m.start() + len(url), url))
    return links


def host_allowed(url: str, hosts: Iterable[str]) -> bool:
    """Whether ``url``'s host is one of ``hosts`` or a subdomain of one."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return False
    for entry in hosts:
        entry = entry.strip().lower().strip("[]").rstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


def check(text: str, config: ProofreadConfig) -> list[Finding]:
    """The offline part: insecure links."""
    findings = []
    for start, end, url in find_links(text):
        if url[:7].lower() == "http://":
            findings.append(
                Finding(
                    kind="link.insecure",
                    severity="warn",
                    start=start,
                    end=end,
                    text=url,
                    suggestion="https://" + url[7:],
                    message="链接未使用 HTTPS，请确认对方网站支持后改为 https://",
                )
            )
    return findings


async def _probe(client: HttpClient, url: str) -> HttpResult:
    head = await client.request("HEAD", url, follow_redirects=False)
    if head.status is not None and head.status < 400:
        return head
    if head.error in (ErrorKind.DNS, ErrorKind.CONNECT, ErrorKind.TLS, ErrorKind.BLOCKED_ADDRESS):
        return head  # a GET would meet the same wall
    return await client.request("GET", url, follow_redirects=False, max_bytes=_PROBE_BYTES)


def _verdict(url: str, result: HttpResult) -> tuple[str, str, str] | None:
    """(kind, severity, message) for a link that is not alive, None for a live one."""
    if result.status is not None and result.status < 400:
        return None  # alive (a body over the probe limit is still an answer)
    if result.status in _GONE:
        return "link.dead", "block", f"链接已失效（HTTP {result.status}）"
    if result.status is not None:
        return "link.dead", "warn", f"链接返回错误（HTTP {result.status}），请核实"
    why = result.error_message or (result.error.value if result.error else "no answer")
    return "link.unreachable", "warn", f"链接无法访问：{why}"


async def check_network(
    text: str, config: ProofreadConfig, *, client: HttpClient | None = None
) -> list[Finding]:
    """Dead links among those on ``config.link_hosts``; other hosts are never contacted."""
    links = [link for link in find_links(text) if host_allowed(link[2], config.link_hosts)]
    if not links:
        return []
    own = client is None
    private = config.link_hosts if config.private_hosts is None else config.private_hosts
    http = client or HttpClient(
        allow_hosts=private,
        total_timeout=config.link_timeout,
        connect_timeout=min(config.link_timeout, 10.0),
    )
    gate = asyncio.Semaphore(_PARALLEL)

    async def probe(url: str) -> tuple[str, HttpResult]:
        async with gate:
            return url, await _probe(http, url)

    try:
        results = dict(await asyncio.gather(*(probe(url) for url in {u for _, _, u in links})))
    finally:
        if own:
            await http.close()
    findings = []
    for start, end, url in links:
        verdict = _verdict(url, results[url])
        if verdict is not None:
            kind, severity, message = verdict
            findings.append(
                Finding(kind, severity, start, end, url, "修正或删除该链接", message)  # type: ignore[arg-type]
            )
    return findings
