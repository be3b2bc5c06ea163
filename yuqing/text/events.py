"""Same-story clustering: fold reposts, rewrites and follow-ups of one happening into one event.

Two signals decide whether a new post belongs to an earlier one inside the time window:

* **Near-duplicate text**: MinHash (rensa ``RMinHash``) over character 3-shingles. From the
  estimated Jaccard and the shingle-set sizes we get the *containment* of the shorter text in
  the longer one, which is what a repost with a long comment added keeps high while its Jaccard
  falls.
* **Shared rare terms**: jieba words weighted by how rare they are in general Chinese (the
  jieba dictionary frequency) and in the current window. Rewrites by other outlets and
  follow-ups reuse the names, numbers and specific nouns of the story, not its sentences.

The scheme's subject and region words are removed before either signal is computed, so that
the school's own name, which every post shares, never links two stories. Common school words
(学生, 家长, 通报 …) carry almost no weight for the same reason.

Candidates come from a banded LSH index over the MinHash digests and an inverted index of each
post's rarest terms. Both indexes are plain dicts (rensa's ``RMinHashLSH`` cannot be rebuilt
from stored digests), so the whole state is a JSON-serialisable list of window entries.

Clustering is streaming and order-dependent by nature; ids are deterministic: an event is
named after the post that opened it (``ev-`` + a hash of its id), and adding a post id again
returns the event it already has.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from array import array
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import rjieba
from rensa import RMinHash

STATE_VERSION = 1

# Roughly the sum of the jieba dictionary's frequencies: turns a word frequency into a
# probability for the background rarity.
_JIEBA_TOTAL = 60_101_967.0

_URL = re.compile(r"https?://[^\s\u3000，。！？、]+|www\.[^\s\u3000，。！？、]+", re.I)
# Repost chains and mentions: the handle names who reposted, not what happened, and official
# accounts are @-mentioned in unrelated stories alike.
_MENTION = re.compile(r"(?://|回复)?@[\w\-\u4e00-\u9fff·]{1,30}[:：]?")
_BOILER = re.compile(r"转发微博|转发了|网页链接|展开全文|查看图片|原文链接|点击链接|O网页链接")
_EMOTE = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,6}\]")
_NON_WORD = re.compile(r"[^0-9a-z\u3400-\u9fff]+")
_CJK = re.compile(r"[\u3400-\u9fff]")

# Function words and words every school post uses: they say nothing about which story it is.
_STOP: frozenset[str] = frozenset(
    """
    我们 你们 他们 她们 大家 自己 这个 那个 这些 那些 什么 怎么 为什么 如何 还是 就是 但是 因为
    所以 如果 已经 现在 今天 昨天 明天 今年 去年 上午 下午 晚上 早上 中午 时候 一个 一些 没有 可以
    不是 这样 那样 真的 还有 而且 以及 并且 或者 其中 其他 目前 近日 日前 此前 之后 以后 以前 之前
    表示 认为 进行 相关 有关 情况 问题 工作 方面 通过 按照 根据 关于 对于 一起 一下 知道 觉得 希望
    学生 学校 校方 老师 教师 家长 孩子 同学 同学们 班主任 校长 年级 班级 学期 开学 上课 放学 教育
    教育局 中学 小学 高中 初中 一中 二中 学院 大学 全校 校园 网友 记者 视频 微博 转发 评论 通知 通报
    回应 消息 发布 来源 原文 链接 图片 全文 公众号 官方 本校 我校 该校 这所 孩子们 小孩 家里 事情
    涉事 网传 一事 针对 一名 依规 依纪 依法 严肃处理 妥善处理 高度重视 第一时间 核实 核查 调查 调查组
    相关部门 有关部门 情况说明 说明 处理 介绍 了解 获悉 据悉 据了解 目前 下一步 将会 进一步 有人 听说
    """.split()
)
_GENERIC_WEIGHT = 0.05


@dataclass(frozen=True, slots=True)
class EventParams:
    """Tuning knobs. The defaults were set on the project's own fixtures, not on eval sets."""

    window_hours: float = 72.0
    num_perm: int = 64
    bands: int = 16  # 16 bands x 4 rows: a pair with Jaccard 0.6 is a candidate 9 times in 10
    seed: int = 20260901
    shingle: int = 3
    top_terms: int = 16
    max_posts: int = 20_000  # bounds memory when a flood lands inside one window
    posting_cap: int = 200  # a term in more window posts than this is not used to find candidates
    # Near-duplicate rule: the shorter text is mostly inside the longer one.
    min_containment: float = 0.6
    min_shingles: int = 12
    min_jaccard: float = 0.5
    # Shared-terms rule: enough rare weight in common, and a fair share of each post's rare weight.
    min_shared_weight: float = 1.6
    min_shared_ratio: float = 0.3


