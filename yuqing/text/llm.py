"""Optional LLM assist: summarise an event and draft a response outline. OFF by default.

When configured (arguments, or ``YUQING_LLM_BASE_URL`` / ``YUQING_LLM_MODEL`` /
``YUQING_LLM_API_KEY``), it calls an OpenAI-compatible ``POST {base}/chat/completions``. When
not, ``summarise_event`` falls back to an extractive summary and a fixed outline, so every
feature works on an isolated intranet. The outline is a *draft for the office*: responses are
official, attributed to the school and go through publication review like any other text.

Network use is bounded: one request, a timeout, a cap on the response size, and every failure
(connection, HTTP status, oversize, malformed JSON) becomes one ``LLMError``.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import rjieba

from yuqing.text.types import Post

ENV_BASE_URL = "YUQING_LLM_BASE_URL"
ENV_MODEL = "YUQING_LLM_MODEL"
ENV_API_KEY = "YUQING_LLM_API_KEY"
ENV_TIMEOUT = "YUQING_LLM_TIMEOUT"

MAX_PROMPT_CHARS = 6_000  # posts beyond this are left out of the prompt, newest last
MAX_RESPONSE_BYTES = 1_000_000

DEFAULT_OUTLINE: tuple[str, ...] = (
    "核实情况：向涉事部门和当事人了解事实经过，固定相关证据。",
    "表明态度：说明学校已关注此事、正在调查或已采取的措施。",
    "回应关切：逐条回应网民和家长提出的主要问题，不回避、不夸大。",
    "后续安排：说明整改措施、时间节点和信息发布渠道。",
    "报送审核：回应稿按发布审核流程经负责领导签批后再发布。",
)

SYSTEM_PROMPT = (
    "你是学校网信办的舆情分析助手。根据给出的同一事件的多条公开帖子，"
    "用简体中文写出：1）不超过150字的客观事件摘要；2）学校官方回应的提纲要点（3到6条）。"
    "只依据帖子内容，不编造事实，不涉及个人隐私。"
    '只输出JSON：{"summary": "...", "outline": ["...", "..."]}'
)


class LLMError(Exception):
    """The LLM endpoint could not give a usable answer."""


@dataclass(frozen=True, slots=True)
class LLMConfig:
    base_url: str
    model: str
    api_key: str = field(default="", repr=False)  # never printed in logs or reprs
    timeout: float = 30.0
    max_response_bytes: int = MAX_RESPONSE_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMConfig | None:
        """The configuration from the environment, or None when no endpoint is set (OFF)."""
        env = os.environ if env is None else env
        base = env.get(ENV_BASE_URL, "").strip()
        if not base:
            return None
        model = env.get(ENV_MODEL, "").strip()
        if not model:
            raise LLMError(f"{ENV_BASE_URL} is set but {ENV_MODEL} is not")
        timeout_raw = env.get(ENV_TIMEOUT, "").strip()
        try:
            timeout = float(timeout_raw) if timeout_raw else 30.0
        except ValueError:
            raise LLMError(
                f"{ENV_TIMEOUT} must be a number of seconds, not {timeout_raw!r}"
            ) from None
        return cls(base_url=base, model=model, api_key=env.get(ENV_API_KEY, ""), timeout=timeout)

    @property
    def endpoint(self) -> str:
        base = self.base_url.rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise LLMError("LLM base URL must start with http:// or https://")
        return base if base.endswith("/chat/completions") else base + "/chat/completions"


@dataclass(frozen=True, slots=True)
class EventSummary:
    summary: str
    outline: tuple[str, ...]
    source: str  # "llm" or "extractive"


def chat(config: LLMConfig, messages: Sequence[Mapping[str, str]], *, max_tokens: int = 800) -> str:
    """One chat-completions call; returns the first choice's message content."""
    payload = {
        "model": config.model,
        "messages": [dict(m) for m in messages],
        "temperature": 0.2,
        "max_tokens": max_tokens,
    }
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    req = urllib.request.Request(  # noqa: S310 - scheme checked in LLMConfig.endpoint
        config.endpoint,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=config.timeout) as resp:  # noqa: S310
            body = resp.read(config.max_response_bytes + 1)
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode("utf-8", "replace").strip()
        raise LLMError(f"LLM endpoint answered HTTP {exc.code}: {detail[:200]}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LLMError(f"LLM endpoint unreachable: {reason}") from None
    if len(body) > config.max_response_bytes:
        raise LLMError(f"LLM response larger than {config.max_response_bytes} bytes")
    try:
        data = json.loads(body.decode("utf-8"))
        content = data["choices"][0]["message"]["content"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, IndexError, TypeError):
        raise LLMError("LLM response is not a chat-completions JSON document") from None
    if not isinstance(content, str):
        raise LLMError("LLM response has no text content")
    return content


def _post_texts(posts: Sequence[Post | str]) -> list[str]:
    out = []
    for p in posts:
        if isinstance(p, Post):
            out.append(f"{p.title}。{p.text}" if p.title else p.text)
        else:
            out.append(str(p))
    return [t.strip() for t in out if t and t.strip()]


def build_prompt(posts: Sequence[Post | str]) -> str:
    parts: list[str] = []
    used = 0
    for i, text in enumerate(_post_texts(posts), 1):
        chunk = f"[{i}] {text}"
        if used + len(chunk) > MAX_PROMPT_CHARS:
            chunk = chunk[: max(0, MAX_PROMPT_CHARS - used)]
        if not chunk:
            break
        parts.append(chunk)
        used += len(chunk)
    return "\n".join(parts)


def _parse_answer(content: str) -> tuple[str, tuple[str, ...]]:
    # Models wrap JSON in code fences or add prose around it; take the outermost object.
    m = re.search(r"\{.*\}", content, re.S)
    if m:
        try:
            data = json.loads(m.group(0))
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("summary"), str):
            outline = data.get("outline") or []
            items = (
                tuple(str(x).strip() for x in outline if str(x).strip())
                if isinstance(outline, list)
                else ()
            )
            return data["summary"].strip(), items
    return content.strip(), ()


