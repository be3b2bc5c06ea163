"""Writes of the monitoring desk: label corrections, bulk actions, and the school's own model.

A correction changes one label of one mention and is kept (``LabelCorrection``, audited) so
that ``classifier_retrain`` can move the shipped text models toward what this school's office
says. The result is a ``ClassifierVersion``: its accuracy on held-out corrections before and
after, and the weight *differences* from the shipped models. ``classifier_for_school`` gives
ingestion the active version, or the shipped classifier when the school has none.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q

from yuqing.audit.services import audit_record
from yuqing.core.tenancy import require_scope
from yuqing.monitor.models import (
    ClassifierVersion,
    Event,
    LabelCorrection,
    Mention,
    Risk,
    Sentiment,
    Topic,
)

log = logging.getLogger(__name__)

CORRECTABLE: dict[str, tuple[str, ...]] = {
    "relevant": ("true", "false"),
    "sentiment": tuple(Sentiment.values),
    "topic": tuple(Topic.values),
    "risk": tuple(str(v) for v in Risk.values),
}


# -- corrections ------------------------------------------------------------------------------


def _as_string(field: str, value: Any) -> str:
    if field == "relevant":
        return "true" if value in (True, "true", "1", "yes") else "false"
    return str(value)


def mention_correct(
    *, mention: Mention, field: str, value: str, user: Any
) -> LabelCorrection | None:
    """Set one label of ``mention`` to ``value`` and keep the correction; None if unchanged."""
    if field not in CORRECTABLE:
        raise ValidationError({"field": f"cannot correct {field!r}"})
    new = _as_string(field, value)
    if new not in CORRECTABLE[field]:
        raise ValidationError({"value": f"{value!r} is not a value of {field}"})
    old = _as_string(field, getattr(mention, field))
    if old == new:
        return None
    with transaction.atomic():
        correction = LabelCorrection(
            school_id=mention.school_id,
            mention=mention,
            field=field,
            old_value=old,
            new_value=new,
            corrected_by=user,
        )
        correction.full_clean()
        correction.save()
        typed: Any = new == "true" if field == "relevant" else int(new) if field == "risk" else new
        setattr(mention, field, typed)
        mention.corrected = True
        mention.save(update_fields=[field, "corrected"])
        if mention.event_id is not None:
            event_refresh(event_ids=[mention.event_id])
    return correction


def event_refresh(*, event_ids: Iterable[int]) -> None:
    """Recount events from their mentions: counts, time span, peak risk of relevant ones.

    Ingestion only ever raises these figures; a correction or a move may lower them.
    """
    for event_id in set(event_ids):
        mentions = Mention.objects.filter(event_id=event_id)
        agg = mentions.aggregate(
            n=Count("id"),
            negative=Count("id", filter=Q(sentiment=Sentiment.NEGATIVE)),
            peak=Max("risk", filter=Q(relevant=True)),
        )
        times = [
            m.published_at or m.fetched_at for m in mentions.only("published_at", "fetched_at")
        ]
        fields: dict[str, Any] = {
            "mention_count": agg["n"],
            "negative_count": agg["negative"],
            "peak_risk": agg["peak"] or 0,
        }
        if times:
            fields.update(first_at=min(times), latest_at=max(times))
        Event.objects.filter(pk=event_id).update(**fields)


# -- bulk actions ------------------------------------------------------------------------------

BULK_ACTIONS = ("read", "ignore", "add_to_event")


def mentions_bulk(
    *, action: str, mention_ids: Sequence[int], user: Any, event: Event | None = None
) -> int:
    """Apply ``action`` to the mentions (of the writable school) with these ids; audited."""
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": f"unknown action {action!r}"})
    if action == "add_to_event" and event is None:
        raise ValidationError({"event": "choose the event to add the mentions to"})
    scope = require_scope()
    with transaction.atomic():
        qs = Mention.objects.filter(pk__in=list(mention_ids))
        ids = sorted(qs.values_list("pk", flat=True))
        if not ids:
            return 0
        qs = Mention.objects.filter(pk__in=ids)
        changes: dict[str, Any] = {"mentions": ids}
        if action == "read":
            n = qs.filter(status=Mention.Status.NEW).update(status=Mention.Status.READ)
        elif action == "ignore":
            n = qs.exclude(status=Mention.Status.HANDLING).update(status=Mention.Status.IGNORED)
        else:
            assert event is not None
            old_events = set(qs.exclude(event=event).values_list("event_id", flat=True))
            n = qs.exclude(event=event).update(event=event)
            event_refresh(event_ids={e for e in old_events if e is not None} | {event.pk})
            changes["event"] = event.pk
        changes["changed"] = n
        audit_record(
            f"monitor.mentions.{action}",
            school_id=scope.writable,
            changes=changes,
            object_repr=f"{len(ids)} mentions",
        )
    return n


def event_set_status(*, event: Event, status: str, user: Any) -> Event:
    if status not in Event.Status.values:
        raise ValidationError({"status": f"unknown status {status!r}"})
    if event.status != status:
        old = event.status
        event.status = status
        event.save(update_fields=["status"])
        audit_record("monitor.event.status", obj=event, changes={"status": [old, status]})
    return event


def event_summarise(*, event: Event) -> Event:
    """Store the event's summary: the configured LLM, or the extractive one when none is."""
    from yuqing.text.llm import LLMError, extractive_summary, summarise_event

    posts = _event_posts(event)
    try:
        summary = summarise_event(posts).summary
    except LLMError as exc:
        log.warning("event %s: LLM summary failed (%s); using the extractive one", event.pk, exc)
        summary = extractive_summary(posts)
    event.summary = summary
    event.save(update_fields=["summary"])
    return event


