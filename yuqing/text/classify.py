"""Labelling: relevance, sentiment, topic and risk, each with scores and reasons.

``Classifier.label(post, match, scheme)`` labels one post; ``label_many`` labels a batch and
vectorises the whole batch at once (one hashing pass shared by the sentiment and topic models,
one for the relevance contexts). Lexicon look-ups go through one Aho-Corasick automaton.

Relevance works from the scheme given at run time (any school): subject-word hits are masked
to a placeholder, so the learned context model sees "毗邻Ⓢ", "Ⓧ站" or "Ⓢ食堂" rather than any
school's name, and dense features (hits in the title, region words, exclude words, other
schools named nearby, the source) carry the rest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick_rs
import numpy as np

from .lexicons import KINDS, Lexicon, default_lexicon
from .models import TextModel, logit, transform_many
from .types import SENTIMENTS, TOPICS, Hit, Labels, Post, Reason, SchemeMatch

MODEL_DIR = Path(__file__).with_name("model_files")
MODEL_FILES = {
    "relevance": "relevance.npz",
    "negative": "sentiment_negative.npz",
    "positive": "sentiment_positive.npz",
    "topic": "topic.npz",
    "short": "sentiment_short.npz",
}

# Placeholders the relevance context model sees instead of scheme words.
SUBJECT_MARK = "Ⓢ"
ALIAS_MARK = "ⓢ"
REGION_MARK = "Ⓡ"
EXCLUDE_MARK = "Ⓧ"
CONTEXT_CHARS = 24
# Texts longer than this are judged (sentiment, topic, risk terms) mainly around the mentions:
# a city digest with one sentence about the school is about that sentence.
LONG_TEXT = 300
OTHER_TOPIC_PENALTY = 0.7
# Operating point of the negative label: missing a complaint costs an office more than reading
# one extra post, so a post is negative somewhat before the evidence reaches even odds.
NEGATIVE_AT = 0.4
# Log-odds taken off per advisory cue (at most two) of a safety reminder or prevention
# campaign ("防溺水专题教育", "谨防诈骗，请家长不要转账"): its warning words are not a
# complaint. Chosen on the project's own held-out notices (see model_files/PROVENANCE.md).
ADVISORY_SHIFT = 1.0
FOCUS_CHARS = 80

RELEVANCE_FEATURES: tuple[str, ...] = (
    "matched",
    "n_subject",
    "subject_in_title",
    "first_subject_pos",
    "has_exclude",
    "only_excluded",
    "region_in_text",
    "region_in_source",
    "subject_in_source",
    "alias_only",
    "we_school",
    "n_other_schools",
    "log_len",
    "subject_early",
    "other_place_prefix",
    "no_reference",
    "author_other_school",
)

_FOCUSED_KINDS = frozenset({"risk", "neg", "pos", "topic", "sarcasm", "concrete"})
_CJK_NUM = "一二三四五六七八九十"
# Names of schools: "X一中", "X市第三中学", "X实验小学"… used to spot lists of schools (exam
# venues, rankings) where this school is one of many.
_SCHOOL_RE = re.compile(
    r"(?=[第一二三四五六七八九十实外中小职幼])"  # one class test rejects most positions
    r"(?:第[" + _CJK_NUM + r"]{1,3}中学|[" + _CJK_NUM + r"]{1,3}[中小](?![文心午国])"
    r"|实验[中小]学|外国语学校|中学|小学|职业技术学院|幼儿园)"
)
_PLACE_SUFFIX = "市县区省镇州"
# A sum of money (hundreds or more: a charge, not the price of a meal) or a count of people
# makes a complaint concrete ("一期三千八", "交了一千二", "8个同学长了水痘"): something an
# office can check and that others repeat (LABELS.md: a concrete complaint is yellow).
# Counts start at two: "一个同学说" is hearsay, not a count.
_COUNTED_RE = re.compile(
    # The lookahead first: most positions fail on one class test instead of three branches.
    r"(?=[\d一二两三四五六七八九十百千万几])(?:"
    r"\d{3,}(?:\.\d+)?\s*(?:块钱?|元)"
    r"|[一二两三四五六七八九][百千万][一二两三四五六七八九]?(?![年米分秒度层楼])"
    r"|(?!一[个名位])(?:\d+|[一二两三四五六七八九十百几]+)[十多余]*[个名位]"
    r"(?:同学|学生|孩子|家长|老师|住校生|女生|男生))"
)
_WE_SCHOOL = ("我校", "本校", "学校官方")
# Characters after which a short alias ("一中") is this school, not the tail of another name.
_ALIAS_LEFT = "的在是到去和与读们边咱我你他了进考上念回送从离"


@dataclass(frozen=True)
class SchemeWords:
    """The scheme words relevance needs (a subset of a monitoring scheme)."""

    name: str
    subject_words: tuple[str, ...]
    region_words: tuple[str, ...] = ()
    exclude_words: tuple[str, ...] = ()
    aliases: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.aliases:
            object.__setattr__(self, "aliases", _short_aliases(self))

    @classmethod
    def coerce(cls, scheme: Any) -> SchemeWords:
        """Build from a ``SchemeWords``, a scheme dict (scheme.json) or any object with
        ``subject_words`` / ``region_words`` / ``exclude_words`` attributes."""
        if isinstance(scheme, SchemeWords):
            return scheme

        def get(key: str) -> Any:
            if isinstance(scheme, Mapping):
                return scheme.get(key)
            return getattr(scheme, key, None)

        return cls(
            name=str(get("name") or ""),
            subject_words=tuple(get("subject_words") or ()),
            region_words=tuple(get("region_words") or ()),
            exclude_words=tuple(get("exclude_words") or ()),
        )


def _short_aliases(s: SchemeWords) -> tuple[str, ...]:
    """Subject words with the region prefix cut off ("滨江一中" -> "一中"): how locals say it."""
    out: set[str] = set()
    regions = sorted(s.region_words, key=len, reverse=True)
    for w in s.subject_words:
        for r in regions:
            if w.startswith(r) and len(w) - len(r) >= 2:
                out.add(w[len(r) :])
                break
    return tuple(sorted(out - set(s.subject_words)))


_WordSpans = dict[str, list[tuple[str, int, int]]]  # kind -> (word, start, end), by start


@dataclass(frozen=True)
class _WordFinder:
    """One Aho-Corasick automaton over a scheme's subject, region and exclude words and short
    aliases: one C-level scan of a field finds every occurrence (overlapping ones too, as
    ``str.find`` from each next position does) instead of one Python search per word."""

    ac: Any
    owners: tuple[tuple[tuple[str, str], ...], ...]  # per pattern: (kind, word) pairs

    def find(self, body: str) -> _WordSpans:
        out: _WordSpans = {}
        if not body or self.ac is None:
            return out
        owners = self.owners
        for pid, s, e in self.ac.find_matches_as_indexes(body, overlapping=True):
            for kind, word in owners[pid]:
                out.setdefault(kind, []).append((word, s, e))
        for spans in out.values():
            spans.sort(key=_span_start)
        return out


def _span_start(x: tuple[str, int, int]) -> int:
    return x[1]


_FINDERS: dict[SchemeWords, _WordFinder] = {}


def _finder(sw: SchemeWords) -> _WordFinder:
    f = _FINDERS.get(sw)
    if f is None:
        owners: dict[str, list[tuple[str, str]]] = {}
        for kind, words in (
            ("subject", sw.subject_words),
            ("region", sw.region_words),
            ("exclude", sw.exclude_words),
            ("alias", sw.aliases),
        ):
            for w in words:
                if w and (kind, w) not in owners.get(w, ()):
                    owners.setdefault(w, []).append((kind, w))
        pats = list(owners)
        ac = (
            ahocorasick_rs.AhoCorasick(pats, matchkind=ahocorasick_rs.MATCHKIND_STANDARD)
            if pats
            else None
        )
        if len(_FINDERS) >= 64:  # schemes of one deployment: a handful; bound it anyway
            _FINDERS.clear()
        f = _FINDERS[sw] = _WordFinder(ac, tuple(tuple(owners[w]) for w in pats))
    return f


def simple_match(
    scheme: SchemeWords,
    title: str,
    text: str,
    kinds: Sequence[str] = ("subject", "region", "exclude"),
    found: Mapping[str, _WordSpans] | None = None,
) -> SchemeMatch:
    """Plain substring matching of the scheme words: the stand-in used when the caller has no
    :class:`SchemeMatch` from the real matcher (which also folds variants and spellings).
    ``found``: the fields already scanned by the scheme's word finder (title, text)."""
    hits: list[Hit] = []
    finder = _finder(scheme) if found is None else None
    for fld, body in (("title", title), ("text", text)):
        spans = found[fld] if found is not None else finder.find(body)  # type: ignore[union-attr]
        for kind in kinds:
            for w, s, e in spans.get(kind, ()):
                hits.append(Hit(w, kind, "exact", fld, s, e, w))  # type: ignore[arg-type]
    subj = _uncovered_subjects(hits) if "subject" in kinds else []
    return SchemeMatch(scheme.name, bool(subj), tuple(hits))


