"""Same-story clustering: fold reposts, rewrites and follow-ups of one happening into one event.

Two signals decide whether a new post belongs to an earlier story:

* **Near-duplicate text** (within ``window_hours``, 72 h): MinHash (rensa ``RMinHash``) over
  character 3-shingles. From the estimated Jaccard and the shingle-set sizes we get the
  *containment* of the shorter text in the longer one, which stays high for a repost with a
  long comment added while its Jaccard falls.
* **Shared rare terms**: jieba words weighted by how rare they are in general Chinese (the
  jieba dictionary frequency) and in the current window. Rewrites by other outlets and
  follow-ups reuse the names, numbers and specific nouns of the story, not its sentences. A
  post is compared with an event's *profile* (the recurring terms of its newest posts), since
  a follow-up may echo one earlier post and a rewrite another. Within 72 h a moderate overlap
  is enough; official statements and replies that come later (up to ``follow_up_hours``,
  7 days) need a stronger one.

The scheme's subject, region and exclude words are removed before either signal is computed,
so the school's own name, which every post shares, never links two stories; common school
words (学生, 家长, 通报, grades and classes …) carry almost no weight for the same reason.

Candidates come from a banded LSH index over the MinHash digests and an inverted index of each
post's rarest terms. Both indexes are plain dicts of small lists (rensa's ``RMinHashLSH``
cannot be rebuilt from stored digests), so the whole state is a JSON-serialisable list of
window entries (``state()`` / ``from_state()``). Work per post and memory are bounded: only
the newest posts per term are scanned, a few events are compared in full, and the window
holds at most ``max_posts`` posts.

Clustering is streaming and order-dependent by nature; ids are deterministic: an event is
named after the post that opened it (``ev-`` + a hash of its id), and adding a post id again
returns the event it already has.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import math
import operator
import re
import sys
from array import array
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, filterfalse, islice
from typing import Any

import rjieba
from rensa import RMinHash

from .normalize import fold

STATE_VERSION = 1

# Roughly the sum of the jieba dictionary's frequencies: turns a word frequency into a
# probability for the background rarity.
_JIEBA_TOTAL = 60_101_967.0

# Noise removed before comparing (the text is lower-cased first). Repost chains and mentions:
# the handle names who reposted, not what happened, and official accounts are @-mentioned in
# unrelated stories alike.
# Every alternative starts with a literal character, so the regex engine skips ahead to the
# characters that can start one instead of trying every alternative at every position (an
# optional group or a class in front would lose that: 10x slower on a 300-character post).
_NOISE_PATTERNS = (
    r"https?://[^\s\u3000，。！？、]+|www\.[^\s\u3000，。！？、]+",  # URLs
    r"//@{m}|回复@{m}|@{m}".format(m=r"[\w\-\u4e00-\u9fff·]{1,30}[:：]?"),  # //@name: and @name
    r"\[[\u4e00-\u9fffa-z]{1,6}\]",  # [哈哈] emotes
    r"转发微博|转发了|网页链接|展开全文|查看图片|原文链接|点击链接",  # platform boilerplate
)
_NON_WORD = re.compile(r"[^0-9a-z\u3400-\u9fff]+")
_CJK = re.compile(r"[\u3400-\u9fff]")

# Function words and words every school post uses: they say nothing about which story it is.
_STOP_WORDS = """
    我们 你们 他们 她们 大家 自己 这个 那个 这些 那些 什么 怎么 为什么 如何 还是 就是 但是 因为
    所以 如果 已经 现在 今天 昨天 明天 今年 去年 上午 下午 晚上 早上 中午 时候 一个 一些 没有 可以
    不是 这样 那样 真的 还有 而且 以及 并且 或者 其中 其他 目前 近日 日前 此前 之后 以后 以前 之前
    表示 认为 进行 相关 有关 情况 问题 工作 方面 通过 按照 根据 关于 对于 一起 一下 知道 觉得 希望
    学生 学校 校方 老师 教师 家长 孩子 同学 同学们 班主任 校长 年级 班级 学期 开学 上课 放学 教育
    教育局 中学 小学 高中 初中 一中 二中 学院 大学 全校 校园 网友 记者 视频 微博 转发 评论 通知 通报
    回应 消息 发布 来源 原文 链接 图片 全文 公众号 官方 本校 我校 该校 这所 孩子们 小孩 家里 事情
    涉事 网传 一事 针对 一名 依规 依纪 依法 严肃处理 妥善处理 高度重视 第一时间 核实 核查 调查 调查组
    相关部门 有关部门 情况说明 说明 处理 介绍 了解 获悉 据悉 据了解 目前 下一步 将会 进一步 有人 听说