def _event_posts(event: Event, limit: int = 40) -> list[Any]:
    from yuqing.text.types import Post

    mentions = Mention.objects.filter(event=event).order_by("id")[:limit]
    return [Post(id=str(m.pk), text=m.text, title=m.title) for m in mentions]


# -- the school's own classifier -------------------------------------------------------------

# Models a school's corrections adapt. Relevance is judged by the scheme match at ingestion
# (the context model needs the scheme), so relevance corrections are kept and measured but
# do not move a model; risk follows from sentiment and the lexicon.
ADAPTED = ("negative", "positive", "topic")
HOLD_OUT_EVERY = 5  # every fifth corrected mention (by id) is kept out of training


def _shipped() -> Any:
    from yuqing.text.classify import Classifier

    return Classifier.default()


_fingerprint: str | None = None


def shipped_fingerprint() -> str:
    """A hash of the shipped model files a version's differences are relative to."""
    global _fingerprint
    if _fingerprint is None:
        from yuqing.text.classify import MODEL_DIR, MODEL_FILES

        digest = hashlib.sha256()
        for name in ADAPTED:
            digest.update((MODEL_DIR / MODEL_FILES[name]).read_bytes())
        _fingerprint = digest.hexdigest()
    return _fingerprint


def _pack(deltas: dict[str, sp.csr_matrix]) -> bytes:
    """Weight differences as one compressed .npz (no pickle: loading cannot run code)."""
    arrays: dict[str, np.ndarray] = {}
    header = {"format": "yuqing-school-delta-1", "models": {}}
    for name, delta in deltas.items():
        d = delta.tocsr()
        d.eliminate_zeros()
        header["models"][name] = list(d.shape)  # type: ignore[index]
        arrays[f"{name}.data"] = d.data.astype(np.float32)
        arrays[f"{name}.indices"] = d.indices.astype(np.int32)
        arrays[f"{name}.indptr"] = d.indptr.astype(np.int64)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def _unpack(blob: bytes) -> dict[str, sp.csr_matrix]:
    with np.load(io.BytesIO(bytes(blob)), allow_pickle=False) as z:
        header = json.loads(bytes(z["header"]).decode())
        if header.get("format") != "yuqing-school-delta-1":
            raise ValueError("not a school model")
        return {
            name: sp.csr_matrix(
                (z[f"{name}.data"], z[f"{name}.indices"], z[f"{name}.indptr"]), shape=tuple(shape)
            )
            for name, shape in header["models"].items()
        }


