"""Message templates per channel kind and level: the safe subset, the defaults, the escaping."""

from __future__ import annotations

import dataclasses

import pytest

from yuqing.alerts import templating
from yuqing.alerts.transports import preview
from yuqing.alerts.transports.message import Message


def _messages() -> list[Message]:
    full = templating.sample(level=4)
    return [
        full,
        dataclasses.replace(templating.sample(level=2, test=True), school="", event=""),
        Message(level=1, title="只有标题"),
    ]


@pytest.mark.parametrize("kind", sorted(set(templating.PARTS) - {"inapp"}))
def test_the_default_templates_say_exactly_what_the_built_in_wording_says(kind: str) -> None:
    for message in _messages():
        built_in = preview(kind, message)
        custom = templating.apply(message, kind, templating.default_parts(kind))
        assert custom.custom_text  # the templates, not the built-in code, made the text
        assert bool(custom.custom_html) == (kind == "email")
        templated = preview(kind, custom)
        assert templated.text == built_in.text
        assert templated.subject == built_in.subject
        assert templated.html == built_in.html
        assert templated.payload == built_in.payload


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        ("{% if title %}x", "Template syntax error. Line 1"),
        ("第一行\n{{ title|nosuchfilter }}", "Line 2"),
        ("{{ titel }}", "Unknown variables: titel."),
        ("{% for x in lines %}{{ x }}{{ y }}{% endfor %}", "Unknown variables: y."),
        ("{% if secret_key %}1{% endif %}{{ title }}", "Unknown variables: secret_key."),
        ("{{ title|default:settings }}", "Unknown variables: settings."),
        ("{% load static %}{{ title }}", "{% load %}"),
        ('{% include "base.html" %}', "{% include %}"),
        ("{% debug %}", "{% debug %}"),
        ("{% autoescape off %}{{ title }}{% endautoescape %}", "{% autoescape %}"),
        ("{{ title|safe }}", "filters are not allowed in message templates: safe"),
        ("{% if test %}{% endif %}", "renders to nothing"),
        ('{{ title|center:"999999999" }}', "filters are not allowed in message templates: center"),
        ("{{ level|floatformat:99999 }}", "not allowed in message templates: floatformat"),
        ("{{ title|date:lines }}", "not allowed in message templates: date"),
        (
            "{% for a in lines %}{% if a %}{% for b in lines %}{% for c in lines %}{{ c }}"
            "{% endfor %}{% endfor %}{% endif %}{% endfor %}",
            "Loops may be nested 2 deep at most.",
        ),
        (
            "{% for a in lines %}{% for b in summary_lines %}{{ a }}{{ b }}{% endfor %}{% endfor %}",
            None,
        ),
    ],
)
def test_bad_templates_are_refused_with_a_clear_message(source: str, complaint: str | None) -> None:
    from django.utils import translation

    with translation.override("en"):
        problem = templating.check("text", source)
    if complaint is None:
        assert problem is None
    else:
        assert problem is not None and complaint in problem


def test_loop_and_with_names_are_known() -> None:
    source = "{% for line in lines %}{{ forloop.counter }}. {{ line }}{% endfor %}"
    assert templating.check("text", source) is None
    assert templating.check("text", "{% with t=title %}{{ t }}{% endwith %}") is None


def test_crawled_markup_stays_inert_in_a_schools_robot_template() -> None:
    hostile = dataclasses.replace(
        templating.sample(), title="[点我](http://evil.example) @all <at id=all></at>"
    )
    parts = {"text": "**{{ title }}** [{{ link_text }}]({{ url }})"}
    text = templating.apply(hostile, "wecom", parts).render_text("wecom")
    assert text.startswith("**［点我］（http：//evil.example） ＠all ＜at id=all＞＜/at＞**")
    assert "(https://yuqing.example.edu.cn/alerts/42/)" in text  # the school's own link works


def test_crawled_markup_is_escaped_in_a_schools_html_template() -> None:
    parts = {
        "subject": "{{ level_name }}：{{ title }}",
        "text": "{{ title }}",
        "html": '<h1 style="color:{{ colour }}">{{ title }}</h1><a href="{{ url }}">go</a>',
    }
    message = templating.apply(templating.sample(), "email", parts)
    assert message.subject == "红色预警：家长在论坛反映食堂饭菜变质 <b>[图]</b>"
    assert message.render_text("text") == "家长在论坛反映食堂饭菜变质 <b>[图]</b>"
    assert message.render_html("email") == (
        '<h1 style="color:#cf222e">家长在论坛反映食堂饭菜变质 &lt;b&gt;[图]&lt;/b&gt;</h1>'
        '<a href="https://yuqing.example.edu.cn/alerts/42/">go</a>'
    )


@pytest.mark.parametrize("kind", sorted(templating.PARTS))
def test_the_default_templates_pass_the_save_check(kind: str) -> None:
    assert templating.check_parts(kind, templating.default_parts(kind)) == {}