"""
_STOP: frozenset[str] = frozenset(_STOP_WORDS.split())
_GENERIC_WEIGHT = 0.05
# Grades and classes (高二, 二年级, 初三, 7班): every story in a school names some.
_GRADE = re.compile(
    r"^(?:[高初]?[一二三四五六七八九]年级|[高初][一二三]|[一二三四五六七八九十\d]{1,3}班|"
    r"[大研][一二三四]|[小初高]中部)$"
)


@dataclass(frozen=True, slots=True)
class EventParams:
    """Tuning knobs. The defaults were set on the project's own fixtures, not on eval sets."""

    window_hours: float = 72.0
    # Official statements, bureau replies and petition answers come days later and share few
    # words with the first posts: they may join up to this long after, on stronger evidence.
    follow_up_hours: float = 168.0
    follow_up_shared_weight: float = 2.0
    follow_up_shared_ratio: float = 0.2
    num_perm: int = 64
    bands: int = 16  # 16 bands x 4 rows: a pair with Jaccard 0.6 is a candidate 9 times in 10
    seed: int = 20260901
    shingle: int = 3
    top_terms: int = 16
    max_posts: int = 20_000  # bounds memory when a flood lands inside one window
    max_chars: int = 2_000  # a story shows in its first paragraphs; bounds time per long article
    posting_cap: int = 200  # a term in more window posts than this is not used to find candidates
    posting_scan: int = 48  # newest posts looked at per term, and per event when pooling terms
    profile_members: int = 24  # newest posts of an event whose terms make its profile
    max_event_candidates: int = 4  # events compared in full per post, the best-sharing ones
    # Near-duplicate rule: the shorter text is mostly inside the longer one.
    min_containment: float = 0.6
    min_shingles: int = 12
    min_jaccard: float = 0.5
    # Shared-terms rule: enough rare weight in common, and a fair share of each post's rare weight.
    min_shared_weight: float = 1.2
    min_shared_ratio: float = 0.15


_Posting = tuple[int, float, str]  # seq, ts, event of one post carrying a term


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


_RARITY_CACHE: dict[str, float] = {}
_RARITY_POSITIVE: set[str] = set()  # the cached words that weigh more than 0
_RARITY_CACHE_MAX = 100_000


def _background_rarity(term: str) -> float:
    """0 for everyday words and non-words, up to 1 for words rare in general Chinese."""
    w = _RARITY_CACHE.get(term)
    if w is None:
        if len(_RARITY_CACHE) >= _RARITY_CACHE_MAX:
            _RARITY_CACHE.clear()  # bounded memory; refilling is cheap
            _RARITY_POSITIVE.clear()
        w = _RARITY_CACHE[term] = _rarity(term)
        if w > 0.0:
            _RARITY_POSITIVE.add(term)
    return w


_SLICES: dict[int, list[slice]] = {}


def word_shingles(folded: str, k: int) -> set[str]:
    """Character ``k``-shingles of already folded text, punctuation, spaces and emoji removed
    (also the features of ``similarity``, which compares texts exactly)."""
    s = _NON_WORD.sub("", folded)
    if len(s) <= k:
        return {s} if s else set()
    # Slicing through prebuilt slice objects in C: no Python loop per shingle.
    return set(map(s.__getitem__, _slices(k, len(s) - k + 1)))


def _slices(k: int, count: int) -> list[slice]:
    """``count`` slices of width ``k`` at offsets 0, 1, …; built once per width and reused."""
    cached = _SLICES.get(k)
    if cached is None or len(cached) < count:
        size = max(count, 4096)
        cached = _SLICES[k] = [slice(i, i + k) for i in range(size)]
    return cached[:count] if count < len(cached) else cached