@dataclass(slots=True)
class _Entry:
    seq: int
    post_id: str
    ts: float
    event: str
    digest: array[int]
    size: int
    terms: tuple[str, ...]


def event_id_for(post_id: str) -> str:
    """Deterministic event id: named after the post that opened the event."""
    return "ev-" + hashlib.blake2b(post_id.encode("utf-8"), digest_size=6).hexdigest()


@lru_cache(maxsize=200_000)
def _background_rarity(term: str) -> float:
    """0 for everyday words, 1 for words that are rare in general Chinese (names, specifics)."""
    if term in _STOP:
        return 0.0
    if not _CJK.search(term):
        # Numbers and latin tokens: amounts, dates, codes. Specific, but dates recur across
        # unrelated stories of the same week, so a middling weight.
        return 0.5 if len(term) >= 3 else 0.3
    freq = max(1, rjieba.suggest_freq(term))
    return min(1.0, max(0.02, (math.log(_JIEBA_TOTAL / freq) - 8.0) / 6.0))


def _timestamp(value: datetime | float | int | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


class EventClusterer:
    """Streaming same-story clusterer. ``add`` returns the event id of each post."""

    def __init__(
        self, ignore_terms: Iterable[str] = (), params: EventParams | None = None
    ) -> None:
        self.params = params or EventParams()
        self.ignore_terms: tuple[str, ...] = tuple(
            sorted({t.strip().lower() for t in ignore_terms if t and t.strip()}, key=len, reverse=True)
        )
        self._ignore_re = (
            re.compile("|".join(re.escape(unicodedata.normalize("NFKC", t)) for t in self.ignore_terms))
            if self.ignore_terms
            else None
        )
        p = self.params
        if p.num_perm % p.bands:
            raise ValueError("num_perm must be a multiple of bands")
        self._rows = p.num_perm // p.bands
        self._entries: dict[int, _Entry] = {}
        self._order: deque[int] = deque()
        self._by_post: dict[str, int] = {}
        self._bands: dict[tuple[int, ...], dict[int, None]] = {}
        self._postings: dict[str, dict[int, None]] = {}
        self._members: dict[str, dict[int, None]] = {}
        self._seq = 0
        self._max_ts: float | None = None

    # -- public API -----------------------------------------------------------------------

    def add(
        self,
        post_id: str,
        text: str,
        published_at: datetime | float | None = None,
        title: str = "",
    ) -> str:
        """Place one post; returns its event id (the same id again for a post id seen before)."""
        seq = self._by_post.get(post_id)
        if seq is not None:
            return self._entries[seq].event
        ts = _timestamp(published_at)
        if ts is None:
            ts = self._max_ts if self._max_ts is not None else 0.0
        if self._max_ts is None or ts > self._max_ts:
            self._max_ts = ts
        self._evict()

        body = self._clean(f"{title}\n{text}" if title and title not in text else text)
        shingles = self._shingles(body)
        digest = self._digest(shingles)
        weights = self._term_weights(body)
        top = tuple(
            t for t, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[: self.params.top_terms]
        )
        best = self._best_candidate(ts, digest, len(shingles), weights, top)
        event = self._entries[best].event if best is not None else event_id_for(post_id)
        self._insert(_Entry(self._seq, post_id, ts, event, digest, len(shingles), top))
        return event

    def event_of(self, post_id: str) -> str | None:
        """The event of a post still in the window, or None."""
        seq = self._by_post.get(post_id)
        return self._entries[seq].event if seq is not None else None

    def __len__(self) -> int:
        return len(self._entries)

    def state(self) -> dict[str, Any]:
        """JSON-serialisable state: parameters, ignore words and the posts still in the window."""
        return {
            "version": STATE_VERSION,
            "params": {k: getattr(self.params, k) for k in EventParams.__slots__},
            "ignore_terms": list(self.ignore_terms),
            "max_ts": self._max_ts,
            "posts": [
                {
                    "id": e.post_id,
                    "ts": e.ts,
                    "event": e.event,
                    "digest": e.digest.tolist(),
                    "size": e.size,
                    "terms": list(e.terms),
                }
                for e in (self._entries[s] for s in self._order if s in self._entries)
            ],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> EventClusterer:
        """Rebuild a clusterer from ``state()``; the result clusters exactly as the original would."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported event state version: {state.get('version')!r}")
        params = EventParams(**dict(state.get("params", {})))
        self = cls(state.get("ignore_terms", ()), params)
        for item in state.get("posts", []):
            digest = array("I", item["digest"])
            if len(digest) != params.num_perm:
                raise ValueError("event state digest has the wrong length")
            self._insert(
                _Entry(
                    self._seq,
                    str(item["id"]),
                    float(item["ts"]),
                    str(item["event"]),
                    digest,
                    int(item["size"]),
                    tuple(item["terms"]),
                )
            )
        max_ts = state.get("max_ts")
        self._max_ts = float(max_ts) if max_ts is not None else None
        return self

    # -- text features --------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text).lower()
        text = _URL.sub(" ", text)
        text = _MENTION.sub(" ", text)
        text = _EMOTE.sub(" ", text)
        text = _BOILER.sub(" ", text)
        if self._ignore_re is not None:
            text = self._ignore_re.sub(" ", text)
        return text

    def _shingles(self, text: str) -> set[str]:
        s = _NON_WORD.sub("", text)
        k = self.params.shingle
        if len(s) <= k:
            return {s} if s else set()
        return {s[i : i + k] for i in range(len(s) - k + 1)}

    def _digest(self, shingles: set[str]) -> array[int]:
        mh = RMinHash(self.params.num_perm, self.params.seed)
        if shingles:
            mh.update(sorted(shingles))
        return array("I", mh.digest())

    def _term_weights(self, text: str) -> dict[str, float]:
        n = len(self._entries)
        out: dict[str, float] = {}
        for tok in rjieba.cut_for_search(text):
            tok = tok.strip()
            if len(tok) < 2 or tok in out or _NON_WORD.fullmatch(tok):
                continue
            if not _CJK.search(tok) and not tok.isalnum():
                continue
            w = _background_rarity(tok)
            if w <= 0.0:
                continue
            # A term in a large share of the window (the principal's name, this term's
            # exam) stops telling stories apart; small events must not trigger this.
            df = len(self._postings.get(tok, ()))
            if n >= 200 and df > 0.05 * n:
                w *= 0.05 * n / df
            out[tok] = max(w, _GENERIC_WEIGHT) if tok not in _STOP else _GENERIC_WEIGHT
        return out

    # -- matching -------------------------------------------------------------------------

    def _band_keys(self, digest: array[int]) -> list[tuple[int, ...]]:
        r = self._rows
        return [(b, *digest[b * r : (b + 1) * r]) for b in range(self.params.bands)]

    def _best_candidate(
        self,
        ts: float,
        digest: array[int],
        size: int,
        weights: dict[str, float],
        top: tuple[str, ...],
    ) -> int | None:
        p = self.params
        cands: set[int] = set()
        if size:
            for key in self._band_keys(digest):
                bucket = self._bands.get(key)
                if bucket:
                    cands.update(bucket)
        for t in top:
            posting = self._postings.get(t)
            if posting and len(posting) <= p.posting_cap:
                cands.update(posting)
        if not cands:
            return None
        window = p.window_hours * 3600.0
        own_weight = sum(weights[t] for t in top)
        best: int | None = None
        best_score = 0.0
        seen_events: set[str] = set()
        # Sorted so that ties resolve the same way on every run.
        for seq in sorted(cands):
            e = self._entries.get(seq)
            if e is None or abs(e.ts - ts) > window:
                continue
            score = self._near_dup_score(digest, size, e)
            if e.event not in seen_events:
                seen_events.add(e.event)
                # Follow-ups share some terms with one earlier post and some with another:
                # compare with the terms of the whole event, not post by post.
                score = max(score, self._event_term_score(e.event, ts, weights, top, own_weight))
            if score > best_score:
                best, best_score = seq, score
        return best

    def _event_term_score(
        self,
        event: str,
        ts: float,
        weights: dict[str, float],
        top: tuple[str, ...],
        own_weight: float,
    ) -> float:
        p = self.params
        if own_weight <= 0:
            return 0.0
        window = p.window_hours * 3600.0
        terms: set[str] = set()
        for seq in self._members.get(event, {}):
            e = self._entries[seq]
            if abs(e.ts - ts) <= window:
                terms.update(e.terms)
        shared = sum(weights[t] for t in top if t in terms)
        ratio = shared / own_weight
        if shared >= p.min_shared_weight and ratio >= p.min_shared_ratio:
            return ratio
        return 0.0

    def _near_dup_score(self, digest: array[int], size: int, other: _Entry) -> float:
        """> 1 when the shorter text is mostly inside the longer one (repost, copied article)."""
        p = self.params
        if not size or not other.size:
            return 0.0
        same = sum(1 for a, b in zip(digest, other.digest, strict=True) if a == b)
        jac = same / p.num_perm
        if not jac:
            return 0.0
        small = min(size, other.size)
        # |A ∩ B| = J (|A| + |B|) / (1 + J); containment of the shorter text in the longer.
        contain = min(1.0, jac * (size + other.size) / ((1.0 + jac) * small))
        if jac >= p.min_jaccard or (small >= p.min_shingles and contain >= p.min_containment):
            return 1.0 + contain
        return 0.0

    # -- index maintenance ----------------------------------------------------------------

    def _insert(self, e: _Entry) -> None:
        self._seq = max(self._seq, e.seq) + 1
        self._entries[e.seq] = e
        self._order.append(e.seq)
        self._by_post[e.post_id] = e.seq
        if e.size:
            for key in self._band_keys(e.digest):
                self._bands.setdefault(key, {})[e.seq] = None
        for t in e.terms:
            self._postings.setdefault(t, {})[e.seq] = None
        self._members.setdefault(e.event, {})[e.seq] = None
        if len(self._entries) > self.params.max_posts:
            self._remove(self._order.popleft())

    def _evict(self) -> None:
        if self._max_ts is None:
            return
        horizon = self._max_ts - self.params.window_hours * 3600.0
        # Arrival order is close to time order; a late straggler only stays a little longer.
        while self._order and self._entries[self._order[0]].ts < horizon:
            self._remove(self._order.popleft())

    def _remove(self, seq: int) -> None:
        e = self._entries.pop(seq, None)
        if e is None:
            return
        if self._by_post.get(e.post_id) == seq:
            del self._by_post[e.post_id]
        if e.size:
            for key in self._band_keys(e.digest):
                bucket = self._bands.get(key)
                if bucket is not None:
                    bucket.pop(seq, None)
                    if not bucket:
                        del self._bands[key]
        for t in e.terms:
            posting = self._postings.get(t)
            if posting is not None:
                posting.pop(seq, None)
                if not posting:
                    del self._postings[t]
        members = self._members.get(e.event)
        if members is not None:
            members.pop(seq, None)
            if not members:
                del self._members[e.event]