def _uncovered_subjects(hits: Sequence[Hit]) -> list[Hit]:
    """Subject hits not lying inside an exclude hit (not "滨江一中" inside "滨江一中路")."""
    excl = [e for e in hits if e.kind == "exclude"]
    if not excl:
        return [h for h in hits if h.kind == "subject"]
    return [h for h in hits if h.kind == "subject" and not _covered(h, excl)]


def _covered(h: Hit, hits: Iterable[Hit]) -> bool:
    """Whether a subject hit lies inside an exclude hit ("滨江一中" inside "滨江一中路")."""
    return any(
        e.kind == "exclude" and e.field == h.field and e.start <= h.start and h.end <= e.end
        for e in hits
    )


@dataclass
class _View:
    """Per-post intermediate results."""

    full: str
    context: str
    rel_feats: list[float]
    rel_reasons: list[Reason]
    has_reference: bool
    # For long texts: the spans of text around the school's mentions, and title + those spans.
    focus_spans: list[tuple[int, int]] | None = None
    focus_text: str = ""


class Classifier:
    """Relevance, sentiment, topic and risk for posts against a scheme."""

    def __init__(
        self,
        models: Mapping[str, TextModel] | None = None,
        *,
        model_dir: Path | str = MODEL_DIR,
        lexicon: Lexicon | None = None,
    ) -> None:
        self._models: dict[str, TextModel] = dict(models or {})
        self._model_dir = Path(model_dir)
        self.lexicon = lexicon or default_lexicon()
        self._authority_cache: dict[tuple[str, str, str], float] = {}

    _default: Classifier | None = None

    @classmethod
    def default(cls) -> Classifier:
        """The shipped classifier, created once per process (models load on first use)."""
        if cls._default is None:
            cls._default = cls()
        return cls._default

    def model(self, name: str) -> TextModel:
        """One of the models, loaded lazily from the model directory."""
        m = self._models.get(name)
        if m is None:
            path = self._model_dir / MODEL_FILES[name]
            if not path.exists():
                raise FileNotFoundError(
                    f"{path} is missing: run `.venv/bin/python scripts/build_models.py`"
                )
            m = self._models[name] = TextModel.load(path)
        return m

    def with_models(self, **models: TextModel) -> Classifier:
        """A classifier sharing this one's models except those given (e.g. a school's own)."""
        merged = {k: self.model(k) for k in MODEL_FILES}
        merged.update(models)
        return Classifier(merged, model_dir=self._model_dir, lexicon=self.lexicon)

    # -- public API ----------------------------------------------------------------------
    def label(self, post: Post, match: SchemeMatch | None = None, scheme: Any = None) -> Labels:
        """Labels for one post. ``scheme`` (SchemeWords, dict or scheme object) is needed
        for relevance; without it the post is taken as relevant when ``match.matched``."""
        return self.label_many([post], [match], scheme)[0]

    def negative_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(negative) of plain short texts (Weibo comments, no scheme), 0.5 = even odds.

        Models and lexicon evidence as in the sentiment label, but the model log-odds are
        the blend of the school-post model with the short-text (Weibo comment) model. The
        labels of school posts use the school-post model alone: with the blend, school
        posts were called negative too readily (see model_files/PROVENANCE.md)."""
        if len(texts) == 0:
            return np.zeros(0)
        posts = [Post(id=str(i), text=t, source_type="weibo") for i, t in enumerate(texts)]
        return self._score(posts, [None] * len(posts), None, blend=True).p_neg

    def label_many(
        self,
        posts: Sequence[Post],
        matches: Sequence[SchemeMatch | None] | None = None,
        scheme: Any = None,
    ) -> list[Labels]:
        """Labels for a batch: models, lexicon evidence and the combination run once over the
        whole batch as array operations; only the Labels objects are built per post."""
        if not posts:
            return []
        sw = SchemeWords.coerce(scheme) if scheme is not None else None
        ms: list[SchemeMatch | None] = list(matches) if matches is not None else [None] * len(posts)
        if len(ms) != len(posts):
            raise ValueError("posts and matches differ in length")
        sc = self._score(posts, ms, sw)
        return [self._labels(i, sc) for i in range(len(posts))]

    # -- batch scoring -------------------------------------------------------------------
    def _model_scores(
        self, texts: list[str], blend: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(negative), P(positive) and topic scores from the text models, one hashing pass."""
        neg_m, pos_m, top_m = self.model("negative"), self.model("positive"), self.model("topic")
        short_m = self._short_model() if blend else None
        specs = [neg_m.spec, pos_m.spec, top_m.spec] + ([short_m.spec] if short_m else [])
        mats = transform_many(texts, specs)
        z_neg = neg_m.decision(neg_m.with_extra(mats[neg_m.spec], None))[:, 0]
        if short_m is not None:
            # The short-text (Weibo comment) model and the school-post model, blended in
            # log-odds with weights fitted on held-out training rows (see build_models.py).
            a, b, c = short_m.meta.get("blend", (0.5, 0.5, 0.0))
            z_short = short_m.decision(mats[short_m.spec])[:, 0]
            z_neg = a * z_neg + b * z_short + c
        p_neg = 1.0 / (1.0 + np.exp(-np.clip(z_neg, -40, 40)))
        p_pos = pos_m.proba_from_matrix(mats[pos_m.spec])[:, 1]
        z_topic = top_m.decision(mats[top_m.spec])
        if top_m.weights.shape[1] == 1:  # a binary topic model (unusual): expand to two columns
            z_topic = np.column_stack([np.zeros(len(texts)), z_topic])
        return p_neg, p_pos, z_topic

    def _short_model(self) -> TextModel | None:
        try:
            return self.model("short")
        except FileNotFoundError:
            return None  # a model directory from before the short-text model existed

    def _score(
        self,
        posts: Sequence[Post],
        ms: Sequence[SchemeMatch | None],
        sw: SchemeWords | None,
        blend: bool = False,
    ) -> _Batch:
        views = [self._view(p, m, sw) for p, m in zip(posts, ms, strict=True)]
        p_neg_m, p_pos_m, z_topic = self._model_scores([v.full for v in views], blend)
        longs = [i for i, v in enumerate(views) if v.focus_spans]
        if longs:
            # Long texts: blend in the scores of the focus (title + text around mentions).
            pf_neg, pf_pos, zf = self._model_scores([views[i].focus_text for i in longs], blend)
            li = np.array(longs)
            p_neg_m[li] = 0.3 * p_neg_m[li] + 0.7 * pf_neg
            p_pos_m[li] = 0.3 * p_pos_m[li] + 0.7 * pf_pos
            if z_topic.shape[1] > 1:
                z_topic[li] = 0.4 * z_topic[li] + 0.6 * zf
        top_m = self.model("topic")
        if sw is not None:
            rel_m = self.model("relevance")
            extra = np.array([v.rel_feats for v in views], dtype=np.float32)
            p_rel = rel_m.predict_proba([v.context for v in views], extra)[:, 1]
            no_ref = np.array([not v.has_reference for v in views])
            p_rel = np.where(no_ref, np.minimum(p_rel, 0.02), p_rel)  # school never named
        else:
            p_rel = np.array([1.0 if (m is not None and m.matched) else 0.0 for m in ms])
        ev = self._evidence(posts, views, tuple(top_m.classes))
        return _combine_batch(posts, views, p_rel, p_neg_m, p_pos_m, z_topic, top_m.classes, ev)

    def _evidence(
        self, posts: Sequence[Post], views: list[_View], topic_classes: tuple[str, ...]
    ) -> _Evidence:
        """Lexicon evidence of the whole batch, summed per post with NumPy."""
        lex = self.lexicon
        n = len(posts)
        texts = [p.text or "" for p in posts]
        titles = [p.title or "" for p in posts]
        ht, hd = lex.find_batch(texts), lex.find_batch(titles)
        doc = np.concatenate([ht.doc, hd.doc])
        ent = np.concatenate([ht.entry, hd.entry])
        start = np.concatenate([ht.start, hd.start])
        end = np.concatenate([ht.end, hd.end])
        in_text = np.concatenate([np.ones(len(ht.doc), bool), np.zeros(len(hd.doc), bool)])
        kind = lex.e_kind[ent]
        # Long texts: evidence words far from every mention belong to the rest of the article.
        for i, v in enumerate(views):
            if v.focus_spans:
                sel = np.flatnonzero((doc == i) & in_text & np.isin(kind, _FOCUSED_CODES))
                if len(sel):
                    inside = np.zeros(len(sel), bool)
                    for a, b in v.focus_spans:
                        inside |= (start[sel] >= a) & (end[sel] <= b)
                    drop = sel[~inside]
                    keep = np.ones(len(doc), bool)
                    keep[drop] = False
                    doc, ent, start, end, in_text, kind = (
                        doc[keep],
                        ent[keep],
                        start[keep],
                        end[keep],
                        in_text[keep],
                        kind[keep],
                    )
        weight = lex.e_weight[ent]
        level = lex.e_level[ent]
        topic = lex.e_topic[ent]
        # Negation: a cue ending at most two characters before a term ("没有人受伤"); a
        # rhetorical "不就是…" / "不也是…" asserts, so those cues do not count.
        field_key = (doc * 2 + in_text) << 24
        is_negation = np.flatnonzero(kind == _K["negation"])
        neg_keys = [
            int(field_key[j] + end[j])
            for j in is_negation
            if (texts if in_text[j] else titles)[doc[j]][end[j] : end[j] + 1] not in ("就", "也")
        ]
        negated = np.zeros(len(doc), bool)
        if neg_keys:
            nk = np.array(neg_keys, dtype=np.int64)
            for back in (0, 1, 2):
                negated |= np.isin(field_key + start - back, nk)
        negated &= np.isin(kind, _NEGATABLE)
        plain = ~negated
        k_neg, k_pos = kind == _K["neg"], kind == _K["pos"]
        k_risk, k_topic = kind == _K["risk"], kind == _K["topic"]

        def per_post(mask: np.ndarray, w: np.ndarray | float = 1.0) -> np.ndarray:
            ww = np.broadcast_to(np.asarray(w, dtype=np.float64), mask.shape)[mask]
            return np.bincount(doc[mask], weights=ww, minlength=n)

        neg_lex = per_post(k_neg & plain, weight) + per_post(k_pos & negated, 0.6 * weight)
        pos_lex = per_post(k_pos & plain, weight)
        sarcasm = per_post(kind == _K["sarcasm"], weight)
        reassured = per_post(k_risk & negated & (level >= 3))
        risk_rows = np.flatnonzero(k_risk & plain)
        sev = np.zeros(n, dtype=np.int64)
        np.maximum.at(sev, doc[risk_rows], level[risk_rows])
        topic_lex = np.zeros((n, len(TOPICS)))
        tr = np.flatnonzero(k_topic & plain & (topic >= 0))
        np.add.at(topic_lex, (doc[tr], topic[tr]), weight[tr])
        rr = risk_rows[topic[risk_rows] >= 0]
        np.add.at(topic_lex, (doc[rr], topic[rr]), 0.3 * level[rr])
        # Praise inside quotation marks (“优秀”) is said with raised eyebrows.
        quoted = {
            int(doc[j])
            for j in np.flatnonzero(k_pos & plain & in_text)
            if _in_quotes(texts[doc[j]], int(start[j]), int(end[j]))
        }
        for d in quoted:
            sarcasm[d] += 1.0
        # A reminder in quotation marks (发什么“温馨提示”) is the school's, quoted in scorn.
        advisory_rows = kind == _K["advisory"]
        for j in np.flatnonzero(advisory_rows & in_text):
            if _in_quotes(texts[doc[j]], int(start[j]), int(end[j])):
                advisory_rows[j] = False
        cols = [TOPICS.index(c) if c in TOPICS else -1 for c in topic_classes]
        topic_lex_cls = (
            np.column_stack([topic_lex[:, c] if c >= 0 else np.zeros(n) for c in cols])
            if cols
            else np.zeros((n, 0))
        )
        # Rows that become reasons, most useful first: risk, then cues, then sentiment.
        reason_rank = np.full(len(doc), 9, dtype=np.int64)
        reason_rank[k_risk & plain & (level >= 2)] = 0
        reason_rank[np.isin(kind, _CUE_REASONS)] = 1
        reason_rank[kind == _K["sarcasm"]] = 1
        reason_rank[(k_neg & plain) | (k_pos & plain) | (k_pos & negated)] = 2
        sel = np.flatnonzero(reason_rank < 9)
        order = sel[np.lexsort((start[sel], reason_rank[sel], doc[sel]))]
        return _Evidence(
            neg_lex=neg_lex,
            pos_lex=pos_lex,
            sarcasm=sarcasm,
            reassured=reassured,
            sev=sev,
            topic_lex=topic_lex_cls,
            denial=per_post(kind == _K["denial"], weight),
            official=per_post(kind == _K["official"], weight),
            concrete=per_post(kind == _K["concrete"], weight),
            advisory=per_post(advisory_rows, weight),
            counted=np.array(
                [
                    float(_COUNTED_RE.search(v.focus_text if v.focus_spans else v.full) is not None)
                    for v in views
                ]
            ),
            reach=per_post(kind == _K["reach"], weight),
            authority=np.array(
                [self._authority(p.source_type, p.source_name, p.author) for p in posts]
            ),
            r_doc=doc[order],
            r_entry=ent[order],
            r_start=start[order],
            r_end=end[order],
            r_text=in_text[order],
            r_negated=negated[order],
        )

    def _authority(self, source_type: str, source_name: str, author: str) -> float:
        key = (source_type, source_name, author)
        a = self._authority_cache.get(key)
        if a is None:
            if len(self._authority_cache) > 10_000:
                self._authority_cache.clear()
            a = self._authority_cache[key] = self.lexicon.authority(*key)
        return a

    # -- relevance view ------------------------------------------------------------------
    def _view(self, post: Post, match: SchemeMatch | None, sw: SchemeWords | None) -> _View:
        title, text = post.title or "", post.text or ""
        full = f"{title}。{text}" if title else text
        if sw is None:
            return _View(full, "", [], [], True)
        finder = _finder(sw)
        found = {"title": finder.find(title), "text": finder.find(text)}
        if match is None:
            match = simple_match(sw, title, text, found=found)
        else:
            # The real matcher may not report region / exclude words: add plain ones.
            extra_hits = simple_match(sw, title, text, ("region", "exclude"), found).hits
            known = {(h.kind, h.field, h.start, h.end) for h in match.hits}
            add = tuple(h for h in extra_hits if (h.kind, h.field, h.start, h.end) not in known)
            if add:
                match = SchemeMatch(match.scheme, match.matched, match.hits + add)
        feats, context, reasons, has_ref = _relevance_features(post, match, sw, found)
        view = _View(full, context, feats, reasons, has_ref)
        if len(text) > LONG_TEXT:
            spans = _merge(
                [
                    (max(0, h.start - FOCUS_CHARS), min(len(text), h.end + FOCUS_CHARS))
                    for h in _uncovered_subjects(match.hits)
                    if h.field == "text"
                ]
            )
            if spans:
                view.focus_spans = spans
                view.focus_text = "。".join([title, *(text[a:b] for a, b in spans)])
        return view

    # -- one post's Labels ---------------------------------------------------------------
    def _labels(self, i: int, sc: _Batch) -> Labels:
        ev = sc.ev
        reasons = list(sc.views[i].rel_reasons)
        lo, hi = np.searchsorted(ev.r_doc, [i, i + 1])
        entries = self.lexicon.flat_entries
        n_kind: dict[str, int] = {}
        for j in range(lo, hi):
            term, e = entries[ev.r_entry[j]]
            label = {"neg": "sentiment", "pos": "sentiment"}.get(e.kind, e.kind)
            if n_kind.get(label, 0) >= _MAX_REASONS:
                continue  # enough of one kind: the UI shows a few, the cost stays bounded
            n_kind[label] = n_kind.get(label, 0) + 1
            if e.kind == "risk":
                w = float(e.level)
            elif e.kind == "pos":  # praise counts against; negated praise less so
                w = -0.6 * e.weight if ev.r_negated[j] else -e.weight
            else:
                w = e.weight
            if ev.r_text[j]:
                reasons.append(
                    Reason(label, term, round(w, 3), int(ev.r_start[j]), int(ev.r_end[j]))
                )
            else:
                reasons.append(Reason(label, f"标题:{term}", round(w, 3)))
        if sc.official_denial[i]:
            reasons.append(Reason("sentiment", "official_denial", -2.5))
        if sc.advisory_shift[i]:
            reasons.append(Reason("sentiment", "advisory", -round(float(sc.advisory_shift[i]), 3)))
        risk = int(sc.risk[i])
        if risk and ev.counted[i]:
            reasons.append(Reason("risk", "counted:money_or_people", 1.0))
        if risk and ev.sev[i]:
            reasons.append(Reason("risk", f"severity:{ev.sev[i]}", float(ev.sev[i])))
        if risk:
            a = float(ev.authority[i])
            reasons.append(Reason("risk", f"authority:{a:.1f}", a))
        return Labels(
            relevant=sc.relevant_l[i],
            relevance=sc.relevance_l[i],
            sentiment=sc.sentiment[i],
            sentiment_scores=dict(zip(SENTIMENTS, sc.sent_l[i], strict=True)),
            topic=sc.topic_l[i],
            topic_scores=dict(zip(sc.topic_names, sc.topic_p_l[i], strict=True)),
            risk=risk,
            risk_score=sc.risk_score_l[i],
            reasons=tuple(reasons),
        )


