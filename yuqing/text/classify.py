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

import numpy as np

from .lexicons import Found, Lexicon, default_lexicon
from .models import TextModel, featurizer, logit, sigmoid
from .types import TOPICS, Hit, Labels, Post, Reason, SchemeMatch

MODEL_DIR = Path(__file__).with_name("model_files")
MODEL_FILES = {
    "relevance": "relevance.npz",
    "negative": "sentiment_negative.npz",
    "positive": "sentiment_positive.npz",
    "topic": "topic.npz",
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
    r"(?:第[" + _CJK_NUM + r"]{1,3}中学|[" + _CJK_NUM + r"]{1,3}[中小](?![文心午国])"
    r"|实验[中小]学|外国语学校|中学|小学|职业技术学院|幼儿园)"
)
_PLACE_SUFFIX = "市县区省镇州"
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


def simple_match(scheme: SchemeWords, title: str, text: str) -> SchemeMatch:
    """Plain substring matching of the scheme words: the stand-in used when the caller has no
    :class:`SchemeMatch` from the real matcher (which also folds variants and spellings)."""
    hits: list[Hit] = []
    for fld, body in (("title", title), ("text", text)):
        for kind, words in (
            ("subject", scheme.subject_words),
            ("region", scheme.region_words),
            ("exclude", scheme.exclude_words),
        ):
            for w in words:
                if not w:
                    continue
                i = body.find(w)
                while i >= 0:
                    hits.append(Hit(w, kind, "exact", fld, i, i + len(w), w))  # type: ignore[arg-type]
                    i = body.find(w, i + 1)
    subj = [h for h in hits if h.kind == "subject" and not _covered(h, hits)]
    return SchemeMatch(scheme.name, bool(subj), tuple(hits))


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
    title_found: list[Found]
    text_found: list[Found]
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

    def label_many(
        self,
        posts: Sequence[Post],
        matches: Sequence[SchemeMatch | None] | None = None,
        scheme: Any = None,
    ) -> list[Labels]:
        """Labels for a batch; all models run once over the whole batch."""
        if not posts:
            return []
        sw = SchemeWords.coerce(scheme) if scheme is not None else None
        ms: list[SchemeMatch | None] = list(matches) if matches is not None else [None] * len(posts)
        if len(ms) != len(posts):
            raise ValueError("posts and matches differ in length")
        views = [self._view(p, m, sw) for p, m in zip(posts, ms, strict=True)]

        neg_m, pos_m, top_m = self.model("negative"), self.model("positive"), self.model("topic")
        X = featurizer(neg_m.spec).transform([v.full for v in views])
        p_neg = neg_m.proba_from_matrix(X)[:, 1]
        X_pos = X if pos_m.spec == neg_m.spec else pos_m.featurize([v.full for v in views])
        p_pos = pos_m.proba_from_matrix(X_pos)[:, 1]
        X_top = X if top_m.spec == neg_m.spec else top_m.featurize([v.full for v in views])
        z_topic = top_m.decision(X_top)
        if top_m.weights.shape[1] == 1:  # a binary topic model (unusual): expand to two columns
            z_topic = np.column_stack([np.zeros(len(views)), z_topic])

        longs = [i for i, v in enumerate(views) if v.focus_spans]
        if longs:
            # Long texts: blend in the scores of the focus (title + text around mentions).
            Xf = featurizer(neg_m.spec).transform([views[i].focus_text for i in longs])
            pf_neg = neg_m.proba_from_matrix(Xf)[:, 1]
            Xf_pos = (
                Xf
                if pos_m.spec == neg_m.spec
                else pos_m.featurize([views[i].focus_text for i in longs])
            )
            pf_pos = pos_m.proba_from_matrix(Xf_pos)[:, 1]
            for j, i in enumerate(longs):
                p_neg[i] = 0.3 * p_neg[i] + 0.7 * pf_neg[j]
                p_pos[i] = 0.3 * p_pos[i] + 0.7 * pf_pos[j]
            if top_m.weights.shape[1] > 1:
                Xf_top = (
                    Xf
                    if top_m.spec == neg_m.spec
                    else top_m.featurize([views[i].focus_text for i in longs])
                )
                zf = top_m.decision(Xf_top)
                for j, i in enumerate(longs):
                    z_topic[i] = 0.4 * z_topic[i] + 0.6 * zf[j]

        if sw is not None:
            rel_m = self.model("relevance")
            extra = np.array([v.rel_feats for v in views], dtype=np.float32)
            p_rel = rel_m.predict_proba([v.context for v in views], extra)[:, 1]
        else:
            p_rel = np.array([1.0 if (m is not None and m.matched) else 0.0 for m in ms])

        out: list[Labels] = []
        for i, (post, view) in enumerate(zip(posts, views, strict=True)):
            rel = float(p_rel[i])
            if sw is not None and not view.has_reference:
                rel = min(rel, 0.02)  # the school is not named at all: never relevant
            out.append(
                self._combine(
                    post, view, rel, float(p_neg[i]), float(p_pos[i]), z_topic[i], top_m.classes
                )
            )
        return out

    # -- relevance view ------------------------------------------------------------------
    def _view(self, post: Post, match: SchemeMatch | None, sw: SchemeWords | None) -> _View:
        title, text = post.title or "", post.text or ""
        full = f"{title}。{text}" if title else text
        title_found = self.lexicon.find(title) if title else []
        text_found = self.lexicon.find(text)
        if sw is None:
            return _View(full, title_found, text_found, "", [], [], True)
        if match is None:
            match = simple_match(sw, title, text)
        else:
            # The real matcher may not report region / exclude words: add plain ones.
            extra_hits = simple_match(
                SchemeWords(sw.name, (), sw.region_words, sw.exclude_words, ("-",)), title, text
            ).hits
            known = {(h.kind, h.field, h.start, h.end) for h in match.hits}
            add = tuple(h for h in extra_hits if (h.kind, h.field, h.start, h.end) not in known)
            if add:
                match = SchemeMatch(match.scheme, match.matched, match.hits + add)
        feats, context, reasons, has_ref = _relevance_features(post, match, sw)
        view = _View(full, title_found, text_found, context, feats, reasons, has_ref)
        if len(text) > LONG_TEXT:
            spans = _merge(
                [
                    (max(0, h.start - FOCUS_CHARS), min(len(text), h.end + FOCUS_CHARS))
                    for h in match.hits
                    if h.kind == "subject" and h.field == "text" and not _covered(h, match.hits)
                ]
            )
            if spans:
                view.focus_spans = spans
                view.focus_text = "。".join([title, *(text[a:b] for a, b in spans)])
        return view

    # -- combination ---------------------------------------------------------------------
    def _combine(
        self,
        post: Post,
        v: _View,
        relevance: float,
        p_neg_model: float,
        p_pos_model: float,
        z_topic: np.ndarray,
        topic_classes: Sequence[str],
    ) -> Labels:
        reasons: list[Reason] = list(v.rel_reasons)
        full_text, title_text = post.text or "", post.title or ""
        # Lexicon evidence from title and text; title finds have no text offsets.
        text_found = v.text_found
        if v.focus_spans:
            # Evidence words far from every mention belong to the rest of the article.
            spans = v.focus_spans
            text_found = [
                f
                for f in text_found
                if f.entry.kind not in _FOCUSED_KINDS
                or any(a <= f.start and f.end <= b for a, b in spans)
            ]
        found = [(f, True) for f in text_found] + [(f, False) for f in v.title_found]
        # End offsets of negation cues per field; a rhetorical "不就是…" / "不也是…" asserts.
        neg_ends: dict[bool, set[int]] = {True: set(), False: set()}
        for f, in_text in found:
            if f.entry.kind == "negation":
                body = full_text if in_text else title_text
                if body[f.end : f.end + 1] not in ("就", "也"):
                    neg_ends[in_text].add(f.end)

        def negated(f: Found, in_text: bool) -> bool:
            # A negation cue ending at most two characters before the term ("没有人受伤").
            ends = neg_ends[in_text]
            return bool(ends) and (f.start in ends or f.start - 1 in ends or f.start - 2 in ends)

        def reason(label: str, f: Found, in_text: bool, w: float) -> Reason:
            if in_text:
                return Reason(label, f.term, round(w, 3), f.start, f.end)
            return Reason(label, f"标题:{f.term}", round(w, 3))

        authority = self.lexicon.authority(post.source_type, post.source_name, post.author)
        kinds: dict[str, float] = {}
        sev, sev_topic = 0, ""
        neg_lex = pos_lex = sarcasm = 0.0
        topic_lex = dict.fromkeys(topic_classes, 0.0)
        quoted_praise = False
        reassured = 0.0
        for f, in_text in found:
            k = f.entry.kind
            if k in ("neg", "pos", "risk", "topic") and negated(f, in_text):
                if k == "pos":  # "不好吃", "并不满意": negated praise is a complaint
                    neg_lex += 0.6 * f.entry.weight
                    reasons.append(reason("sentiment", f, in_text, -0.6 * f.entry.weight))
                elif k == "risk" and f.entry.level >= 3:  # "没有人受伤": reassurance
                    reassured += 1.0
                continue
            if k == "neg":
                neg_lex += f.entry.weight
                reasons.append(reason("sentiment", f, in_text, f.entry.weight))
            elif k == "pos":
                pos_lex += f.entry.weight
                if in_text and _in_quotes(full_text, f.start, f.end):
                    quoted_praise = True
                reasons.append(reason("sentiment", f, in_text, -f.entry.weight))
            elif k == "sarcasm":
                sarcasm += f.entry.weight
                reasons.append(reason("sarcasm", f, in_text, f.entry.weight))
            elif k == "risk":
                if f.entry.level > sev:
                    sev, sev_topic = f.entry.level, f.entry.topic
                if f.entry.topic in topic_lex:
                    topic_lex[f.entry.topic] += 0.3 * f.entry.level
                if f.entry.level >= 2:
                    reasons.append(reason("risk", f, in_text, float(f.entry.level)))
            elif k == "topic":
                if f.entry.topic in topic_lex:
                    topic_lex[f.entry.topic] += f.entry.weight
            else:
                kinds[k] = kinds.get(k, 0.0) + f.entry.weight
                if k in ("denial", "reach", "concrete"):
                    reasons.append(reason(k, f, in_text, f.entry.weight))
        if quoted_praise:
            sarcasm += 1.0
        denial = kinds.get("denial", 0.0)
        official = kinds.get("official", 0.0)
        concrete = kinds.get("concrete", 0.0)
        reach = kinds.get("reach", 0.0)
        is_official = authority >= 0.85 or official >= 1.0 or post.source_type == "news"
        official_denial = denial >= 1.0 and is_official

        # -- sentiment: model log-odds moved by lexicon evidence.
        z = float(logit(p_neg_model))
        z += 0.45 * min(neg_lex, 4.0) - 0.5 * min(pos_lex, 4.0)
        if sarcasm >= 1.0 or (sarcasm > 0 and pos_lex > 0):
            # Praise wrapped in sarcasm cues is a complaint: the praise counts against.
            z += 1.2 + 0.6 * min(pos_lex, 3.0)
        z -= 0.6 * min(reassured, 2.0)
        if sev >= 3 and pos_lex < 1.0:  # harm words in a story of praise do not make it negative
            z += 0.4 * (sev - 2)
        if official_denial:
            z -= 2.5  # an official rumour denial is a plain notice, not a complaint
        if post.source_type == "petition" and not official_denial:
            z += 1.0  # a letter to the authorities is a complaint unless it says otherwise
        elif is_official and post.source_type != "news" and neg_lex == 0 and sarcasm == 0:
            z -= 1.0  # an official account's notice without complaint words is a notice
        zp = float(logit(p_pos_model)) + 0.3 * min(pos_lex, 4.0) - 0.5 * min(sarcasm, 2.0)
        q_pos = sigmoid(zp)
        if pos_lex >= 1.0 and sarcasm < 0.5 and zp > 0:
            # A story of praise told through hardship ("发烧", "走了", "哭"): the praise wins.
            z -= min(zp, 3.0)
        p_neg = sigmoid(z)
        # q_pos is P(positive) against everything else; it cannot exceed what p_neg leaves.
        pos_share = min(q_pos, 1.0 - p_neg)
        sent_scores = {
            "negative": p_neg,
            "neutral": 1.0 - p_neg - pos_share,
            "positive": pos_share,
        }
        if p_neg >= NEGATIVE_AT:
            sentiment = "negative"
        else:
            sentiment = (
                "positive" if sent_scores["positive"] > sent_scores["neutral"] else "neutral"
            )
        if official_denial:
            reasons.append(Reason("sentiment", "official_denial", -2.5))

        # -- topic: model scores plus lexicon cues.
        zt = np.asarray(z_topic, dtype=np.float64) + 0.7 * np.array(
            [min(topic_lex[c], 4.0) for c in topic_classes]
        )
        if "other" in topic_classes:
            # "other" means "none of the above": it wins only when no topic has evidence.
            zt[list(topic_classes).index("other")] -= OTHER_TOPIC_PENALTY
        zt = zt - zt.max()
        pt = np.exp(zt) / np.exp(zt).sum()
        topic_scores = {c: float(pt[j]) for j, c in enumerate(topic_classes)}
        for t in TOPICS:
            topic_scores.setdefault(t, 0.0)
        topic = max(topic_scores, key=lambda k: topic_scores[k])

        # -- risk
        relevant = relevance >= 0.5
        risk_neg = _risk_if_negative(sev, concrete, reach, authority, post.source_type)
        risk_other = 0
        if sev >= 3 and not official_denial and denial < 1.0:
            # Harm reported in a calm voice (an official notice of a mass illness) still needs
            # action; with several students affected it is as urgent as the harm itself.
            risk_other = min(sev, 3) if concrete >= 1.0 else (1 if p_neg >= 0.3 else 0)
        if official_denial or (denial >= 1.0 and sev <= 2):
            risk_neg = min(risk_neg, 1)  # a denied rumour, or a mild one called a rumour
        if not relevant:
            risk, risk_score = 0, 0.0
        else:
            risk = risk_neg if sentiment == "negative" else risk_other
            risk_score = relevance * (p_neg * risk_neg + (1 - p_neg) * risk_other)
        if risk and sev_topic:
            reasons.append(Reason("risk", f"severity:{sev}", float(sev)))
        if risk:
            reasons.append(Reason("risk", f"authority:{authority:.1f}", authority))
        return Labels(
            relevant=relevant,
            relevance=round(relevance, 4),
            sentiment=sentiment,
            sentiment_scores={k: round(val, 4) for k, val in sent_scores.items()},
            topic=topic,
            topic_scores={k: round(val, 4) for k, val in topic_scores.items()},
            risk=int(risk),
            risk_score=round(float(risk_score), 4),
            reasons=tuple(reasons),
        )


