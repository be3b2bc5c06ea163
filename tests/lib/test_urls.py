"""Canonical URLs: one spelling per page, whatever the share button appended."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from yuqing.lib.urls import canonical_url, is_http_url, url_hash


def test_it_lowercases_scheme_and_host_and_drops_default_port() -> None:
    assert canonical_url("HTTP://News.Example.CN:80/A/B.html") == "http://news.example.cn/A/B.html"
    assert canonical_url("https://example.cn:443") == "https://example.cn/"
    assert canonical_url("https://example.cn:8443/x") == "https://example.cn:8443/x"


def test_it_drops_tracking_parameters_and_sorts_the_rest() -> None:
    url = "http://example.cn/a?utm_source=x&b=2&spm=1.2&a=1&from=timeline&share_token=t&fbclid=z&gclid=g"
    assert canonical_url(url) == "http://example.cn/a?a=1&b=2"


def test_it_drops_fragments_but_keeps_hashbang_routes() -> None:
    assert canonical_url("http://example.cn/a#comments") == "http://example.cn/a"
    assert canonical_url("http://example.cn/#!/news/12") == "http://example.cn/#!/news/12"


def test_it_keeps_the_identity_of_a_wechat_article() -> None:
    shared = (
        "https://mp.weixin.qq.com/s?__biz=MzA3MDM3NjE5NQ==&mid=2650&idx=1&sn=abc"
        "&chksm=84b1&scene=21&srcid=0305&sharer_sharetime=1&pass_ticket=secret&key=k#rd"
    )
    other_share = (
        "https://mp.weixin.qq.com/s?sn=abc&idx=1&mid=2650&__biz=MzA3MDM3NjE5NQ%3D%3D&scene=1"
    )
    assert canonical_url(shared) == canonical_url(other_share)
    assert "pass_ticket" not in canonical_url(shared)
    assert "__biz=MzA3MDM3NjE5NQ%3D%3D" in canonical_url(shared)
    assert (
        canonical_url("https://mp.weixin.qq.com/s/AbCdEf?scene=1")
        == "https://mp.weixin.qq.com/s/AbCdEf"
    )


def test_it_encodes_chinese_paths_and_normalises_escapes() -> None:
    assert canonical_url("http://example.cn/新闻/1") == canonical_url(
        "http://example.cn/%e6%96%b0%e9%97%bb/1"
    )
    assert canonical_url("http://example.cn/%7Euser") == "http://example.cn/~user"


def test_it_drops_credentials_and_handles_idn_hosts() -> None:
    assert canonical_url("http://user:pw@example.cn/x") == "http://example.cn/x"
    punycode = "育才中学.中国".encode("idna").decode("ascii")
    assert canonical_url("http://育才中学.中国/x") == f"http://{punycode}/x"
    assert punycode.startswith("xn--")


def test_it_leaves_non_http_input_alone() -> None:
    assert canonical_url(" javascript:alert(1) ") == "javascript:alert(1)"
    assert not is_http_url("javascript:alert(1)")
    assert not is_http_url("http://")
    assert not is_http_url("http://exa mple.cn/")
    assert not is_http_url("http://example.cn:99999/")
    assert is_http_url("https://[::1]:8080/x")


def test_it_hashes_equivalent_urls_equally() -> None:
    assert url_hash("http://Example.cn/a?b=1&a=2&utm_medium=x") == url_hash(
        "http://example.cn/a?a=2&b=1"
    )
    assert len(url_hash("http://example.cn/")) == 64


@given(st.text(max_size=60))
def test_it_is_idempotent_and_never_raises(path: str) -> None:
    url = canonical_url("http://example.cn/" + path)
    assert canonical_url(url) == url
