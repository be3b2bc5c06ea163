"""A school's own message templates per channel kind and level: checking, rendering, defaults.

The template language is Django's, on an engine of its own with no loaders and no libraries,
limited further when a template is saved:

- only the tags in ``ALLOWED_TAGS`` (no ``load``, ``include``, ``extends``, ``debug``,
  ``autoescape``...) and the filters in ``ALLOWED_FILTERS`` (no ``safe``), loops nested two
  deep at most, so nothing can switch escaping off, reach a file or take long to render;
- only the variables in ``VARIABLES`` (and names a ``for``/``with`` in the template binds);
- the template must render on sample data.

Values are plain strings, lists and numbers built from the ``Message``, so no lookup can reach
an object. Crawled text is hostile: the e-mail HTML part is rendered with autoescape on; the
plain-text parts (subjects, e-mail text, webhook text) get the cleaned text; the robots'
markdown parts get text with every markdown and mention character made inert, exactly like the
built-in rendering, so a school's template cannot be turned into a link or an @all by a title.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import FilterExpression, Lexer, Node, TokenType, Variable, VariableNode
from django.template.defaulttags import (
    CycleNode,
    FirstOfNode,
    ForNode,
    IfChangedNode,
    IfNode,
    NowNode,
    WithNode,
)
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from yuqing.alerts.transports.message import (
    FOOTER,
    LINK_TEXT,
    Message,
    clean,
    markdown_inert,
    markdown_url,
)

log = logging.getLogger(__name__)

# The parts a channel kind sends: e-mail a subject, a text and an HTML part; DingTalk a title
# (the notification line) and markdown; Feishu the card's header and its markdown; WeCom
# markdown; the generic webhook the ``text`` field of its JSON (the other fields are data).
PARTS: dict[str, tuple[str, ...]] = {
    "email": ("subject", "text", "html"),
    "wecom": ("text",),
    "dingtalk": ("subject", "text"),
    "feishu": ("subject", "text"),
    "webhook": ("text",),
    "inapp": ("subject", "text"),  # the notification's title and body, shown escaped
}
MARKDOWN_KINDS = frozenset({"wecom", "dingtalk", "feishu"})
MAX_TEMPLATE_CHARS = 20_000

VARIABLES: dict[str, Any] = {
    "title": _lazy("the alert's title"),
    "summary": _lazy("why, what changed, escalation (lines joined by newlines)"),
    "summary_lines": _lazy("the same, as a list of lines"),
    "lines": _lazy("key facts, a list (mentions, sources, the default action)"),
    "school": _lazy("the school's name"),
    "event": _lazy("the event's title (may be empty)"),
    "time": _lazy("when it was raised, local time (2025-03-12 23:00)"),
    "url": _lazy("the link into Yuqing"),
    "level": _lazy("1 blue, 2 yellow, 3 orange, 4 red"),
    "level_name": "蓝色预警 … 红色预警",
    "emoji": "🔵 🟡 🟠 🔴",
    "colour": _lazy("the level's colour (#cf222e), for e-mail"),
    "wecom_colour": _lazy("WeCom's font colour for the level: info, comment or warning"),
    "test": _lazy("true for a “send test message” press"),
    "footer": FOOTER,
    "link_text": LINK_TEXT,
}

ALLOWED_TAGS = frozenset(
    {
        "if",
        "elif",
        "else",
        "endif",
        "for",
        "empty",
        "endfor",
        "with",
        "endwith",
        "comment",
        "endcomment",
        "firstof",
        "cycle",
        "ifchanged",
        "endifchanged",
        "now",
        "spaceless",
        "endspaceless",
        "templatetag",
        "verbatim",
        "endverbatim",
    }
)
# Filters are allowed by name: none that switches escaping off (safe) or that can be told to
# build a huge string (center, ljust, stringformat, floatformat with a width or precision).
ALLOWED_FILTERS = frozenset(
    {
        "add",
        "capfirst",
        "cut",
        "default",
        "default_if_none",
        "divisibleby",
        "escape",
        "first",
        "force_escape",
        "join",
        "last",
        "length",
        "linebreaks",
        "linebreaksbr",
        "lower",
        "pluralize",
        "slice",
        "striptags",
        "title",
        "truncatechars",
        "truncatewords",
        "upper",
        "urlencode",
        "wordcount",
        "yesno",
    }
)
MAX_LOOP_DEPTH = 2  # lines within summary lines at most: a save must render at once

_HTML_ENGINE = Engine(debug=True, autoescape=True, libraries={}, loaders=[])
_TEXT_ENGINE = Engine(debug=True, autoescape=False, libraries={}, loaders=[])


def engine_for(part: str) -> Engine:
    return _HTML_ENGINE if part == "html" else _TEXT_ENGINE


# --------------------------------------------------------------------------- defaults

_HEADING = "{% if test %}【测试】{% endif %}【{{ level_name }}】{{ title }}"

_TEXT = """\
{{ emoji }} {% if test %}【测试】{% endif %}【{{ level_name }}】{{ title }}
{% if summary %}
{{ summary }}