_K = {k: i for i, k in enumerate(KINDS)}
_FOCUSED_CODES = np.array([_K[k] for k in _FOCUSED_KINDS])
_NEGATABLE = np.array([_K[k] for k in ("neg", "pos", "risk", "topic")])
_CUE_REASONS = np.array([_K[k] for k in ("denial", "reach", "concrete")])
_MAX_REASONS = 6  # per reason label and post


@dataclass
class _Evidence:
    """Lexicon evidence per post of a batch (arrays of length n), plus the reason rows."""

    neg_lex: np.ndarray
    pos_lex: np.ndarray
    sarcasm: np.ndarray
    reassured: np.ndarray
    sev: np.ndarray
    topic_lex: np.ndarray  # (n, len(topic classes))
    denial: np.ndarray
    official: np.ndarray
    concrete: np.ndarray
    advisory: np.ndarray
    counted: np.ndarray  # 1.0 where the post names a sum of money or a count of people
    reach: np.ndarray
    authority: np.ndarray
    # Lexicon rows shown as reasons, sorted by post, then importance, then position.
    r_doc: np.ndarray
    r_entry: np.ndarray
    r_start: np.ndarray
    r_end: np.ndarray
    r_text: np.ndarray
    r_negated: np.ndarray


@dataclass
class _Batch:
    """Every score of a batch; ``Classifier._labels`` turns row i into a Labels."""

    views: list[_View]
    ev: _Evidence
    relevance: np.ndarray
    relevant: np.ndarray
    p_neg: np.ndarray
    neutral: np.ndarray
    pos_share: np.ndarray
    sentiment: list[str]
    topic_classes: tuple[str, ...]
    topic_p: np.ndarray
    risk: np.ndarray
    risk_score: np.ndarray
    official_denial: np.ndarray
    advisory_shift: np.ndarray  # log-odds taken off P(negative) as a safety reminder
    # The same, rounded and as Python lists (one conversion per batch, not per value).
    relevant_l: list[bool] = field(default_factory=list)
    relevance_l: list[float] = field(default_factory=list)
    sent_l: list[list[float]] = field(default_factory=list)
    topic_l: list[str] = field(default_factory=list)
    topic_names: tuple[str, ...] = ()
    topic_p_l: list[list[float]] = field(default_factory=list)
    risk_score_l: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.relevant_l = self.relevant.tolist()
        self.relevance_l = np.round(self.relevance, 4).tolist()
        self.sent_l = np.round(
            np.column_stack([self.p_neg, self.neutral, self.pos_share]), 4
        ).tolist()
        self.topic_l = [self.topic_classes[j] for j in self.topic_p.argmax(axis=1).tolist()]
        # Every topic gets a score, also those a (school's) model does not know.
        extra = [t for t in TOPICS if t not in self.topic_classes]
        self.topic_names = self.topic_classes + tuple(extra)
        tp = np.round(self.topic_p, 4)
        if extra:
            tp = np.column_stack([tp, np.zeros((len(tp), len(extra)))])
        self.topic_p_l = tp.tolist()
        self.risk_score_l = np.round(self.risk_score.astype(np.float64), 4).tolist()


