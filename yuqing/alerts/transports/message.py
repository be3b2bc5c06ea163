"""The message every channel sends, and how each channel renders it.

Titles, summaries and facts come from crawled posts, so they are hostile: a title can carry
``[点我](http://evil)``, ``@all``, ``<at id=all>``, ``<script>`` or a right-to-left override.
HTML output escapes everything; markdown output replaces every markdown/mention control
character with its full-width twin (readable to people, inert to the renderer), because the
robots' markdown dialects do not reliably honour backslash escapes.

Plain Python: no Django import, so the worker, the UI preview and the tests share it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

# --------------------------------------------------------------------------- levels


@dataclass(frozen=True)
class Level:
    number: int
    name: str  # blue, yellow, orange, red: the generic webhook's level_name
    name_zh: str
    emoji: str
    colour: str  # e-mail accent
    feishu_template: str  # card header colour, one of Feishu's template names
    wecom_colour: str  # WeCom markdown <font color=...>: info, comment or warning

    @property
    def label(self) -> str:
        return f"{self.name_zh}预警"


LEVELS: dict[int, Level] = {
    1: Level(1, "blue", "蓝色", "🔵", "#1f6feb", "blue", "comment"),
    2: Level(2, "yellow", "黄色", "🟡", "#bf8700", "yellow", "comment"),
    3: Level(3, "orange", "橙色", "🟠", "#e36209", "orange", "warning"),
    4: Level(4, "red", "红色", "🔴", "#cf222e", "red", "warning"),
}

# Lengths kept per field: a robot refuses a body over its limit (Feishu 20 KB, WeCom markdown
# 4096 bytes), and a crawled "title" can be a whole article.
TITLE_LIMIT = 120
SUMMARY_LIMIT = 600
LINE_LIMIT = 200
MAX_LINES = 12
NAME_LIMIT = 80

FOOTER = "舆情监测 Yuqing 自动发送"
LINK_TEXT = "查看详情"
DEFAULT_TIMEZONE = "Asia/Shanghai"


# --------------------------------------------------------------------------- sanitising

# C0/C1 controls except tab and newline, zero-width characters, bidi embeddings/overrides/
# isolates (a U+202E in a title reverses what people read) and the BOM.
_INVISIBLE = re.compile(
    "[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff]"
)
_SPACES = re.compile(r"\s+")

# Every character that starts markdown syntax (links, images, emphasis, code, headings,
# quotes, tables, HTML tags such as Feishu's <at> or WeCom's <font>) or a mention (@).
_MARKDOWN_TWINS = str.maketrans(
    {
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "<": "＜",
        ">": "＞",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "#": "＃",
        "@": "＠",
        "|": "｜",
        "~": "～",
        "\\": "＼",
        "&": "＆",  # no entity can rebuild a bracket or a tag
        "$": "＄",  # some clients render $…$ as formulae
    }
)


def clean(value: object, limit: int, *, single_line: bool = True) -> str:
    """Text with invisible characters removed, whitespace tidied, cut to ``limit`` chars."""
    text = _INVISIBLE.sub("", str(value or ""))
    if single_line:
        text = _SPACES.sub(" ", text).strip()
    else:
        text = "\n".join(_SPACES.sub(" ", part).strip() for part in text.splitlines())
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def markdown_inert(text: str) -> str:
    """``text`` with no markdown, tag or mention left in it; links in it shown, not linked."""
    # "://" is broken too, so clients that auto-link bare URLs do not link crawled ones.
    return text.translate(_MARKDOWN_TWINS).replace("://", "：//")


def safe_url(url: str) -> str:
    """``url`` when it is an absolute http(s) URL, else ""; never a javascript: link."""
    url = _INVISIBLE.sub("", (url or "").strip())
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    if any(ch.isspace() for ch in url):
        return ""
    return url


def markdown_url(url: str) -> str:
    """A URL that cannot close a markdown link early: parentheses, quotes, brackets encoded."""
    return quote(url, safe=";/?:@&=+,-_.!~*#%")


# --------------------------------------------------------------------------- message


@dataclass(frozen=True, kw_only=True)
class Message:
    """One alert as the channels see it; built by the alerts app, never by a transport."""

    level: int  # 1 blue, 2 yellow, 3 orange, 4 red
    title: str
    summary: str = ""
    url: str = ""  # link back into Yuqing
    lines: Sequence[str] = ()  # key facts, one per line ("来源：某论坛", "转发：35")
    school: str = ""
    event: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: str = ""  # the alert's id: receivers fold repeats of one alert with it
    test: bool = False  # a "send test message" press, not a real alert
    timezone: str = DEFAULT_TIMEZONE  # times are shown to people in this zone
    # A school's own template for the channel and level, already rendered by the alerts app
    # (yuqing/alerts/templating.py); empty: the built-in rendering below.
    custom_subject: str = ""
    custom_text: str = ""
    custom_html: str = ""
    # Not an alert (a report summary): this replaces "蓝色预警" in the heading.
    label: str = ""
    # E-mail only: files attached as (file name, content type, path on this machine).
    attachments: Sequence[Sequence[str]] = ()

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"alert level must be 1–4, not {self.level!r}")
        object.__setattr__(self, "lines", tuple(str(line) for line in self.lines))
        if self.created_at.tzinfo is None:  # naive times are UTC, as Django stores them
            object.__setattr__(self, "created_at", self.created_at.replace(tzinfo=UTC))

    # ---------------------------------------------------------------- cleaned fields

    @property
    def level_info(self) -> Level:
        return LEVELS[self.level]

    @property
    def badge(self) -> str:
        return clean(self.label, 20) or self.level_info.label

    @property
    def clean_title(self) -> str:
        return clean(self.title, TITLE_LIMIT) or "（无标题）"

    @property
    def clean_summary(self) -> str:
        return clean(self.summary, SUMMARY_LIMIT, single_line=False)

    @property
    def clean_lines(self) -> list[str]:
        kept = [clean(line, LINE_LIMIT) for line in self.lines[:MAX_LINES]]
        return [line for line in kept if line]

    @property
    def clean_school(self) -> str:
        return clean(self.school, NAME_LIMIT)

    @property
    def clean_event(self) -> str:
        return clean(self.event, TITLE_LIMIT)

    @property
    def link(self) -> str:
        return safe_url(self.url)

    @property
    def local_time(self) -> str:
        return self.created_at.astimezone(ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M")

    @property
    def heading(self) -> str:
        """ "【红色预警】title", with 【测试】 in front of a test message."""
        if self.custom_subject:
            return clean(self.custom_subject, TITLE_LIMIT)
        prefix = "【测试】" if self.test else ""
        return f"{prefix}【{self.badge}】{self.clean_title}"

    @property
    def subject(self) -> str:
        return self.heading

    # ---------------------------------------------------------------- rendering

    def render_text(self, channel: str = "text") -> str:
        """The body for ``channel``: "text" (e-mail, webhook) or a robot's markdown."""
        if self.custom_text:
            return self.custom_text
        try:
            flavour = FLAVOURS[channel]
        except KeyError:
            raise ValueError(f"no text template for channel {channel!r}") from None
        return flavour.render(self)

    def render_html(self, channel: str = "email") -> str:
        if channel != "email":
            raise ValueError(f"no HTML template for channel {channel!r}")
        return self.custom_html or render_email_html(self)


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class Flavour:
    """A small text template: how one channel writes each part of a message."""

    escape: Callable[[str], str]
    heading: str  # fields: emoji, label, title, test, colour
    summary: str
    fact: str
    meta: str  # fields: name, value
    link: str  # field: url
    footer: str
    joiner: str = "\n"
    markdown: bool = True

    def render(self, message: Message) -> str:
        esc = self.escape
        info = message.level_info
        parts: list[str] = []
        if self.heading:
            parts.append(
                self.heading.format(
                    emoji=info.emoji,
                    label=message.badge,
                    title=esc(message.clean_title),
                    test="【测试】" if message.test else "",
                    colour=info.wecom_colour,
                )
            )
        if message.clean_summary:
            body = self.joiner.join(esc(p) for p in message.clean_summary.splitlines() if p)
            parts.append(self.summary.format(summary=body))
        parts.extend(self.fact.format(text=esc(line)) for line in message.clean_lines)
        for name, value in (
            ("学校", message.clean_school),
            ("事件", message.clean_event),
            ("时间", message.local_time),
        ):
            if value:
                parts.append(self.meta.format(name=name, value=esc(value)))
        if message.link:
            url = markdown_url(message.link) if self.markdown else message.link
            parts.append(self.link.format(url=url, text=LINK_TEXT))
        if self.footer:
            parts.append(self.footer.format(footer=FOOTER))
        return self.joiner.join(parts)


