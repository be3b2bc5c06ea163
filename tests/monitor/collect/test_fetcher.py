"""PoliteFetcher: each host gently, all hosts at once."""

from __future__ import annotations

import asyncio
import itertools
import time

from aiohttp import web

from tests.monitor.collect.servers import connect_tripwire, serve
from yuqing.lib.http import HttpClient, StaticResolver
from yuqing.monitor.collect.fetcher import (
    FetchRequest,
    FetchResponse,
    HostPolicy,
    PoliteFetcher,
    host_key,
)


def run_many(requests: list[FetchRequest], **fetcher_args: object) -> list[FetchResponse]:
    resolver = fetcher_args.pop("resolver", None)
    allow = fetcher_args.pop("allow", {"127.0.0.1"})

    async def go() -> list[FetchResponse]:
        async with HttpClient(allow_hosts=allow, resolver=resolver, total_timeout=10) as client:  # type: ignore[arg-type]
            fetcher = PoliteFetcher(client, **fetcher_args)  # type: ignore[arg-type]
            return [r async for r in fetcher.fetch_many(requests)]

    with connect_tripwire():
        return asyncio.run(go())


def test_it_spaces_requests_to_one_host_as_seen_by_the_server() -> None:
    with serve() as server:

        @server.route("/p/*")
        async def page(request: web.Request) -> web.Response:
            return web.Response(text="ok")

        responses = run_many(
            [FetchRequest(server.url(f"/p/{i}")) for i in range(6)], per_host=2, spacing=0.3
        )
        assert all(r.result.ok for r in responses)
        arrivals = sorted(hit.at for hit in server.hits)
        gaps = [b - a for a, b in itertools.pairwise(arrivals)]
        assert len(gaps) == 5
        # The server timestamps arrivals after its own event-loop scheduling, which jitters by
        # a few milliseconds on a loaded machine; the span of all five gaps cannot be jittered
        # into compliance, so it is held to the full spacing.
        assert min(gaps) >= 0.3 - 0.03, gaps
        assert arrivals[-1] - arrivals[0] >= 5 * 0.3 - 0.01, gaps


def test_a_slow_host_does_not_delay_the_others() -> None:
    with serve() as server:

        @server.route("/slow/*")
        async def slow(request: web.Request) -> web.Response:
            await asyncio.sleep(1.0)
            return web.Response(text="slow")

        @server.route("/fast/*")
        async def fast(request: web.Request) -> web.Response:
            return web.Response(text="fast")

        # Two names for the same loopback server: two "hosts" as far as politeness goes.
        resolver = StaticResolver({"slow.test": ["127.0.0.1"], "fast.test": ["127.0.0.1"]})
        requests = [
            FetchRequest(f"http://slow.test:{server.port}/slow/{i}", key="slow") for i in range(3)
        ]
        requests += [
            FetchRequest(f"http://fast.test:{server.port}/fast/{i}", key="fast") for i in range(4)
        ]
        started = time.monotonic()
        order: list[tuple[str, float]] = []

        async def go() -> None:
            async with HttpClient(
                allow_hosts={"slow.test", "fast.test"}, resolver=resolver
            ) as client:
                fetcher = PoliteFetcher(client, concurrency=4, per_host=1, spacing=0.05)
                async for response in fetcher.fetch_many(requests):
                    assert response.result.ok
                    order.append((response.request.key, time.monotonic() - started))

        asyncio.run(go())
        fast_done = [t for key, t in order if key == "fast"]
        assert len(fast_done) == 4
        assert max(fast_done) < 0.8  # the slow host needs 3 × 1 s; the fast one is not held


def test_it_applies_host_policies_and_global_limits() -> None:
    with serve() as server:
        in_flight = 0
        peak = 0

        @server.route("/busy/*")
        async def busy(request: web.Request) -> web.Response:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.1)
            in_flight -= 1
            return web.Response(text="ok")

        requests = [FetchRequest(server.url(f"/busy/{i}")) for i in range(12)]
        started = time.monotonic()
        responses = run_many(
            requests, concurrency=3, host_policies={"127.0.0.1": HostPolicy(per_host=10, spacing=0)}
        )
        assert len(responses) == 12 and all(r.result.ok for r in responses)
        assert peak == 3
        assert time.monotonic() - started < 2


def test_it_passes_conditional_headers_and_returns_keys() -> None:
    with serve() as server:

        @server.route("/feed")
        async def feed(request: web.Request) -> web.Response:
            if request.headers.get("If-None-Match") == '"e1"':
                return web.Response(status=304)
            return web.Response(text="new", headers={"ETag": '"e1"'})

        responses = run_many(
            [
                FetchRequest(server.url("/feed"), key=1, etag='"e1"'),
                FetchRequest(server.url("/feed"), key=2),
            ],
            spacing=0,
        )
        by_key = {r.request.key: r.result for r in responses}
        assert by_key[1].not_modified
        assert by_key[2].ok and by_key[2].etag == '"e1"'


def test_host_keys_ignore_ports_and_case() -> None:
    assert host_key("http://News.Example.cn:8080/a") == "news.example.cn"
    assert host_key("not a url") == ""
