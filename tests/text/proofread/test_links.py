"""Links: insecure ones offline; dead ones against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiohttp import web

from tests.monitor.collect.servers import LocalServer, connect_tripwire, serve
from yuqing.text.proofread import ProofreadConfig, proofread, proofread_async
from yuqing.text.proofread.links import find_links, host_allowed

LINKS_ONLY = ProofreadConfig(checks=frozenset({"links"}))


@pytest.fixture
def site() -> Iterator[LocalServer]:
    with serve() as server:

        @server.route("/live")
        async def live(request: web.Request) -> web.Response:
            return web.Response(text="ok")

        @server.route("/no-head")
        async def no_head(request: web.Request) -> web.Response:
            if request.method == "HEAD":
                return web.Response(status=405)
            return web.Response(text="ok")

        @server.route("/broken")
        async def broken(request: web.Request) -> web.Response:
            return web.Response(status=500)

        @server.route("/moved")
        async def moved(request: web.Request) -> web.Response:
            raise web.HTTPFound(request.query["to"])

        @server.route("/hang")
        async def hang(request: web.Request) -> web.Response:
            await asyncio.sleep(30)
            return web.Response(text="late")

        yield server


@pytest.fixture
def elsewhere() -> Iterator[LocalServer]:
    with serve() as server:
        yield server


def checking(*hosts: str, timeout: float = 5.0) -> ProofreadConfig:
    return LINKS_ONLY.replace(link_hosts=hosts, check_links=True, link_timeout=timeout)


def network_findings(text: str, config: ProofreadConfig) -> list[tuple[str, str, str]]:
    with connect_tripwire():
        findings = proofread(text, config=config)
    return [(f.kind, f.severity, f.text) for f in findings if f.kind != "link.insecure"]


def test_it_finds_links_without_trailing_punctuation() -> None:
    text = "详见https://edu.example.cn/a?b=1。另见 (https://x.cn/p)."
    assert [url for _, _, url in find_links(text)] == [
        "https://edu.example.cn/a?b=1",
        "https://x.cn/p",
    ]
    start, end, url = find_links(text)[0]
    assert text[start:end] == url


def test_it_warns_about_insecure_links_offline() -> None:
    [finding] = proofread("详见 http://www.example.cn/a.html。", config=LINKS_ONLY)
    assert (finding.kind, finding.severity) == ("link.insecure", "warn")
    assert finding.suggestion == "https://www.example.cn/a.html"
    assert proofread("详见 https://www.example.cn/a.html", config=LINKS_ONLY) == []


def test_it_matches_allowed_hosts_and_their_subdomains_only() -> None:
    assert host_allowed("https://www.school.cn/x", ["school.cn"])
    assert host_allowed("https://school.cn/x", ["school.cn"])
    assert not host_allowed("https://evilschool.cn/x", ["school.cn"])
    assert not host_allowed("https://school.cn.evil.com/x", ["school.cn"])


def test_it_flags_a_dead_link_and_not_a_live_one(site: LocalServer) -> None:
    text = f"通知见 {site.url('/live')} 和 {site.url('/gone')} 。"
    assert network_findings(text, checking("127.0.0.1")) == [
        ("link.dead", "block", site.url("/gone"))
    ]


def test_it_falls_back_to_get_when_head_is_refused(site: LocalServer) -> None:
    assert network_findings(site.url("/no-head"), checking("127.0.0.1")) == []
    assert [(h.path) for h in site.hits] == ["/no-head", "/no-head"]


def test_it_warns_about_a_server_error(site: LocalServer) -> None:
    assert network_findings(site.url("/broken"), checking("127.0.0.1")) == [
        ("link.dead", "warn", site.url("/broken"))
    ]


def test_it_warns_about_a_link_that_does_not_answer(site: LocalServer) -> None:
    [(kind, severity, _)] = network_findings(site.url("/hang"), checking("127.0.0.1", timeout=0.5))
    assert (kind, severity) == ("link.unreachable", "warn")


def test_it_never_contacts_a_host_that_is_not_allowed(
    site: LocalServer, elsewhere: LocalServer
) -> None:
    other = f"http://localhost:{elsewhere.port}/gone"
    text = f"{other} {site.url('/live')}"
    assert network_findings(text, checking("127.0.0.1")) == []
    assert elsewhere.hits == []
    assert site.paths() == ["/live"]


def test_it_does_not_follow_a_redirect_to_another_host(
    site: LocalServer, elsewhere: LocalServer
) -> None:
    url = site.url(f"/moved?to=http://localhost:{elsewhere.port}/x")
    assert network_findings(url, checking("127.0.0.1")) == []
    assert elsewhere.hits == []


def test_it_checks_nothing_on_the_network_unless_asked(site: LocalServer) -> None:
    config = LINKS_ONLY.replace(link_hosts=("127.0.0.1",))
    assert network_findings(site.url("/gone"), config) == []
    assert site.hits == []


def test_it_checks_links_from_async_code_and_from_a_running_loop(site: LocalServer) -> None:
    config = checking("127.0.0.1")

    async def go() -> tuple[list[str], list[str]]:
        awaited = await proofread_async(site.url("/gone"), config=config)
        blocking_call = proofread(site.url("/gone"), config=config)  # inside a running loop
        return [f.kind for f in awaited], [f.kind for f in blocking_call]

    with connect_tripwire():
        awaited, called = asyncio.run(go())
    assert "link.dead" in awaited and "link.dead" in called