def _plain(text: str) -> str:
    return text


FLAVOURS: dict[str, Flavour] = {
    "text": Flavour(
        escape=_plain,
        heading="{emoji} {test}【{label}】{title}",
        summary="\n{summary}\n",
        fact="· {text}",
        meta="{name}：{value}",
        link="{text}：{url}",
        footer="\n—— {footer}",
        markdown=False,
    ),
    # WeCom group robot markdown: headings, bold, <font color="info|comment|warning">, links.
    "wecom": Flavour(
        escape=markdown_inert,
        heading='## {emoji} {test}<font color="{colour}">【{label}】</font>{title}',
        summary="{summary}",
        fact="- {text}",
        meta='<font color="comment">{name}：</font>{value}',
        link="[{text}]({url})",
        footer='<font color="comment">{footer}</font>',
    ),
    # DingTalk markdown needs a blank line between blocks, or lines run together.
    "dingtalk": Flavour(
        escape=markdown_inert,
        heading="### {emoji} {test}【{label}】{title}",
        summary="{summary}",
        fact="- {text}",
        meta="**{name}**：{value}",
        link="[{text}]({url})",
        footer="{footer}",
        joiner="\n\n",
    ),
    # Feishu card lark_md: the card header carries level and title, the body the rest.
    "feishu": Flavour(
        escape=markdown_inert,
        heading="",
        summary="{summary}",
        fact="• {text}",
        meta="**{name}**：{value}",
        link="[{text}]({url})",
        footer="",
    ),
}