def _risk_if_negative(
    sev: int, concrete: float, reach: float, authority: float, source_type: str
) -> int:
    """Risk of a negative, relevant post from severity, concreteness, reach and source."""
    media = source_type == "news" or authority >= 0.9
    r = 1
    if concrete >= 1.0 or sev >= 2 or media or source_type == "petition":
        r = 2  # a concrete complaint others repeat, or a mild one from a news outlet
    if sev >= 3 or (media and (sev >= 2 or concrete >= 1.0)) or (sev >= 2 and reach >= 1.5):
        r = 3  # harm to safety/health, misconduct with spread, media coverage
    if sev >= 4 or (r == 3 and reach >= 2.0):
        r = 4  # death, serious injury, mass illness, crime, national spread
    return r


def _in_quotes(text: str, start: int, end: int) -> bool:
    """Whether a term sits inside quotation marks (“优秀” said with raised eyebrows)."""
    left = text[max(0, start - 4) : start]
    right = text[end : end + 4]
    return any(q in left for q in '“「"『') and any(q in right for q in '”」"』')


def _relevance_features(
    post: Post, match: SchemeMatch, sw: SchemeWords
) -> tuple[list[float], str, list[Reason], bool]:
    """Dense features, the masked context string, reasons and whether the school is named."""
    title, text = post.title or "", post.text or ""
    hits = list(match.hits)
    subj = [h for h in hits if h.kind == "subject" and not _covered(h, hits)]
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
        for a in sw.aliases:
            for m in re.finditer(re.escape(a), body):
                if not _overlaps(spans, m.start(), m.end()) and not _in_school_name(body, m):
                    spans.append((m.start(), m.end(), ALIAS_MARK))
                    alias_count += 1
        for r in sorted(sw.region_words, key=len, reverse=True):
            for m in re.finditer(re.escape(r), body):
                if not _overlaps(spans, m.start(), m.end()):
                    spans.append((m.start(), m.end(), REGION_MARK))
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


def _overlaps(spans: list[tuple[int, int, str]], s: int, e: int) -> bool:
    return any(s < b and a < e for a, b, _ in spans)


def _in_school_name(body: str, m: re.Match[str]) -> bool:
    """Whether a short alias is the tail of another school's name ("柳川一中")."""
    s = m.start()
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