def _combine_batch(
    posts: Sequence[Post],
    views: list[_View],
    relevance: np.ndarray,
    p_neg_model: np.ndarray,
    p_pos_model: np.ndarray,
    z_topic: np.ndarray,
    topic_classes: Sequence[str],
    ev: _Evidence,
) -> _Batch:
    """Models and lexicon evidence combined into labels, for the whole batch at once."""
    stype = np.array([p.source_type or "other" for p in posts])
    news, petition = stype == "news", stype == "petition"
    is_official = (ev.authority >= 0.85) | (ev.official >= 1.0) | news
    official_denial = (ev.denial >= 1.0) & is_official

    # -- sentiment: model log-odds moved by lexicon evidence.
    neg_lex, pos_lex, sarcasm = ev.neg_lex, ev.pos_lex, ev.sarcasm
    z = logit(p_neg_model) + 0.45 * np.minimum(neg_lex, 4.0) - 0.5 * np.minimum(pos_lex, 4.0)
    # Praise wrapped in sarcasm cues is a complaint: the praise counts against.
    sarcastic = (sarcasm >= 1.0) | ((sarcasm > 0) & (pos_lex > 0))
    z += np.where(sarcastic, 1.2 + 0.6 * np.minimum(pos_lex, 3.0), 0.0)
    z -= 0.6 * np.minimum(ev.reassured, 2.0)
    # Harm words in a story of praise do not make it negative.
    z += np.where((ev.sev >= 3) & (pos_lex < 1.0), 0.4 * (ev.sev - 2), 0.0)
    z -= np.where(official_denial, 2.5, 0.0)  # an official rumour denial is a plain notice
    # A letter to the authorities is a complaint unless it says otherwise; an official
    # account's notice without complaint words is a notice.
    z += np.where(petition & ~official_denial, 1.0, 0.0)
    quiet_official = ~petition & is_official & ~news & (neg_lex == 0) & (sarcasm == 0)
    z -= np.where(quiet_official, 1.0, 0.0)
    # A safety reminder or prevention campaign, unless it also complains (sarcasm, a concrete
    # or counted grievance, a petition).
    advisory = (
        (ev.advisory >= 1.0)
        & ~sarcastic
        & ~petition
        & (ev.concrete < ev.advisory)
        & (ev.counted == 0)
    )
    advisory_shift = np.where(advisory, ADVISORY_SHIFT * np.minimum(ev.advisory, 2.0), 0.0)
    z -= advisory_shift
    zp = logit(p_pos_model) + 0.3 * np.minimum(pos_lex, 4.0) - 0.5 * np.minimum(sarcasm, 2.0)
    q_pos = 1.0 / (1.0 + np.exp(-np.clip(zp, -40, 40)))
    # A story of praise told through hardship ("发烧", "走了", "哭"): the praise wins.
    z -= np.where((pos_lex >= 1.0) & (sarcasm < 0.5) & (zp > 0), np.minimum(zp, 3.0), 0.0)
    p_neg = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
    # q_pos is P(positive) against everything else; it cannot exceed what p_neg leaves.
    pos_share = np.minimum(q_pos, 1.0 - p_neg)
    neutral = 1.0 - p_neg - pos_share
    negative = p_neg >= NEGATIVE_AT
    sentiment = np.where(negative, "negative", np.where(pos_share > neutral, "positive", "neutral"))

    # -- topic: model scores plus lexicon cues; "other" wins only without evidence.
    zt = np.asarray(z_topic, dtype=np.float64) + 0.7 * np.minimum(ev.topic_lex, 4.0)
    if "other" in topic_classes:
        zt[:, list(topic_classes).index("other")] -= OTHER_TOPIC_PENALTY
    zt = zt - zt.max(axis=1, keepdims=True)
    et = np.exp(zt)
    topic_p = et / et.sum(axis=1, keepdims=True)

    # -- risk
    sev, concrete, reach, authority = ev.sev, ev.concrete, ev.reach, ev.authority
    media = news | (authority >= 0.9)
    risk_neg = np.ones(len(posts), dtype=np.int64)
    risk_neg[(concrete >= 1.0) | (ev.counted > 0) | (sev >= 2) | media | petition] = 2
    orange = (sev >= 3) | (media & ((sev >= 2) | (concrete >= 1.0))) | ((sev >= 2) & (reach >= 1.5))
    risk_neg[orange] = 3
    risk_neg[(sev >= 4) | (orange & (reach >= 2.0))] = 4
    # Harm reported in a calm voice (an official notice of a mass illness) still needs action;
    # with several students affected it is as urgent as the harm itself.
    calm = (sev >= 3) & ~official_denial & (ev.denial < 1.0)
    risk_other = np.where(
        calm, np.where(concrete >= 1.0, np.minimum(sev, 3), (p_neg >= 0.3).astype(np.int64)), 0
    )
    # A denied rumour, or a mild one called a rumour.
    denied = official_denial | ((ev.denial >= 1.0) & (sev <= 2))
    risk_neg = np.where(denied, np.minimum(risk_neg, 1), risk_neg)
    relevant = relevance >= 0.5
    risk = np.where(relevant, np.where(negative, risk_neg, risk_other), 0)
    risk_score = np.where(relevant, relevance * (p_neg * risk_neg + (1 - p_neg) * risk_other), 0.0)
    return _Batch(
        views=views,
        ev=ev,
        relevance=relevance,
        relevant=relevant,
        p_neg=p_neg,
        neutral=neutral,
        pos_share=pos_share,
        sentiment=sentiment.tolist(),
        topic_classes=tuple(topic_classes),
        topic_p=topic_p,
        risk=risk,
        risk_score=risk_score,
        official_denial=official_denial,
        advisory_shift=advisory_shift,
    )