def _with_deltas(deltas: dict[str, sp.csr_matrix]) -> Any:
    from yuqing.text.models import TextModel

    base = _shipped()
    models = {}
    for name, delta in deltas.items():
        m = base.model(name)
        models[name] = TextModel(
            m.classes,
            (m.weights + delta).tocsr().astype(np.float32),
            m.intercept,
            m.spec,
            m.extra_names,
            dict(m.meta, school_adapted=True),
        )
    return base.with_models(**models) if models else base


_cache_lock = threading.Lock()
_cache: dict[int, tuple[int, Any]] = {}


def classifier_for_school(school_id: int) -> Any:
    """The classifier ingestion should use for this school: its active version, else shipped.

    Cheap to call per batch: one indexed query, and the built classifier is cached per process
    until another version becomes active.
    """
    row = (
        ClassifierVersion.objects.filter(school_id=school_id, is_active=True)
        .values_list("pk", "base_fingerprint")
        .first()
    )
    if row is None or row[1] != shipped_fingerprint():
        return _shipped()
    pk = row[0]
    with _cache_lock:
        cached = _cache.get(school_id)
        if cached is not None and cached[0] == pk:
            return cached[1]
    blob = ClassifierVersion.objects.filter(pk=pk).values_list("weights", flat=True).first()
    try:
        classifier = _with_deltas(_unpack(bytes(blob))) if blob else _shipped()
    except (ValueError, KeyError, OSError):
        log.exception(
            "school %s: classifier version %s is unreadable; using shipped", school_id, pk
        )
        classifier = _shipped()
    with _cache_lock:
        _cache[school_id] = (pk, classifier)
    return classifier


@dataclass(frozen=True)
class _Example:
    mention: Mention
    labels: dict[str, str]  # field -> the corrected value (the latest correction wins)


def _examples(school_id: int) -> list[_Example]:
    latest: dict[int, dict[str, str]] = {}
    # Oldest first, so later corrections of the same label overwrite earlier ones.
    for mention_id, field, value in (
        LabelCorrection.objects.filter(school_id=school_id)
        .order_by("corrected_at", "id")
        .values_list("mention_id", "field", "new_value")
    ):
        latest.setdefault(mention_id, {})[field] = value
    mentions = Mention.objects.filter(pk__in=list(latest)).in_bulk()
    return [
        _Example(mentions[mid], labels) for mid, labels in sorted(latest.items()) if mid in mentions
    ]


def _split(examples: list[_Example]) -> tuple[list[_Example], list[_Example]]:
    held = [e for i, e in enumerate(examples) if i % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1]
    if not held and len(examples) >= 2:
        held = [examples[-1]]
    train = [e for e in examples if e not in held]
    return train, held


def _full_text(m: Mention) -> str:
    return f"{m.title}。{m.text}" if m.title else m.text


def _post_and_match(m: Mention) -> tuple[Any, Any]:
    from yuqing.text.types import Hit, Post, SchemeMatch

    post = Post(
        id=str(m.pk),
        text=m.text,
        title=m.title,
        source_type=m.source_type,
        url=m.url,
        author=m.author,
        published_at=m.published_at,
    )
    hits = []
    for h in m.matches or []:
        try:
            hits.append(
                Hit(
                    h["word"],
                    h["kind"],
                    h["match_type"],
                    h["field"],
                    h["start"],
                    h["end"],
                    h["surface"],
                )
            )
        except (KeyError, TypeError):
            continue
    scheme = (m.matches or [{}])[0].get("scheme", "") if m.matches else ""
    return post, SchemeMatch(str(scheme), True, tuple(hits))


def _accuracy(classifier: Any, examples: list[_Example]) -> tuple[float | None, dict[str, Any]]:
    """Share of held-out corrected labels the classifier gets right, overall and per field."""
    if not examples:
        return None, {}
    pairs = [_post_and_match(e.mention) for e in examples]
    labels = classifier.label_many([p for p, _ in pairs], [m for _, m in pairs])
    right: dict[str, list[int]] = {}
    for example, lab in zip(examples, labels, strict=True):
        predicted = {
            "relevant": "true" if lab.relevant else "false",
            "sentiment": lab.sentiment,
            "topic": lab.topic,
            "risk": str(max(0, min(4, int(lab.risk)))),
        }
        for field, wanted in example.labels.items():
            right.setdefault(field, []).append(int(predicted.get(field) == wanted))
    total = sum(len(v) for v in right.values())
    correct = sum(sum(v) for v in right.values())
    per_field = {f: {"n": len(v), "correct": sum(v)} for f, v in right.items()}
    return (correct / total if total else None), per_field


