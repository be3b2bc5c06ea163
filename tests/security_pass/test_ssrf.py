"""SSRF: every way a user can make the server fetch a URL refuses private, loopback,
link-local and other internal addresses, however they are spelled, and after redirects.

The tests' own servers listen on 127.0.0.1, which the tests allow through the deployment's
allow-list (``FETCH_ALLOW_HOSTS``, an environment variable that only the operator sets). The
allowance matches the URL's host as written, so no other spelling of loopback and no name that
resolves to it gets through, and nothing a user can set (a source, a channel, a school's own
sites) adds to it. ``connect_tripwire`` stops any connection off loopback in case a guard fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from tests.monitor.collect.servers import LocalServer, connect_tripwire, serve
from yuqing.core.tenancy import school_scope
from yuqing.lib.http import ErrorKind, HttpClient, HttpResult, StaticResolver

INTERNAL_URLS = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv6-mapped loopback
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://0x7f000001/",  # hexadecimal loopback
    "http://0x7f.0.0.1/",
    "http://0xa9fea9fe/",  # 169.254.169.254 in hexadecimal
]
# Spellings that are no canonical address at all: refused as invalid before any lookup.
ODD_SPELLINGS = [
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://017700000001/",
]


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with serve() as srv:
        yield srv


def fetch(url: str, *, allow: set[str], resolver: Any = None) -> HttpResult:
    async def go() -> HttpResult:
        async with HttpClient(allow_hosts=allow, resolver=resolver, total_timeout=5) as client:
            return await client.get(url)

    return asyncio.run(go())


@pytest.mark.parametrize("url", INTERNAL_URLS + ODD_SPELLINGS)
def test_the_client_refuses_internal_addresses_even_with_loopback_allowed(
    url: str, server: LocalServer
) -> None:
    # The test allowance (127.0.0.1 by that spelling) must not open any other spelling.
    with connect_tripwire() as attempts:
        result = fetch(url.replace("/", "/", 3), allow={"127.0.0.1"})
        ported = url.rstrip("/").split("/", 3)
        with_port = f"{ported[0]}//{ported[2]}:{server.port}/"
        result_port = fetch(with_port, allow={"127.0.0.1"})
    for r in (result, result_port):
        assert r.error in (ErrorKind.BLOCKED_ADDRESS, ErrorKind.INVALID_URL), (url, r)
        assert r.error_message  # says why
    assert attempts == [] and server.hits == []


def test_loopback_by_another_name_is_refused_when_only_127_0_0_1_is_allowed(
    server: LocalServer,
) -> None:
    resolver = StaticResolver({"localhost": ["127.0.0.1"], "evil.example": ["127.0.0.1"]})
    for host in ("localhost", "evil.example"):
        result = fetch(f"http://{host}:{server.port}/", allow={"127.0.0.1"}, resolver=resolver)
        assert result.error is ErrorKind.BLOCKED_ADDRESS
        assert "loopback" in result.error_message
    # Unicode digits and full stops normalise to 127.0.0.1: that *is* the allowed host, so
    # with the allowance it is reached, and without it refused like any loopback address.
    for spelled in ("①②⑦.0.0.1", "127。0。0。1"):
        refused = fetch(f"http://{spelled}:{server.port}/", allow=set())
        assert refused.error is ErrorKind.BLOCKED_ADDRESS, spelled
    assert server.hits == []


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("rebind.example", "10.0.0.7"),
        ("rebind.example", "169.254.169.254"),
        ("rebind.example", "127.0.0.2"),
        ("rebind.example", "::ffff:127.0.0.1"),
    ],
)
def test_dns_rebinding_through_a_redirect_is_refused(
    server: LocalServer, name: str, address: str
) -> None:
    # An allowed server (the attacker's page, here on 127.0.0.1) redirects to a name that
    # resolves to an internal address: the hop is checked at connection time and refused.
    @server.route("/go")
    async def go(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://{name}:{server.port}/secret")

    resolver = StaticResolver({name: [address]})
    with connect_tripwire() as attempts:
        result = fetch(server.url("/go"), allow={"127.0.0.1"}, resolver=resolver)
    assert result.error is ErrorKind.BLOCKED_ADDRESS
    assert address.split(":")[-1] in result.error_message or name in result.error_message
    assert attempts == []
    assert server.paths() == ["/go"]  # the secret was never asked for


@pytest.mark.parametrize("target", ["http://2130706433/", "http://[::ffff:7f00:1]:1/x"])
def test_a_redirect_to_an_odd_spelling_of_loopback_is_refused(
    server: LocalServer, target: str
) -> None:
    @server.route("/go")
    async def go(request: web.Request) -> web.Response:
        raise web.HTTPFound(target)

    with connect_tripwire() as attempts:
        result = fetch(server.url("/go"), allow={"127.0.0.1"})
    assert result.error in (ErrorKind.BLOCKED_ADDRESS, ErrorKind.INVALID_URL)
    assert attempts == [] and server.paths() == ["/go"]


# --- through the product ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:10.0.0.1]/feed"]
)
def test_a_source_aimed_inside_is_refused_and_recorded(
    school: Any, settings: Any, url: str
) -> None:
    from yuqing.monitor import setup_services
    from yuqing.monitor.models import FetchLog, Source
    from yuqing.monitor.poller import poll_due

    settings.FETCH_ALLOW_HOSTS = ["127.0.0.1"]  # as in every test: loopback for its servers
    with school_scope(school):
        source = setup_services.source_create(kind=Source.Kind.FEED, name="内网", url=url)
    with connect_tripwire() as attempts:
        report = poll_due()
    assert report.failed == 1 and attempts == []
    with school_scope(school):
        source.refresh_from_db()
        assert source.last_error_kind == "blocked_address"
        assert FetchLog.objects.get(source=source).error_kind == "blocked_address"


@pytest.mark.django_db
def test_a_source_cannot_be_a_file_or_other_scheme(school: Any) -> None:
    from django.core.exceptions import ValidationError

    from yuqing.monitor import setup_services
    from yuqing.monitor.models import Source

    with school_scope(school):
        for url in ("file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "ftp://10.0.0.1/"):
            with pytest.raises(ValidationError):
                setup_services.source_create(kind=Source.Kind.FEED, name="坏", url=url)


@pytest.mark.django_db
def test_a_webhook_channel_aimed_inside_is_refused_when_sent(
    school: Any, settings: Any, server: LocalServer
) -> None:
    from yuqing.alerts import delivery, services
    from yuqing.alerts.models import Delivery

    settings.FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    with school_scope(school):
        channels = [
            services.channel_save(
                name=f"hook{i}",
                kind="webhook",
                config={"url": url, "secret": "s" * 20},
                levels=[1, 2, 3, 4],
            )
            for i, url in enumerate(
                [
                    "http://169.254.169.254/latest/meta-data/",
                    f"http://localhost:{server.port}/hook",  # loopback by another name
                    f"http://[::ffff:127.0.0.1]:{server.port}/hook",
                ]
            )
        ]
        for channel in channels:
            services.channel_send_test(channel=channel)
    with connect_tripwire() as attempts:
        delivery.deliver_due()
    assert attempts == [] and server.hits == []
    with school_scope(school):
        for row in Delivery.objects.all():
            assert row.status != Delivery.Status.SENT
            assert "refused to connect" in row.last_error, row.last_error


@pytest.mark.django_db
def test_a_schools_own_sites_do_not_open_the_intranet_to_link_checks(
    school: Any, settings: Any, server: LocalServer
) -> None:
    # A school lists its "own sites"; the publication checks fetch links on them. Listing an
    # internal address there must not let the server reach it: only the operator's allow-list
    # does (this was an SSRF: the school's list was passed to the guard as its allow-list).
    from yuqing.publishing import checks, services

    @server.route("/secret")
    async def secret(request: web.Request) -> web.Response:
        return web.Response(text="internal")

    settings.FETCH_ALLOW_HOSTS = []
    with school_scope(school):
        services.settings_update(
            school_id=school.pk,
            forbidden_words=[],
            formulations=[],
            confusions=[],
            watch_hosts=["127.0.0.1", "169.254.169.254"],
            watch_minutes=30,
        )
        lists = services.lists_for(school.pk, check_links=True)
    text = f"详见 {server.url('/secret')} 和 http://169.254.169.254/latest/meta-data/ 。"
    with connect_tripwire() as attempts:
        found = checks.check_text(text, lists)
    assert attempts == [] and server.hits == []
    unreachable = [f for f in found if f.kind == "link.unreachable"]
    assert len(unreachable) == 2
    assert all("refused to connect" in f.message for f in unreachable)
    # The operator's allow-list still lets the check reach an intranet site.
    settings.FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    with connect_tripwire():
        found = checks.check_text(server.url("/secret"), lists)
    assert [f.kind for f in found if f.kind.startswith("link.")] in ([], ["link.insecure"])
    assert server.paths() == ["/secret"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),  # the server itself: its Redis, PostgreSQL, admin ports
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("169.254.169.254", True),  # the cloud host's metadata service
        ("0.0.0.0", True),
        ("10.20.0.5", False),  # the school's intranet: what "on the intranet" is for
        ("192.168.3.4", False),
        ("100.64.1.1", False),
    ],
)
def test_an_intranet_asset_never_reaches_the_server_itself(
    school: Any, settings: Any, address: str, refused: bool
) -> None:
    # A security officer may check the school's intranet servers ("on the intranet"), but
    # loopback and link-local are the Yuqing server and its host, not the school's: only the
    # operator's allow-list opens them (this was open to any intranet asset).
    from tests.security.conftest import make_asset
    from yuqing.security.guard import NotAuthorised, target_for

    settings.FETCH_ALLOW_HOSTS = []
    asset = make_asset(school, "http://oa.school.example/", allow_private=True)
    target = target_for(asset, static_names={"oa.school.example": [address]})
    if refused:
        with pytest.raises(NotAuthorised, match="not checked"):
            asyncio.run(target.resolve("oa.school.example"))
    else:
        assert asyncio.run(target.resolve("oa.school.example")) == [address]
    # An IP-literal asset is judged the same way.
    literal = make_asset(school, f"http://{_bracket(address)}/", allow_private=True)
    check = target_for(literal)
    if refused:
        with pytest.raises(NotAuthorised):
            check.check_address(address, address)
    else:
        check.check_address(address, address)


def _bracket(address: str) -> str:
    return f"[{address}]" if ":" in address else address