def _in_quotes(text: str, start: int, end: int) -> bool:
    """Whether a term sits inside quotation marks (“优秀” said with raised eyebrows)."""
    left = text[max(0, start - 4) : start]
    right = text[end : end + 4]
    return any(q in left for q in '“「"『') and any(q in right for q in '”」"』')


def _relevance_features(
    post: Post, match: SchemeMatch, sw: SchemeWords, found: Mapping[str, _WordSpans] | None = None
) -> tuple[list[float], str, list[Reason], bool]:
    """Dense features, the masked context string, reasons and whether the school is named.
    ``found``: the scheme's word finder's spans per field (computed here when not given)."""
    title, text = post.title or "", post.text or ""
    if found is None:
        finder = _finder(sw)
        found = {"title": finder.find(title), "text": finder.find(text)}
    hits = list(match.hits)
    subj = _uncovered_subjects(hits)
    excl = [h for h in hits if h.kind == "exclude"]
    taken: dict[str, list[tuple[int, int, str]]] = {"title": [], "text": []}
    for h in excl:
        taken[h.field].append((h.start, h.end, EXCLUDE_MARK))
    for h in subj:
        taken[h.field].append((h.start, h.end, SUBJECT_MARK))
    # Short aliases ("一中") and region words, where no longer word already sits.
    alias_count = 0
    other_prefix = 0.0
    region_in_text = 0.0
    for fld, body in (("title", title), ("text", text)):
        spans = taken[fld]
        if not body:
            continue
        # Characters already taken by a longer word: one byte each, so an overlap test is a
        # C-level search instead of a scan over every span.
        occ = bytearray(len(body))
        for s0, e0, _m in spans:
            occ[s0:e0] = b"\x01" * (e0 - s0)
        # Aliases in scheme order, then region words longest first, each left to right.
        alias_at: dict[str, list[int]] = {}
        for w, i, _j in found[fld].get("alias", ()):
            alias_at.setdefault(w, []).append(i)
        for a in sw.aliases:
            for i in alias_at.get(a, ()):
                j = i + len(a)
                if occ.find(1, i, j) < 0 and not _in_school_name(body, i):
                    spans.append((i, j, ALIAS_MARK))
                    occ[i:j] = b"\x01" * (j - i)
                    alias_count += 1
        regions = sorted(found[fld].get("region", ()), key=_region_order)
        for _w, i, j in regions:
            if occ.find(1, i, j) < 0:
                spans.append((i, j, REGION_MARK))
                occ[i:j] = b"\x01" * (j - i)
                region_in_text = 1.0
        for s, _e, mark in spans:
            # "鹿溪市滨江一中": a place name right before the school's name is another place.
            if mark == SUBJECT_MARK and s > 0 and body[s - 1] in _PLACE_SUFFIX:
                other_prefix = 1.0
    masked_title = _mask(title, taken["title"])
    masked_text = _mask(text, taken["text"])
    windows: list[str] = []
    for m in re.finditer(f"[{SUBJECT_MARK}{ALIAS_MARK}{EXCLUDE_MARK}]", masked_text):
        s = max(0, m.start() - CONTEXT_CHARS)
        windows.append(masked_text[s : m.end() + CONTEXT_CHARS])
        if len(windows) >= 4:
            break
    if not windows:
        windows.append(masked_text[:80])
    context = masked_title + " || " + " | ".join(windows)

    src = f"{post.source_name} {post.author}"
    subject_in_source = float(any(w in src for w in sw.subject_words))
    region_in_source = float(any(r in src for r in sw.region_words))
    # "我校" means the author's school: this one only if the author is not another school.
    author_other_school = float(
        not subject_in_source and bool(_SCHOOL_RE.search(f"{post.author} {post.source_name}"))
    )
    we_school = float(not author_other_school and any(w in text or w in title for w in _WE_SCHOOL))
    n_subject = len(subj)
    # Other schools named in the text (the suffix plus the two characters before it).
    schools = {
        masked_text[max(0, m.start() - 2) : m.end()] for m in _SCHOOL_RE.finditer(masked_text)
    }
    schools = {x for x in schools if SUBJECT_MARK not in x and ALIAS_MARK not in x}
    # Where the school first comes up: the title counts as the very start.
    in_title = any(h.field == "title" for h in subj)
    first_pos = 0.0 if in_title else 1.0
    text_subj = [h.start for h in subj if h.field == "text"]
    if text_subj and not in_title:
        first_pos = min(text_subj) / max(len(text), 1)
    subject_early = float(in_title or (bool(text_subj) and min(text_subj) < 20))
    has_ref = bool(
        n_subject or alias_count or subject_in_source or (we_school and region_in_source)
    )
    feats = [
        float(match.matched),
        math.log1p(n_subject),
        float(any(h.field == "title" for h in subj)),
        first_pos,
        float(bool(excl)),
        float(bool(excl) and not subj),
        region_in_text,
        region_in_source,
        subject_in_source,
        float(alias_count > 0 and n_subject == 0),
        we_school,
        math.log1p(len(schools)),
        math.log1p(len(text)) / 7.0,
        subject_early,
        other_prefix,
        float(not has_ref),
        author_other_school,
    ]
    reasons = [
        Reason(
            "relevant",
            h.word if h.field == "text" else f"标题:{h.word}",
            1.0,
            h.start if h.field == "text" else None,
            h.end if h.field == "text" else None,
        )
        for h in subj[:5]
    ]
    reasons += [
        Reason(
            "relevant",
            f"exclude:{h.word}",
            -1.0,
            h.start if h.field == "text" else None,
            h.end if h.field == "text" else None,
        )
        for h in excl[:3]
    ]
    if len(schools) >= 2:
        reasons.append(Reason("relevant", f"other_schools:{len(schools)}", -0.5))
    return feats, context, reasons, has_ref


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _region_order(x: tuple[str, int, int]) -> tuple[int, int]:
    """Longest region word first, then text order (a longer name wins the characters)."""
    return (-len(x[0]), x[1])


def _in_school_name(body: str, s: int) -> bool:
    """Whether a short alias is the tail of another school's name ("柳川一中")."""
    return s > 0 and "\u4e00" <= body[s - 1] <= "\u9fff" and body[s - 1] not in _ALIAS_LEFT


def _mask(body: str, spans: list[tuple[int, int, str]]) -> str:
    if not spans:
        return body
    out, pos = [], 0
    for s, e, mark in sorted(spans):
        if s < pos:
            continue
        out.append(body[pos:s])
        out.append(mark)
        pos = e
    out.append(body[pos:])
    return "".join(out)