def _adapt(train: list[_Example]) -> dict[str, sp.csr_matrix]:
    from yuqing.text.models import adapt

    base = _shipped()
    sets: dict[str, tuple[list[str], list[str]]] = {name: ([], []) for name in ADAPTED}
    for e in train:
        text = _full_text(e.mention)
        sentiment = e.labels.get("sentiment")
        if sentiment:
            sets["negative"][0].append(text)
            sets["negative"][1].append("neg" if sentiment == "negative" else "not")
            if sentiment != "negative":
                sets["positive"][0].append(text)
                sets["positive"][1].append(sentiment)
        topic = e.labels.get("topic")
        if topic:
            sets["topic"][0].append(text)
            sets["topic"][1].append(topic)
    deltas: dict[str, sp.csr_matrix] = {}
    for name, (texts, labels) in sets.items():
        model = base.model(name)
        usable = [(t, lab) for t, lab in zip(texts, labels, strict=True) if lab in model.classes]
        if not usable:
            continue
        adapted = adapt(model, [t for t, _ in usable], [lab for _, lab in usable])
        delta = (adapted.weights - model.weights).tocsr()
        delta.eliminate_zeros()
        deltas[name] = delta
    return deltas


def classifier_retrain(*, school_id: int, user: Any = None) -> ClassifierVersion:
    """Adapt the shipped models to the school's corrections and store the result as a version.

    The newest correction of each label counts; every fifth corrected mention is held out and
    both the model in use and the new one are measured on it. The new version is put in use
    when it is at least as accurate there (or nothing could be held out); otherwise it is kept
    for the office to choose.
    """
    examples = _examples(school_id)
    train, held = _split(examples)
    before, before_fields = _accuracy(classifier_for_school(school_id), held)
    deltas = _adapt(train)
    after, after_fields = _accuracy(_with_deltas(deltas), held)
    activate = after is None or before is None or after >= before
    with transaction.atomic():
        # PostgreSQL refuses FOR UPDATE with an aggregate: lock the (few) rows, then take the max.
        numbers = list(
            ClassifierVersion.objects.select_for_update()
            .filter(school_id=school_id)
            .values_list("number", flat=True)
        )
        last = max(numbers, default=0)
        if activate:
            ClassifierVersion.objects.filter(school_id=school_id, is_active=True).update(
                is_active=False
            )
        version = ClassifierVersion(
            school_id=school_id,
            number=last + 1,
            created_by=user if getattr(user, "pk", None) else None,
            is_active=activate,
            n_corrections=sum(len(e.labels) for e in examples),
            n_train=len(train),
            n_heldout=len(held),
            accuracy_before=before,
            accuracy_after=after,
            details={
                "before": before_fields,
                "after": after_fields,
                "models": sorted(deltas),
                "changed_weights": {n: int(d.nnz) for n, d in deltas.items()},
            },
            base_fingerprint=shipped_fingerprint(),
            weights=_pack(deltas),
        )
        version.save()
        audit_record(
            "monitor.classifier.trained",
            obj=version,
            school_id=school_id,
            changes={
                "accuracy_before": before,
                "accuracy_after": after,
                "active": activate,
                "train": len(train),
                "heldout": len(held),
            },
        )
    return version


def classifier_activate(*, school_id: int, version: ClassifierVersion | None, user: Any) -> None:
    """Put ``version`` in use, or the shipped models when ``version`` is None."""
    with transaction.atomic():
        ClassifierVersion.objects.filter(school_id=school_id, is_active=True).update(
            is_active=False
        )
        if version is not None:
            ClassifierVersion.objects.filter(pk=version.pk).update(is_active=True)
        audit_record(
            "monitor.classifier.activated",
            obj=version,
            school_id=school_id,
            changes={"version": version.number if version is not None else "shipped"},
        )
