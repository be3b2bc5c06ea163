"""Polite concurrent fetching: many hosts at once, each host gently.

Every host gets its own gate (at most ``per_host`` requests at once and at least ``spacing``
seconds between the starts of two requests), and all hosts share a global limit. A request
waits for its host's gate *before* taking a global slot, so a slow or rate-limited host only
delays its own requests, never the others'.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from yuqing.lib.http import HttpClient, HttpResult

# Added to a non-zero spacing: the first request to a host also opens the connection, so a
# later request over the kept-alive connection reaches the server a little sooner after its
# start. The margin keeps the gap the *server* sees at or above the configured spacing.
_JITTER_MARGIN = 0.01


@dataclass(frozen=True)
class HostPolicy:
    per_host: int = 2
    spacing: float = 0.5  # seconds between request starts to one host


@dataclass(frozen=True)
class FetchRequest:
    """One URL to fetch; ``key`` is the caller's handle (a source id) returned untouched."""

    url: str
    key: Any = None
    etag: str | None = None
    last_modified: str | None = None
    headers: Mapping[str, str] | None = None
    max_bytes: int | None = None
    timeout: float | None = None


@dataclass
class FetchResponse:
    request: FetchRequest
    result: HttpResult
    waited: float = 0.0  # seconds spent waiting for the host's turn (politeness), not fetching


@dataclass
class _HostGate:
    policy: HostPolicy
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0
    slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(max(1, self.policy.per_host))


def host_key(url: str) -> str:
    """Politeness is per host name (not per port): one server, one budget."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


class PoliteFetcher:
    """Fetch through one shared ``HttpClient`` with per-host and global limits.

    ``host_policies`` overrides the default for named hosts (e.g. the school's own site, or
    loopback in the benchmark).
    """

    def __init__(
        self,
        client: HttpClient,
        *,
        concurrency: int = 50,
        per_host: int = 2,
        spacing: float = 0.5,
        host_policies: Mapping[str, HostPolicy] | None = None,
    ) -> None:
        self.client = client
        self.default = HostPolicy(per_host=per_host, spacing=spacing)
        self.host_policies = {k.lower(): v for k, v in (host_policies or {}).items()}
        self._global = asyncio.Semaphore(max(1, concurrency))
        self._gates: dict[str, _HostGate] = {}

    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = _HostGate(self.host_policies.get(host, self.default))
            self._gates[host] = gate
        return gate

    async def fetch(self, request: FetchRequest) -> FetchResponse:
        gate = self._gate(host_key(request.url))
        queued = time.monotonic()
        async with gate.slots:
            # The lock serialises only the reservation of a start time, not the fetch itself.
            async with gate.lock:
                now = time.monotonic()
                start = max(now, gate.next_start)
                spacing = gate.policy.spacing
                gate.next_start = start + (spacing + _JITTER_MARGIN if spacing > 0 else 0.0)
            if start > now:
                await asyncio.sleep(start - now)
            waited = time.monotonic() - queued
            async with self._global:
                result = await self.client.get(
                    request.url,
                    headers=request.headers,
                    etag=request.etag,
                    last_modified=request.last_modified,
                    max_bytes=request.max_bytes,
                    total_timeout=request.timeout,
                )
        return FetchResponse(request, result, waited)

    async def fetch_many(self, requests: Iterable[FetchRequest]) -> AsyncIterator[FetchResponse]:
        """Yield responses as they complete (fastest first), one per request."""
        tasks = [asyncio.ensure_future(self.fetch(req)) for req in requests]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            # The consumer stopped early (or was cancelled): do not leave fetches running.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
