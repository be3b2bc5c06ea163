"""The optional LLM assist, against a fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from yuqing.text.llm import (
    DEFAULT_OUTLINE,
    LLMConfig,
    LLMError,
    chat,
    extractive_summary,
    summarise_event,
)
from yuqing.text.types import Post

POSTS = [
    Post(id="1", text="青山实验中学食堂午餐红烧茄子里吃出青虫，家长很气愤。"),
    Post(
        id="2",
        title="青山实中学生午餐吃出青虫",
        text="涉事窗口已暂停营业，学校要求食堂承包商全面整改。食材已留样送检。",
    ),
    Post(id="3", text="家长代表去食堂陪餐，茄子换了供应商，承包商被罚款两万元。"),
]


class FakeLLM:
    """Records requests; answers with whatever the test sets."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.body: bytes = b""
        self.delay = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                fake.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "json": json.loads(self.rfile.read(length)),
                    }
                )
                if fake.delay:
                    time.sleep(fake.delay)
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(fake.body)))
                self.end_headers()
                self.wfile.write(fake.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A client that timed out has gone away: the failed write is expected, not news.
        self.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def answer(self, content: str) -> None:
        self.body = json.dumps(
            {"choices": [{"message": {"role": "assistant", "content": content}}]}
        ).encode()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    thread = threading.Thread(
        target=fake.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def config(fake: FakeLLM, **kw: Any) -> LLMConfig:
    return LLMConfig(base_url=fake.url, model="qwen-test", api_key="sk-test-123", **kw)


def test_it_sends_a_chat_completion_with_the_key_and_reads_the_answer(fake_llm: FakeLLM) -> None:
    fake_llm.answer(
        '```json\n{"summary": "食堂午餐出现青虫，校方已整改。", "outline": ["核实", "致歉", "整改"]}\n```'
    )
    s = summarise_event(POSTS, config(fake_llm))
    assert s.source == "llm"
    assert s.summary == "食堂午餐出现青虫，校方已整改。"
    assert s.outline == ("核实", "致歉", "整改")
    (req,) = fake_llm.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-test-123"
    assert req["headers"]["Content-Type"] == "application/json"
    payload = req["json"]
    assert payload["model"] == "qwen-test"
    assert [m["role"] for m in payload["messages"]] == ["system", "user"]
    assert "青虫" in payload["messages"][1]["content"]
    assert "[3]" in payload["messages"][1]["content"]


def test_a_plain_text_answer_becomes_the_summary(fake_llm: FakeLLM) -> None:
    fake_llm.answer("食堂午餐出现青虫。")
    s = summarise_event(POSTS, config(fake_llm))
    assert s.summary == "食堂午餐出现青虫。"
    assert s.outline == DEFAULT_OUTLINE


def test_it_sends_no_authorization_header_without_a_key(fake_llm: FakeLLM) -> None:
    fake_llm.answer("ok")
    chat(LLMConfig(base_url=fake_llm.url, model="m"), [{"role": "user", "content": "hi"}])
    assert "Authorization" not in fake_llm.requests[0]["headers"]


def test_an_http_error_becomes_an_llm_error(fake_llm: FakeLLM) -> None:
    fake_llm.status = 500
    fake_llm.body = b'{"error": "overloaded"}'
    with pytest.raises(LLMError, match="HTTP 500"):
        summarise_event(POSTS, config(fake_llm))


def test_a_malformed_answer_becomes_an_llm_error(fake_llm: FakeLLM) -> None:
    fake_llm.body = b"<html>gateway</html>"
    with pytest.raises(LLMError, match="not a chat-completions"):
        summarise_event(POSTS, config(fake_llm))


def test_an_oversized_answer_is_refused(fake_llm: FakeLLM) -> None:
    fake_llm.answer("长" * 5000)
    with pytest.raises(LLMError, match="larger than"):
        summarise_event(POSTS, config(fake_llm, max_response_bytes=1000))


def test_a_slow_server_times_out(fake_llm: FakeLLM) -> None:
    fake_llm.answer("late")
    fake_llm.delay = 0.6
    with pytest.raises(LLMError, match="unreachable"):
        summarise_event(POSTS, config(fake_llm, timeout=0.2))


def test_an_unreachable_endpoint_becomes_an_llm_error() -> None:
    with pytest.raises(LLMError):
        chat(
            LLMConfig(base_url="http://127.0.0.1:9/v1", model="m", timeout=1),
            [{"role": "user", "content": "x"}],
        )


def test_it_is_off_without_configuration_and_summarises_extractively() -> None:
    assert LLMConfig.from_env({}) is None
    s = summarise_event(POSTS, None, use_env=False)
    assert s.source == "extractive"
    assert "青虫" in s.summary
    assert s.outline == DEFAULT_OUTLINE


def test_the_environment_configures_it() -> None:
    cfg = LLMConfig.from_env(
        {
            "YUQING_LLM_BASE_URL": "http://127.0.0.1:1/v1",
            "YUQING_LLM_MODEL": "m",
            "YUQING_LLM_API_KEY": "k",
        }
    )
    assert cfg is not None and cfg.model == "m" and cfg.api_key == "k"
    assert "k" not in repr(cfg)
    with pytest.raises(LLMError, match="YUQING_LLM_MODEL"):
        LLMConfig.from_env({"YUQING_LLM_BASE_URL": "http://127.0.0.1:1/v1"})


def test_a_non_http_base_url_is_refused() -> None:
    with pytest.raises(LLMError, match="http"):
        chat(
            LLMConfig(base_url="file:///etc/passwd", model="m"), [{"role": "user", "content": "x"}]
        )


def test_the_extractive_summary_prefers_sentences_the_posts_share() -> None:
    summary = extractive_summary(POSTS, max_sentences=1)
    assert "青虫" in summary or "食堂" in summary
    assert extractive_summary([]) == ""