def _rarity(term: str) -> float:
    if term in _STOP or len(term) < 2:
        return 0.0
    if _GRADE.match(term):
        return _GENERIC_WEIGHT
    if not _CJK.search(term):
        if _NON_WORD.search(term):
            return 0.0  # punctuation, spaces, emoji
        # Numbers and latin tokens: amounts, dates, codes. Specific, but dates recur across
        # unrelated stories of the same week, so a middling weight.
        return 0.5 if len(term) >= 3 else 0.3
    if _NON_WORD.search(term):
        return 0.0
    if not rjieba.has_word(term):
        # Out-of-dictionary strings are mostly segmentation debris ("班全", "群刚"); some are
        # names. Rarely shared by chance, but not worth a full rare word either.
        return 0.5
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

    def __init__(self, ignore_terms: Iterable[str] = (), params: EventParams | None = None) -> None:
        self.params = params or EventParams()
        self.ignore_terms: tuple[str, ...] = tuple(
            sorted(
                {t.strip().lower() for t in ignore_terms if t and t.strip()}, key=len, reverse=True
            )
        )
        # Folded as the text is (fold: NFKC and case folding per character).
        ignore = [re.escape(f) for f in map(fold, self.ignore_terms) if f]
        # One pass over the text for all noise and the school's names.
        self._noise_re = re.compile("|".join([*_NOISE_PATTERNS, *ignore]))
        p = self.params
        if p.num_perm % p.bands:
            raise ValueError("num_perm must be a multiple of bands")
        self._rows = p.num_perm // p.bands
        self._horizon = max(p.window_hours, p.follow_up_hours) * 3600.0
        self._entries: dict[int, _Entry] = {}
        self._order: deque[int] = deque()
        self._by_post: dict[str, int] = {}
        # Lists, not sets or dicts: most buckets hold one or two posts, and a small list is a
        # quarter of the memory of a small dict. Removal is from the front (oldest first).
        self._bands: dict[int, list[int]] = {}
        # Per term, (seq, ts, event) of the posts carrying it, oldest first: one tuple per post
        # shared by all its terms, so the scan for candidates reads no entry.
        self._postings: dict[str, list[_Posting]] = {}
        self._members: dict[str, list[int]] = {}
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

        body = f"{title}\n{text}" if title and title not in text else text
        body = self._clean(body[: self.params.max_chars])
        shingles = self._shingles(body)
        digest = self._digest(shingles)
        keys = self._band_keys(digest) if shingles else []
        weights = self._term_weights(rjieba.cut(body))
        # Stable sort: equal weights keep text order, so the choice is deterministic.
        ranked = sorted(weights, key=weights.__getitem__, reverse=True)
        top = tuple(map(sys.intern, ranked[: self.params.top_terms]))
        best = self._best_candidate(ts, keys, digest, len(shingles), weights, top)
        event = self._entries[best].event if best is not None else event_id_for(post_id)
        self._insert(_Entry(self._seq, post_id, ts, event, digest, len(shingles), top), keys)
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
                    "digest": base64.b64encode(e.digest.tobytes()).decode("ascii"),
                    "size": e.size,
                    "terms": list(e.terms),
                }
                for e in (self._entries[s] for s in self._order if s in self._entries)
            ],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> EventClusterer:
        """Rebuild a clusterer from ``state()``; it then clusters exactly as the original would.

        Raises ValueError for a state of another version or a damaged one.
        """
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported event state version: {state.get('version')!r}")
        try:
            params = EventParams(**dict(state.get("params", {})))
            self = cls(state.get("ignore_terms", ()), params)
            for item in state.get("posts", []):
                digest = array("I")
                digest.frombytes(base64.b64decode(item["digest"], validate=True))
                if len(digest) != params.num_perm:
                    raise ValueError("digest has the wrong length")
                self._insert(
                    _Entry(
                        self._seq,
                        str(item["id"]),
                        float(item["ts"]),
                        str(item["event"]),
                        digest,
                        int(item["size"]),
                        tuple(sys.intern(str(t)) for t in item["terms"]),
                    )
                )
            max_ts = state.get("max_ts")
            self._max_ts = float(max_ts) if max_ts is not None else None
        except (KeyError, TypeError, ValueError) as exc:  # binascii.Error is a ValueError
            raise ValueError(f"damaged event state: {exc}") from None
        return self

    # -- text features --------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        # The matcher's character fold (NFKC + case folding through one table lookup; emoji
        # and zero-width characters dropped): 10x cheaper than unicodedata's NFKC on a post.
        return self._noise_re.sub(" ", fold(text))

    def _shingles(self, text: str) -> set[str]:
        return word_shingles(text, self.params.shingle)

    def _digest(self, shingles: set[str]) -> array[int]:
        mh = RMinHash(self.params.num_perm, self.params.seed)
        if shingles:
            mh.update(shingles)  # MinHash is order-independent
        return array("I", mh.digest())

    def _term_weights(self, tokens: list[str]) -> dict[str, float]:
        """Rarity weight of each distinct word; only the rarest can reach ``top_terms``."""
        uniq = dict.fromkeys(tokens)  # text order: ties in rank resolve the same every run
        cache = _RARITY_CACHE
        if len(cache) + len(uniq) > _RARITY_CACHE_MAX:
            # Cleared here, not halfway through the loop below (which would lose its words).
            cache.clear()
            _RARITY_POSITIVE.clear()
        for tok in filterfalse(cache.__contains__, uniq):  # words not seen before (rare)
            _background_rarity(tok)
        # Filtered in C: most words of a post (function words, single characters) weigh 0.
        positive = _RARITY_POSITIVE
        out = {tok: cache[tok] for tok in filter(positive.__contains__, uniq)}
        n = len(self._entries)
        if n >= 200 and out:
            # A term in a large share of the window (the principal's name, this term's exam)
            # stops telling stories apart. Checked for the candidates for the top terms only.
            postings = self._postings
            limit = 0.05 * n
            for tok in sorted(out, key=out.__getitem__, reverse=True)[: 2 * self.params.top_terms]:
                df = len(postings.get(tok, ()))
                if df > limit:
                    out[tok] *= limit / df
        return out

    # -- matching -------------------------------------------------------------------------

    def _band_keys(self, digest: array[int]) -> list[int]:
        # A hash stands for the band's rows (their bytes, plus the band number so that equal
        # rows in two bands differ): a collision only adds a candidate, which the similarity
        # check then rejects. Keys are never stored in the state, so they may change freely.
        raw = digest.tobytes()
        width = self._rows * digest.itemsize
        return [hash(raw[i : i + width]) + b for b, i in enumerate(range(0, len(raw), width))]

    def _best_candidate(
        self,
        ts: float,
        keys: list[int],
        digest: array[int],
        size: int,
        weights: dict[str, float],
        top: tuple[str, ...],
    ) -> int | None:
        p = self.params
        window = p.window_hours * 3600.0
        entries = self._entries
        best: int | None = None
        best_score = 0.0
        # Near duplicates: only posts sharing an LSH band can have a high Jaccard.
        near: set[int] = set()
        if size:
            for key in keys:
                bucket = self._bands.get(key)
                if bucket:
                    near.update(bucket)
        for seq in sorted(near):  # sorted: ties resolve the same way on every run
            e = entries[seq]
            if abs(e.ts - ts) > window:
                continue
            score = self._near_dup_score(digest, size, e)
            if score > best_score:
                best, best_score = seq, score
        # Shared rare terms, per event: follow-ups share some terms with one earlier post and
        # some with another, so the event's terms are pooled. The postings give, per event,
        # how much of this post's rare weight it may share: an upper bound to shortlist by.
        recent_bound: dict[str, float] = {}
        any_bound: dict[str, float] = {}
        first_seq: dict[str, int] = {}
        horizon = self._horizon
        for t in top:
            posting = self._postings.get(t)
            if not posting or len(posting) > p.posting_cap:
                continue
            w = weights[t]
            # Dicts, not sets: insertion order (newest post first) makes the tie-breaks below
            # the same in every process, where a set's order follows the string hash seed.
            recent: dict[str, None] = {}
            late: dict[str, None] = {}
            # The newest posts carrying the term are the likeliest relatives; scanning only
            # those bounds the work per post however large an event grows.
            for seq, ets, ev in islice(reversed(posting), p.posting_scan):
                gap = abs(ets - ts)
                if gap <= window:
                    recent[ev] = None
                elif gap <= horizon:
                    late[ev] = None
                else:
                    continue
                if first_seq.get(ev, seq + 1) > seq:
                    first_seq[ev] = seq
            for ev in recent:
                recent_bound[ev] = recent_bound.get(ev, 0.0) + w
            for ev in recent | late:
                any_bound[ev] = any_bound.get(ev, 0.0) + w
        if not any_bound:
            return best
        own_weight = sum(weights[t] for t in top)
        floor = min(p.min_shared_weight, p.follow_up_shared_weight)
        bound = {ev: b for ev, b in any_bound.items() if b >= floor}
        # Only the events sharing the most rare weight are worth the full comparison.
        shortlist = heapq.nlargest(p.max_event_candidates, bound, key=bound.__getitem__)
        for event in sorted(shortlist, key=first_seq.__getitem__):
            score = 0.0
            if recent_bound.get(event, 0.0) >= p.min_shared_weight:
                score = self._event_term_score(
                    event, ts, top, own_weight, weights, window,
                    p.min_shared_weight, p.min_shared_ratio,
                )  # fmt: skip
            if not score and any_bound[event] >= p.follow_up_shared_weight:
                score = self._event_term_score(
                    event, ts, top, own_weight, weights, horizon,
                    p.follow_up_shared_weight, p.follow_up_shared_ratio,
                )  # fmt: skip
            if score > best_score:
                best, best_score = first_seq[event], score
        return best

    def _event_term_score(
        self,
        event: str,
        ts: float,
        top: tuple[str, ...],
        own_weight: float,
        weights: dict[str, float],
        span: float,
        min_shared: float,
        min_ratio: float,
    ) -> float:
        """How much of this post's rare content the event's profile covers (0: not enough)."""
        newest = islice(reversed(self._members.get(event, ())), self.params.profile_members)
        recent = [e.terms for e in map(self._entries.__getitem__, newest) if abs(e.ts - ts) <= span]
        if not recent:
            return 0.0
        members = len(recent)
        counts = Counter(chain.from_iterable(recent))
        # The event's profile: its most recurrent terms (each post's terms are already its
        # rarest). Pooling every term of a large event would let it swallow any post about
        # the school (a snowball); a small event keeps all its terms, so a follow-up can
        # match any of its posts. Ties keep first-seen order: deterministic.
        profile = (
            set(counts)
            if members <= 3
            else set(heapq.nlargest(2 * self.params.top_terms, counts, key=counts.__getitem__))
        )
        shared = sum(weights[t] for t in top if t in profile)
        if shared < min_shared:
            return 0.0
        # Relative to the smaller side, so that a short post joining a long article (or the
        # reverse) is judged by how much of *its* specific content the other covers.
        theirs = sum(weights.get(t) or _background_rarity(t) for t in profile)
        ratio = shared / max(1e-9, min(own_weight, theirs))
        return ratio if ratio >= min_ratio else 0.0

    def _near_dup_score(self, digest: array[int], size: int, other: _Entry) -> float:
        """> 1 when the shorter text is mostly inside the longer one (repost, copied article)."""
        p = self.params
        if not size or not other.size:
            return 0.0
        same = sum(map(operator.eq, digest, other.digest))  # equal rows, counted in C
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

    def _insert(self, e: _Entry, keys: list[int] | None = None) -> None:
        self._seq = max(self._seq, e.seq) + 1
        self._entries[e.seq] = e
        self._order.append(e.seq)
        self._by_post[e.post_id] = e.seq
        ref = (e.seq, e.ts, e.event)
        if e.size:
            for key in keys if keys is not None else self._band_keys(e.digest):
                self._bands.setdefault(key, []).append(e.seq)
        for t in e.terms:
            self._postings.setdefault(t, []).append(ref)
        self._members.setdefault(e.event, []).append(e.seq)
        if len(self._entries) > self.params.max_posts:
            self._remove(self._order.popleft())

    def _evict(self) -> None:
        if self._max_ts is None:
            return
        horizon = self._max_ts - self._horizon
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
                _discard(self._bands, key, seq)
        for t in e.terms:
            _discard(self._postings, t, (seq, e.ts, e.event))
        _discard(self._members, e.event, seq)


def _discard(index: dict[Any, list[Any]], key: Any, seq: Any) -> None:
    items = index.get(key)
    if items is None:
        return
    try:
        items.remove(seq)
    except ValueError:
        return
    if not items:
        del index[key]
