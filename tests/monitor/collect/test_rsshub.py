"""RSSHub routes and the picker's catalogue."""

from __future__ import annotations

import pytest

from yuqing.monitor.collect.rsshub import (
    CATALOGUE,
    RouteError,
    catalogue_by_platform,
    route_spec,
    rsshub_url,
)

KEYWORD = "%E8%82%B2%E6%89%8D%E4%B8%AD%E5%AD%A6"  # 育才中学


def test_it_percent_encodes_chinese_route_segments() -> None:
    assert (
        rsshub_url("http://rsshub.local:1200", "/weibo/keyword/育才中学")
        == f"http://rsshub.local:1200/weibo/keyword/{KEYWORD}"
    )


def test_it_does_not_encode_twice_and_keeps_the_base_path() -> None:
    url = rsshub_url("https://intranet.example.cn/rsshub/", f"weibo/keyword/{KEYWORD}")
    assert url == f"https://intranet.example.cn/rsshub/weibo/keyword/{KEYWORD}"


def test_it_adds_query_parameters_and_the_access_key() -> None:
    url = rsshub_url(
        "http://r.local",
        "/weibo/keyword/育才中学?limit=10",
        query={"filter": "食堂|宿舍"},
        access_key="k 1",
    )
    assert (
        url
        == f"http://r.local/weibo/keyword/{KEYWORD}?limit=10&filter=%E9%A3%9F%E5%A0%82%7C%E5%AE%BF%E8%88%8D&key=k%201"
    )


def test_it_keeps_route_params_segments_readable() -> None:
    route = route_spec("tieba.search").build(qw="育才", routeParams="kw=育才中学&only_thread=1")
    url = rsshub_url("http://r.local", route)
    assert url.endswith(
        "/baidu/tieba/search/%E8%82%B2%E6%89%8D/kw=%E8%82%B2%E6%89%8D%E4%B8%AD%E5%AD%A6&only_thread=1"
    )


def test_it_encodes_slashes_inside_a_parameter() -> None:
    assert route_spec("weibo.keyword").build(keyword="A/B") == "/weibo/keyword/A%2FB"
    assert rsshub_url("http://r.local", route_spec("weibo.keyword").build(keyword="A/B")).endswith(
        "/weibo/keyword/A%2FB"
    )


@pytest.mark.parametrize(
    "base,route",
    [
        ("ftp://r.local", "/a"),
        ("http://r.local", ""),
        ("http://r.local", "https://evil/x"),
        ("http://r.local", "/a/../admin"),
    ],
)
def test_it_refuses_bad_bases_and_routes(base: str, route: str) -> None:
    with pytest.raises(RouteError):
        rsshub_url(base, route)


def test_it_checks_route_parameters() -> None:
    spec = route_spec("wechat.homepage")
    assert spec.build(biz="MzA3MDM3NjE5NQ==", hid="16") == "/wechat/mp/homepage/MzA3MDM3NjE5NQ==/16"
    with pytest.raises(RouteError):
        spec.build(biz="x")
    with pytest.raises(RouteError):
        spec.build(biz="x", hid="1", nope="2")
    with pytest.raises(RouteError):
        route_spec("no.such.route")


def test_the_catalogue_covers_the_platforms_the_office_watches() -> None:
    platforms = set(catalogue_by_platform())
    assert {"微博", "微信公众号", "知乎", "百度贴吧", "哔哩哔哩", "抖音"} <= platforms
    assert any("news" in spec.tags for spec in CATALOGUE)
    assert len({spec.key for spec in CATALOGUE}) == len(CATALOGUE)
    for spec in CATALOGUE:
        required = {p.name: p.example or "x" for p in spec.params if p.required}
        assert spec.build(**required).startswith("/"), spec.key
