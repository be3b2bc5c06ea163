"""Messages: level styling, hostile crawled text made inert, previews and the registry."""

from __future__ import annotations

import json

import pytest

from yuqing.alerts.transports import (
    TRANSPORTS,
    DingTalkTransport,
    Message,
    get_transport,
    preview,
)

MARKDOWN_KINDS = ("wecom", "dingtalk", "feishu")


def test_it_names_each_level_in_the_subject() -> None:
    subjects = [Message(level=n, title="家长投诉").subject for n in (1, 2, 3, 4)]

    assert subjects == [
        "【蓝色预警】家长投诉",
        "【黄色预警】家长投诉",
        "【橙色预警】家长投诉",
        "【红色预警】家长投诉",
    ]
    assert Message(level=2, title="通道测试", test=True).subject == "【测试】【黄色预警】通道测试"


def test_it_refuses_a_level_outside_one_to_four() -> None:
    with pytest.raises(ValueError, match="1–4"):
        Message(level=5, title="x")


@pytest.mark.parametrize("kind", MARKDOWN_KINDS)
def test_it_leaves_no_link_mention_or_tag_from_crawled_text_in_markdown(
    kind: str, hostile_message: Message
) -> None:
    shown = preview(kind, hostile_message)
    text = shown.text
    if kind == "feishu":  # the title is in the card's header
        assert shown.payload is not None
        text = shown.payload["card"]["header"]["title"]["content"] + "\n" + text

    assert text.count("](") == text.count("[") == 1  # our own link, nothing else
    for dangerous in (
        "[点我",
        "@all",
        "@所有人",
        "@138",
        "<at",
        "<script",
        "<font color=red",
        "<img",
        "<b>",
        "**加粗**",
        "`",
        "# 标题",
        "http://evil",
    ):
        assert dangerous not in text, (kind, dangerous)
    # Still readable, and our own link still works.
    assert "［点我看详情］（http：//evil.example/x）" in text
    assert "＠all" in text
    assert "(https://yuqing.school.example/alerts/43)" in text
    assert "\u202e" not in text


def test_it_keeps_feishu_at_tags_out_of_the_card(hostile_message: Message) -> None:
    payload = json.dumps(preview("feishu", hostile_message).payload, ensure_ascii=False)

    assert "<at" not in payload and "<script" not in payload


def test_it_escapes_crawled_text_in_html(hostile_message: Message) -> None:
    html = hostile_message.render_html()

    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript' not in html


def test_it_drops_a_link_that_is_not_http() -> None:
    message = Message(level=1, title="x", url="javascript:alert(1)")

    assert message.link == ""
    assert "javascript" not in message.render_html()
    assert "查看详情" not in message.render_text("dingtalk")


def test_it_encodes_parentheses_in_our_link_so_markdown_cannot_end_it_early() -> None:
    message = Message(level=1, title="x", url="https://yuqing.example/a?q=(x)")

    assert "[查看详情](https://yuqing.example/a?q=%28x%29)" in message.render_text("wecom")


def test_it_cuts_overlong_crawled_text() -> None:
    message = Message(level=1, title="长" * 500, lines=["事实"] * 40)

    assert len(message.clean_title) == 120 and message.clean_title.endswith("…")
    assert len(message.clean_lines) == 12


def test_it_shows_times_in_beijing_time(message: Message) -> None:
    assert message.local_time == "2025-03-07 23:05"


def test_it_previews_every_channel_without_a_configuration(message: Message) -> None:
    for kind in TRANSPORTS:
        shown = preview(kind, message)
        assert shown.kind == kind
        assert "育才中学食堂多名学生呕吐送医" in shown.subject + shown.text + str(shown.payload)
    email = preview("email", message)
    assert email.subject == "【红色预警】育才中学食堂多名学生呕吐送医" and "<html" in email.html
    assert preview("webhook", message).payload["level_name"] == "red"  # type: ignore[index]
    # A preview is unsigned: nothing secret can leak into the UI.
    assert "sign" not in (preview("feishu", message).payload or {})


def test_it_builds_transports_by_kind() -> None:
    assert set(TRANSPORTS) == {"email", "wecom", "dingtalk", "feishu", "webhook"}
    transport = get_transport("dingtalk", allow_custom_endpoint=True, timeout=3)
    assert isinstance(transport, DingTalkTransport)
    assert transport.allow_custom_endpoint and transport.timeout == 3
    with pytest.raises(ValueError, match="unknown channel kind 'sms'"):
        get_transport("sms")


def test_it_imports_without_django() -> None:
    import subprocess
    import sys

    code = (
        "import sys, yuqing.alerts.transports as t; "
        "t.preview('email', t.Message(level=1, title='x')); "
        "sys.exit('django' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