_SENT_END = re.compile(r"(?<=[。！？!?；;\n])")


def extractive_summary(
    posts: Sequence[Post | str], max_sentences: int = 3, max_chars: int = 200
) -> str:
    """The sentences whose words recur most across the event's posts, in their original order."""
    texts = _post_texts(posts)
    sentences: list[tuple[int, str]] = []
    for text in texts:
        for s in _SENT_END.split(text):
            s = s.strip()
            if len(s) >= 6 and "//@" not in s:
                sentences.append((len(sentences), s))
    if not sentences:
        return texts[0][:max_chars] if texts else ""
    doc_freq: Counter[str] = Counter()
    for text in texts:
        doc_freq.update({w for w in rjieba.cut(text) if len(w) >= 2})
    scored = []
    for idx, s in sentences:
        words = [w for w in rjieba.cut(s) if len(w) >= 2]
        if not words:
            continue
        scored.append((sum(doc_freq[w] for w in words) / (len(words) ** 0.5), idx, s))
    chosen: list[tuple[int, str]] = []
    seen: set[str] = set()
    for _, idx, s in sorted(scored, key=lambda x: (-x[0], x[1])):
        key = re.sub(r"\W", "", s)
        if key in seen:
            continue
        seen.add(key)
        chosen.append((idx, s))
        if len(chosen) >= max_sentences:
            break
    summary = "".join(s for _, s in sorted(chosen))
    return summary[:max_chars]


def summarise_event(
    posts: Sequence[Post | str], config: LLMConfig | None = None, *, use_env: bool = True
) -> EventSummary:
    """Summary and response outline of one event: the LLM when configured, else extractive.

    An LLM failure raises ``LLMError``: the caller decides whether to fall back (the worker
    does, and records the error), rather than silently hiding a misconfigured endpoint.
    """
    if config is None and use_env:
        config = LLMConfig.from_env()
    if config is None:
        return EventSummary(extractive_summary(posts), DEFAULT_OUTLINE, "extractive")
    content = chat(
        config,
        [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": build_prompt(posts)},
        ],
    )
    summary, outline = _parse_answer(content)
    if not summary:
        raise LLMError("LLM returned an empty summary")
    return EventSummary(summary, outline or DEFAULT_OUTLINE, "llm")


def as_dict(s: EventSummary) -> dict[str, Any]:
    return {"summary": s.summary, "outline": list(s.outline), "source": s.source}