{% endif %}{% for line in lines %}· {{ line }}
{% endfor %}{% if school %}学校：{{ school }}
{% endif %}{% if event %}事件：{{ event }}
{% endif %}时间：{{ time }}
{% if url %}{{ link_text }}：{{ url }}
{% endif %}
—— {{ footer }}"""

_WECOM = """\
## {{ emoji }} {% if test %}【测试】{% endif %}<font color="{{ wecom_colour }}">【{{ level_name }}】</font>{{ title }}
{% if summary %}{{ summary }}
{% endif %}{% for line in lines %}- {{ line }}
{% endfor %}{% if school %}<font color="comment">学校：</font>{{ school }}
{% endif %}{% if event %}<font color="comment">事件：</font>{{ event }}
{% endif %}<font color="comment">时间：</font>{{ time }}
{% if url %}[{{ link_text }}]({{ url }})
{% endif %}<font color="comment">{{ footer }}</font>"""

_DINGTALK = """\
### {{ emoji }} {% if test %}【测试】{% endif %}【{{ level_name }}】{{ title }}

{% for part in summary_lines %}{{ part }}

{% endfor %}{% for line in lines %}- {{ line }}

{% endfor %}{% if school %}**学校**：{{ school }}

{% endif %}{% if event %}**事件**：{{ event }}

{% endif %}**时间**：{{ time }}

{% if url %}[{{ link_text }}]({{ url }})

{% endif %}{{ footer }}"""

_FEISHU = """\
{% if summary %}{{ summary }}
{% endif %}{% for line in lines %}• {{ line }}
{% endfor %}{% if school %}**学校**：{{ school }}
{% endif %}{% if event %}**事件**：{{ event }}
{% endif %}**时间**：{{ time }}{% if url %}
[{{ link_text }}]({{ url }}){% endif %}"""

_CELL = 'style="padding:2px 12px 2px 0;color:#57606a;white-space:nowrap"'
_EMAIL_HTML = (
    """\