EMAIL_HTML = """\
<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>{subject}</title></head>
<body style="margin:0;padding:16px;background:#f6f8fa;font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;color:#1f2328">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:640px;margin:0 auto;background:#ffffff;border-top:6px solid {colour}">
<tr><td style="padding:16px 20px">
<p style="margin:0 0 8px;color:{colour};font-weight:bold">{emoji} {test}{label}</p>
<h1 style="margin:0 0 12px;font-size:20px;line-height:1.4">{title}</h1>
{summary}{facts}{meta}{link}<p style="margin:16px 0 0;color:#57606a;font-size:12px">{footer}</p>
</td></tr>
</table>
</body>
</html>
"""


def render_email_html(message: Message) -> str:
    def esc(text: str) -> str:
        return html.escape(text, quote=True)

    info = message.level_info
    summary = ""
    if message.clean_summary:
        paragraphs = "<br>".join(esc(p) for p in message.clean_summary.splitlines())
        summary = f'<p style="margin:0 0 12px;line-height:1.6">{paragraphs}</p>\n'
    facts = ""
    if message.clean_lines:
        items = "".join(f"<li>{esc(line)}</li>" for line in message.clean_lines)
        facts = f'<ul style="margin:0 0 12px;padding-left:20px;line-height:1.6">{items}</ul>\n'
    rows = [
        (name, value)
        for name, value in (
            ("学校", message.clean_school),
            ("事件", message.clean_event),
            ("时间", message.local_time),
        )
        if value
    ]
    meta = ""
    if rows:
        cells = "".join(
            f'<tr><td style="padding:2px 12px 2px 0;color:#57606a;white-space:nowrap">{name}</td>'
            f"<td>{esc(value)}</td></tr>"
            for name, value in rows
        )
        meta = (
            f'<table role="presentation" style="margin:0 0 12px;font-size:14px">{cells}</table>\n'
        )
    link = ""
    if message.link:
        link = (
            f'<p style="margin:0"><a href="{esc(message.link)}" style="display:inline-block;'
            f"padding:8px 16px;background:{info.colour};color:#ffffff;text-decoration:none;"
            f'border-radius:4px">{LINK_TEXT}</a></p>\n'
        )
    return EMAIL_HTML.format(
        subject=esc(message.subject),
        colour=info.colour,
        emoji=info.emoji,
        test="【测试】" if message.test else "",
        label=message.badge,
        title=esc(message.clean_title),
        summary=summary,
        facts=facts,
        meta=meta,
        link=link,
        footer=esc(FOOTER),
    )
