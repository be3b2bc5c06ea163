"""RSSHub routes: URLs built from a configurable base, and a catalogue for the UI picker.

An RSSHub instance (self-hosted, usually on the school's or the bureau's intranet) turns
platforms without feeds (Weibo, WeChat official accounts, Zhihu, Tieba, Bilibili, Douyin)
into RSS, which ``feeds.parse_feed`` reads. Routes change between RSSHub versions: the
catalogue lists the common, long-lived ones (checked against RSSHub's route files); any
route can still be typed by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit

# In a path segment '=' and '&' stay literal: RSSHub's ":routeParams" segments are
# "key=value&key2=value2" and are read unescaped.
_SEGMENT_SAFE = "=&:@!$'()*+,;-._~"
_PARAM = re.compile(r"^:(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<flag>[?*]?)$")


class RouteError(ValueError):
    """A route or its parameters cannot make a valid RSSHub URL."""


@dataclass(frozen=True)
class RouteParam:
    name: str
    label: str  # shown in the picker (Chinese)
    required: bool = True
    example: str = ""
    help: str = ""


@dataclass(frozen=True)
class RouteSpec:
    key: str
    platform: str
    name: str
    template: str
    params: tuple[RouteParam, ...] = ()
    example: str = ""
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    def build(self, **values: str) -> str:
        """The route path with ``values`` filled in (percent-encoding happens in ``rsshub_url``)."""
        return build_route(self.template, values)


def build_route(template: str, values: Mapping[str, str]) -> str:
    """Fill ":name", ":name?" and ":name*" segments; optional ones may be left out at the end."""
    out: list[str] = []
    missing_optional = False
    for segment in template.strip("/").split("/"):
        match = _PARAM.match(segment)
        if not match:
            if missing_optional:
                raise RouteError(f"literal segment {segment!r} after an omitted optional parameter")
            out.append(segment)
            continue
        name, flag = match.group("name"), match.group("flag")
        value = str(values.get(name, "") or "").strip()
        if not value:
            if flag in ("?", "*"):
                missing_optional = True
                continue
            raise RouteError(f"parameter {name!r} is required")
        if missing_optional:
            raise RouteError(f"{name!r} given but an earlier optional parameter was left out")
        # A single-segment value must not add segments: its slashes are encoded. "*" params
        # span segments on purpose.
        out.append(value if flag == "*" else value.replace("/", "%2F"))
    unknown = set(values) - {m.group("name") for s in template.split("/") if (m := _PARAM.match(s))}
    if unknown:
        raise RouteError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    return "/" + "/".join(out)


def _encode_path(path: str) -> str:
    # unquote first so a route pasted already-encoded is not encoded twice.
    return "/".join(quote(unquote(seg), safe=_SEGMENT_SAFE) for seg in path.split("/"))


def rsshub_url(
    base_url: str,
    route: str,
    *,
    query: Mapping[str, str | int] | None = None,
    access_key: str | None = None,
) -> str:
    """The feed URL of ``route`` on the RSSHub at ``base_url``.

    >>> rsshub_url("http://rsshub.local:1200", "/weibo/keyword/育才中学")
    'http://rsshub.local:1200/weibo/keyword/%E8%82%B2%E6%89%8D%E4%B8%AD%E5%AD%A6'
    """
    base = urlsplit(base_url.strip())
    if base.scheme not in ("http", "https") or not base.netloc:
        raise RouteError(f"RSSHub base URL must be http(s): {base_url!r}")
    route = route.strip()
    if not route:
        raise RouteError("empty route")
    if re.match(r"^[a-z][a-z0-9+.-]*://", route, re.I):
        raise RouteError("give the route path (/weibo/keyword/...), not a full URL")
    path_part, _, route_query = route.partition("?")
    path_part = "/" + path_part.lstrip("/")
    if any(seg in (".", "..") for seg in unquote(path_part).split("/")):
        raise RouteError("route must not contain '.' or '..' segments")
    path = base.path.rstrip("/") + _encode_path(path_part)
    pairs: list[tuple[str, str]] = []
    if route_query:
        from urllib.parse import parse_qsl

        pairs += parse_qsl(route_query, keep_blank_values=True)
    pairs += [(k, str(v)) for k, v in (query or {}).items()]
    if access_key:
        pairs.append(("key", access_key))
    return urlunsplit((base.scheme, base.netloc, path, urlencode(pairs, quote_via=quote), ""))


def _p(
    name: str, label: str, example: str = "", *, required: bool = True, help: str = ""
) -> RouteParam:
    return RouteParam(name, label, required, example, help)


_ROUTE_PARAMS = _p(
    "routeParams",
    "额外参数",
    "showAuthorInTitle=1",
    required=False,
    help="key=value&key2=value2，见 RSSHub 文档",
)

CATALOGUE: tuple[RouteSpec, ...] = (
    RouteSpec(
        "weibo.keyword",
        "微博",
        "微博关键词",
        "/weibo/keyword/:keyword/:routeParams?",
        (_p("keyword", "关键词", "育才中学"), _ROUTE_PARAMS),
        "/weibo/keyword/育才中学",
        "高频监测学校名称的首选；部分实例需要配置微博 Cookie。",
        ("social",),
    ),
    RouteSpec(
        "weibo.user",
        "微博",
        "微博用户",
        "/weibo/user/:uid/:routeParams?",
        (_p("uid", "用户 ID", "1195230310"), _ROUTE_PARAMS),
        "/weibo/user/1195230310",
        tags=("social",),
    ),
    RouteSpec(
        "weibo.hot",
        "微博",
        "微博热搜榜",
        "/weibo/search/hot",
        (),
        "/weibo/search/hot",
        tags=("social",),
    ),
    RouteSpec(
        "wechat.homepage",
        "微信公众号",
        "公众号栏目（主页模板）",
        "/wechat/mp/homepage/:biz/:hid/:cid?",
        (
            _p("biz", "公众号 __biz", "MzA3MDM3NjE5NQ=="),
            _p("hid", "分页 hid", "16"),
            _p("cid", "栏目 cid", required=False),
        ),
        "/wechat/mp/homepage/MzA3MDM3NjE5NQ==/16",
        "只适用于有主页模板的公众号。",
        ("wechat",),
    ),
    RouteSpec(
        "wechat.msgalbum",
        "微信公众号",
        "公众号合集（话题标签）",
        "/wechat/mp/msgalbum/:biz/:aid",
        (
            _p("biz", "公众号 __biz", "MzA3MDM3NjE5NQ=="),
            _p("aid", "合集 album_id", "1375870284640911361"),
        ),
        tags=("wechat",),
    ),
    RouteSpec(
        "wechat.wechat2rss",
        "微信公众号",
        "公众号（Wechat2RSS 源）",
        "/wechat/wechat2rss/:id",
        (_p("id", "公众号 ID", "5b925323244e9737c39285596c53e3a2f4a30774"),),
        tags=("wechat",),
    ),
    RouteSpec(
        "wechat.feeddd",
        "微信公众号",
        "公众号（feeddd 源）",
        "/wechat/feeddd/:id",
        (_p("id", "公众号 ID", "6131e1441269c358aa0e2141"),),
        tags=("wechat",),
    ),
    RouteSpec(
        "zhihu.question",
        "知乎",
        "知乎问题",
        "/zhihu/question/:questionId/:sortBy?",
        (
            _p("questionId", "问题 ID", "59895982"),
            _p("sortBy", "排序", "created", required=False, help="default / created"),
        ),
        tags=("qa",),
    ),
    RouteSpec(
        "zhihu.topic",
        "知乎",
        "知乎话题",
        "/zhihu/topic/:topicId/:isTop?",
        (_p("topicId", "话题 ID", "19828946"), _p("isTop", "仅精华", required=False)),
        tags=("qa",),
    ),
    RouteSpec(
        "zhihu.people",
        "知乎",
        "知乎用户动态",
        "/zhihu/people/activities/:id",
        (_p("id", "用户 ID", "diygod"),),
        tags=("qa",),
    ),
    RouteSpec(
        "tieba.forum",
        "百度贴吧",
        "贴吧帖子列表",
        "/baidu/tieba/forum/:kw/:cid?",
        (_p("kw", "吧名", "育才中学"), _p("cid", "分类 ID", required=False)),
        "/baidu/tieba/forum/育才中学",
        tags=("forum",),
    ),
    RouteSpec(
        "tieba.search",
        "百度贴吧",
        "贴吧搜索",
        "/baidu/tieba/search/:qw/:routeParams?",
        (
            _p("qw", "搜索关键词", "育才中学"),
            _p("routeParams", "额外参数", "kw=吧名&only_thread=1", required=False),
        ),
        "/baidu/tieba/search/育才中学",
        tags=("forum",),
    ),
    RouteSpec(
        "tieba.post",
        "百度贴吧",
        "帖子动态",
        "/baidu/tieba/post/:id",
        (_p("id", "帖子 ID", "686961453"),),
        tags=("forum",),
    ),
    RouteSpec(
        "bilibili.search",
        "哔哩哔哩",
        "B站视频搜索",
        "/bilibili/vsearch/:kw/:order?/:disableEmbed?/:tid?",
        (_p("kw", "关键词", "育才中学"), _p("order", "排序", "pubdate", required=False)),
        "/bilibili/vsearch/育才中学/pubdate",
        tags=("video",),
    ),
    RouteSpec(
        "bilibili.user_video",
        "哔哩哔哩",
        "UP 主投稿",
        "/bilibili/user/video/:uid/:embed?",
        (_p("uid", "用户 ID", "2267573"), _p("embed", "不嵌入视频", required=False)),
        tags=("video",),
    ),
    RouteSpec(
        "bilibili.user_dynamic",
        "哔哩哔哩",
        "UP 主动态",
        "/bilibili/user/dynamic/:uid/:routeParams?",
        (_p("uid", "用户 ID", "2267573"), _ROUTE_PARAMS),
        tags=("video",),
    ),
    RouteSpec(
        "douyin.user",
        "抖音",
        "抖音博主",
        "/douyin/user/:uid/:routeParams?",
        (
            _p("uid", "sec_uid", "MS4wLjABAAAARcAHmmF9mAG3JEixq_CdP72APhBlGlLVbN-1eBcPqao"),
            _ROUTE_PARAMS,
        ),
        note="需要实例启用 Puppeteer。",
        tags=("video",),
    ),
    RouteSpec(
        "douyin.hashtag",
        "抖音",
        "抖音标签",
        "/douyin/hashtag/:cid/:routeParams?",
        (_p("cid", "标签 ID", "1592824105719812"), _ROUTE_PARAMS),
        tags=("video",),
    ),
    RouteSpec(
        "xiaohongshu.user",
        "小红书",
        "小红书用户笔记",
        "/xiaohongshu/user/:user_id/:category",
        (
            _p("user_id", "用户 ID", "593032945e87e77791e03696"),
            _p("category", "类别", "notes", help="notes / collect"),
        ),
        tags=("social",),
    ),
    RouteSpec(
        "thepaper.featured", "澎湃新闻", "澎湃首页头条", "/thepaper/featured", tags=("news",)
    ),
    RouteSpec(
        "thepaper.channel",
        "澎湃新闻",
        "澎湃频道",
        "/thepaper/channel/:id",
        (_p("id", "频道 ID", "25950"),),
        tags=("news",),
    ),
    RouteSpec(
        "people.site",
        "人民网",
        "人民网频道",
        "/people/:site?/:category*",
        (_p("site", "站点", "www", required=False), _p("category", "分类", required=False)),
        tags=("news",),
    ),
    RouteSpec(
        "cctv.category",
        "央视新闻",
        "央视新闻栏目",
        "/cctv/:category",
        (_p("category", "栏目", "china", help="china / world / society / law / ..."),),
        tags=("news",),
    ),
    RouteSpec(
        "gov.moe",
        "教育部",
        "教育部新闻",
        "/gov/moe/:type",
        (_p("type", "类别", "policy_anal"),),
        tags=("news", "gov"),
    ),
)

_BY_KEY = {spec.key: spec for spec in CATALOGUE}


def route_spec(key: str) -> RouteSpec:
    try:
        return _BY_KEY[key]
    except KeyError:
        raise RouteError(f"unknown RSSHub route {key!r}") from None


def catalogue_by_platform() -> dict[str, list[RouteSpec]]:
    """The picker's grouping: platform → its routes, in catalogue order."""
    grouped: dict[str, list[RouteSpec]] = {}
    for spec in CATALOGUE:
        grouped.setdefault(spec.platform, []).append(spec)
    return grouped