<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>{% if test %}【测试】{% endif %}【{{ level_name }}】{{ title }}</title></head>
<body style="margin:0;padding:16px;background:#f6f8fa;font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;color:#1f2328">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:640px;margin:0 auto;background:#ffffff;border-top:6px solid {{ colour }}">
<tr><td style="padding:16px 20px">
<p style="margin:0 0 8px;color:{{ colour }};font-weight:bold">{{ emoji }} {% if test %}【测试】{% endif %}{{ level_name }}</p>
<h1 style="margin:0 0 12px;font-size:20px;line-height:1.4">{{ title }}</h1>
{% if summary %}<p style="margin:0 0 12px;line-height:1.6">{{ summary|linebreaksbr }}</p>
{% endif %}{% if lines %}<ul style="margin:0 0 12px;padding-left:20px;line-height:1.6">{% for line in lines %}<li>{{ line }}</li>{% endfor %}</ul>
{% endif %}<table role="presentation" style="margin:0 0 12px;font-size:14px">"""
    + "{% if school %}<tr><td CELL>学校</td><td>{{ school }}</td></tr>{% endif %}"
    + "{% if event %}<tr><td CELL>事件</td><td>{{ event }}</td></tr>{% endif %}"
    + "<tr><td CELL>时间</td><td>{{ time }}</td></tr></table>\n"
    + """\
{% if url %}<p style="margin:0"><a href="{{ url }}" style="display:inline-block;padding:8px 16px;background:{{ colour }};color:#ffffff;text-decoration:none;border-radius:4px">{{ link_text }}</a></p>
{% endif %}<p style="margin:16px 0 0;color:#57606a;font-size:12px">{{ footer }}</p>
</td></tr>
</table>
</body>
</html>
"""
).replace("CELL", _CELL)

DEFAULTS: dict[str, dict[str, str]] = {
    "email": {"subject": _HEADING, "text": _TEXT, "html": _EMAIL_HTML},
    "wecom": {"text": _WECOM},
    "dingtalk": {"subject": _HEADING, "text": _DINGTALK},
    "feishu": {"subject": _HEADING, "text": _FEISHU},
    "webhook": {"text": _TEXT},
    "inapp": {"subject": "[{{ level_name }}] {{ title }}", "text": "{{ summary }}"},
}


def default_parts(kind: str) -> dict[str, str]:
    """The built-in wording of ``kind`` as templates: where editing starts."""
    return dict(DEFAULTS[kind])


# --------------------------------------------------------------------------- checking


def _tags(source: str) -> Iterator[str]:
    for token in Lexer(source).tokenize():
        if token.token_type is TokenType.BLOCK and token.contents.split():
            yield token.contents.split()[0]


def _condition_expressions(condition: Any) -> Iterator[FilterExpression]:
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        yield value
    for side in ("first", "second"):
        sub = getattr(condition, side, None)
        if sub is not None:
            yield from _condition_expressions(sub)


def _expressions(node: Node) -> Iterator[FilterExpression]:
    if isinstance(node, VariableNode):
        yield node.filter_expression
    elif isinstance(node, IfNode):
        for condition, _nodelist in node.conditions_nodelists:
            if condition is not None:
                yield from _condition_expressions(condition)
    elif isinstance(node, ForNode) and isinstance(node.sequence, FilterExpression):
        yield node.sequence
    elif isinstance(node, WithNode):
        yield from (v for v in node.extra_context.values() if isinstance(v, FilterExpression))
    elif isinstance(node, FirstOfNode):
        yield from node.vars
    elif isinstance(node, CycleNode):
        yield from node.cyclevars
    elif isinstance(node, IfChangedNode):
        yield from getattr(node, "_varlist", ())


def _bound_names(node: Node) -> set[str]:
    names: set[str] = set()
    if isinstance(node, ForNode):
        names.update(node.loopvars)
        names.add("forloop")
    elif isinstance(node, WithNode):
        names.update(node.extra_context)
    elif isinstance(node, CycleNode) and node.variable_name:
        names.add(node.variable_name)
    elif isinstance(node, (FirstOfNode, NowNode)) and getattr(node, "asvar", None):
        names.add(str(node.asvar))
    return names


def _loop_depth(nodelist: Any) -> int:
    deepest = 0
    for node in nodelist:
        inner = max(
            (
                _loop_depth(getattr(node, name))
                for name in node.child_nodelists
                if hasattr(node, name)
            ),
            default=0,
        )
        if isinstance(node, IfNode):
            inner = max([inner, *(_loop_depth(nl) for _c, nl in node.conditions_nodelists)])
        deepest = max(deepest, inner + (1 if isinstance(node, ForNode) else 0))
    return deepest


def _names_and_filters(expression: FilterExpression) -> Iterator[tuple[str, str]]:
    """("var", name) for each variable an expression reads, ("filter", name) per filter."""
    if isinstance(expression.var, Variable) and expression.var.lookups:
        yield "var", expression.var.lookups[0]
    for func, args in expression.filters:
        yield "filter", getattr(func, "__name__", "")
        for is_lookup, arg in args:
            if is_lookup and isinstance(arg, Variable) and arg.lookups:
                yield "var", arg.lookups[0]


def check(part: str, source: str) -> str | None:
    """Why ``source`` cannot be saved as ``part`` of a message template, or None."""
    if len(source) > MAX_TEMPLATE_CHARS:
        return _("Keep a template under %(n)s characters.") % {"n": MAX_TEMPLATE_CHARS}
    refused = sorted(
        {f"{{% {name} %}}" for name in _tags(source)} - {f"{{% {name} %}}" for name in ALLOWED_TAGS}
    )
    if refused:
        return _("These tags are not allowed in message templates: %(tags)s.") % {
            "tags": ", ".join(refused)
        }
    try:
        template = engine_for(part).from_string(source)
    except TemplateSyntaxError as exc:
        line = getattr(exc, "template_debug", {}).get("line")
        where = _("Line %(n)s: ") % {"n": line} if line else ""
        return _("Template syntax error. %(where)s%(error)s") % {"where": where, "error": exc}
    nodes = template.nodelist.get_nodes_by_type(Node)
    bound: set[str] = set()
    for node in nodes:
        bound |= _bound_names(node)
    unknown: set[str] = set()
    filters: set[str] = set()
    for node in nodes:
        for expression in _expressions(node):
            for what, name in _names_and_filters(expression):
                if what == "filter" and name not in ALLOWED_FILTERS:
                    filters.add(name)
                elif what == "var" and name not in VARIABLES and name not in bound:
                    unknown.add(name)
    if filters:
        return _(
            "These filters are not allowed in message templates: %(filters)s. Allowed: %(allowed)s."
        ) % {"filters": ", ".join(sorted(filters)), "allowed": ", ".join(sorted(ALLOWED_FILTERS))}
    if _loop_depth(template.nodelist) > MAX_LOOP_DEPTH:
        return _("Loops may be nested %(n)s deep at most.") % {"n": MAX_LOOP_DEPTH}
    if unknown:
        return _("Unknown variables: %(names)s. Available: %(known)s.") % {
            "names": ", ".join(sorted(unknown)),
            "known": ", ".join(VARIABLES),
        }
    try:
        rendered = render_part("email" if part == "html" else "webhook", part, source, sample())
    except Exception as exc:  # a filter given a bad argument fails only when rendering
        return _("The template does not render on sample data: %(error)s") % {"error": exc}
    if not rendered.strip():
        return _("The template renders to nothing on sample data.")
    return None


def check_parts(kind: str, parts: Mapping[str, str]) -> dict[str, str]:
    """Part → error for the parts ``kind`` sends; every one is required."""
    errors: dict[str, str] = {}
    for part in PARTS[kind]:
        source = parts.get(part, "")
        if not source.strip():
            errors[part] = _("This part is required.")
            continue
        problem = check(part, source)
        if problem:
            errors[part] = problem
    return errors


# --------------------------------------------------------------------------- rendering


def context_for(message: Message, *, markdown: bool) -> dict[str, Any]:
    """The template variables of ``message``: cleaned, and inert to markdown when asked."""

    def inert(text: str) -> str:
        return markdown_inert(text) if markdown else text

    info = message.level_info
    summary_lines = [inert(line) for line in message.clean_summary.splitlines() if line]
    link = message.link
    return {
        "title": inert(message.clean_title),
        "summary": "\n".join(summary_lines),
        "summary_lines": summary_lines,
        "lines": [inert(line) for line in message.clean_lines],
        "school": inert(message.clean_school),
        "event": inert(message.clean_event),
        "time": message.local_time,
        "url": (markdown_url(link) if markdown else link) if link else "",
        "level": message.level,
        "level_name": info.label,
        "emoji": info.emoji,
        "colour": info.colour,
        "wecom_colour": info.wecom_colour,
        "test": message.test,
        "footer": FOOTER,
        "link_text": LINK_TEXT,
    }


def render_part(kind: str, part: str, source: str, message: Message) -> str:
    markdown = kind in MARKDOWN_KINDS and part == "text"
    out = (
        engine_for(part)
        .from_string(source)
        .render(Context(context_for(message, markdown=markdown), autoescape=part == "html"))
    )
    if part == "subject":
        return clean(out, 200)
    if part == "text":
        return re.sub(r"\n{3,}", "\n\n", out).strip()
    return out


def apply(message: Message, kind: str, parts: Mapping[str, str] | None) -> Message:
    """``message`` carrying ``parts`` rendered for ``kind``; as it was without parts."""
    if not parts or kind not in PARTS:
        return message
    rendered = {p: render_part(kind, p, parts[p], message) for p in PARTS[kind]}
    return dataclasses.replace(
        message,
        custom_subject=rendered.get("subject", ""),
        custom_text=rendered.get("text", ""),
        custom_html=rendered.get("html", ""),
    )


def parts_of(template: Any) -> dict[str, str]:
    return {part: getattr(template, part) or "" for part in PARTS[template.channel_kind]}


@dataclass
class TemplateCache:
    """The school templates a batch of deliveries needs, read once per (school, kind, level)."""

    found: dict[tuple[int, str, int], dict[str, str] | None] = dataclasses.field(
        default_factory=dict
    )

    def parts(self, school_id: int, kind: str, level: int) -> dict[str, str] | None:
        key = (school_id, kind, level)
        if key not in self.found:
            from yuqing.alerts.models import MessageTemplate
            from yuqing.core.tenancy import all_schools

            with all_schools():
                row = MessageTemplate.unscoped.filter(
                    school_id=school_id, channel_kind=kind, level=level
                ).first()
            self.found[key] = parts_of(row) if row is not None else None
        return self.found[key]

    def message(self, school_id: int, kind: str, message: Message) -> Message:
        """``message`` in the school's wording for ``kind``; the built-in one if that fails."""
        if message.label:  # a report summary, not an alert: the alert wording does not fit it
            return message
        parts = self.parts(school_id, kind, message.level)
        try:
            return apply(message, kind, parts)
        except Exception:  # checked at save; a template that still fails must not lose mail
            log.exception(
                "message template %s/%s of school %s failed", kind, message.level, school_id
            )
            return message


def sample(level: int = 4, *, test: bool = False) -> Message:
    """The message previews and checks render: hostile on purpose (markup in the title)."""
    from datetime import UTC, datetime

    return Message(
        level=level,
        title="家长在论坛反映食堂饭菜变质 <b>[图]</b>",
        summary="风险等级达到红色（规则：风险≥3）。\n提及：3 → 12。",
        url="https://yuqing.example.edu.cn/alerts/42/",
        lines=(
            "处置建议：立即向学校领导报告并启动应急处置。",
            "提及 12 条（负面 9 条），始于 05-20 21:40",
            "本地论坛：食堂的饭菜有异味",
        ),
        school="育才中学",
        event="食堂饭菜质量",
        created_at=datetime(2025, 5, 20, 15, 0, tzinfo=UTC),
        id="preview",
        test=test,
    )
