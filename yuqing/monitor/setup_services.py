"""Writes of the monitor set-up: sources, schemes, imports, manual entry, API tokens and pushes.

Every function is keyword-only and validates with ``full_clean()`` before saving. Items always
reach the database through ``services.mentions_ingest``, which stores each one exactly once.
Source, Scheme, ApiToken and Evidence are audited models; imports and pushes add their own
audit entries (what arrived, how much of it was new).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from yuqing.audit.services import audit_record
from yuqing.core.context import Actor, acting_as
from yuqing.core.tenancy import all_schools, school_scope
from yuqing.lib import uploads
from yuqing.monitor.collect import imports as table_import
from yuqing.monitor.collect.jsonapi import JsonMapping
from yuqing.monitor.collect.rsshub import RouteError, build_route, route_spec, rsshub_url
from yuqing.monitor.models import (
    ApiToken,
    Evidence,
    ImportJob,
    Mention,
    Scheme,
    Source,
    SourceType,
)
from yuqing.monitor.services import IncomingItem, IngestResult, content_hash, mentions_ingest

IMPORT_CHUNK = 200  # rows per transaction: progress moves, and a killed worker loses one chunk
# A running import with no chunk stored for this long was left by a worker that died (a chunk
# takes seconds even on a loaded machine).
IMPORT_STALLED_AFTER = timedelta(minutes=15)
MAX_ROW_ERRORS_KEPT = 1000
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
IMPORT_EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")
PUSH_MAX_ITEMS = 500

# Evidence types, recognised by their first bytes; the name the browser sent decides nothing.
# extension -> (canonical extension, the kind its content must be)
EVIDENCE_EXTENSIONS = {
    ".png": (".png", "png"),
    ".jpg": (".jpg", "jpeg"),
    ".jpeg": (".jpg", "jpeg"),
    ".gif": (".gif", "gif"),
    ".webp": (".webp", "webp"),
    ".pdf": (".pdf", "pdf"),
}


# -- sources ----------------------------------------------------------------------------------

POLLED_KINDS = (Source.Kind.FEED, Source.Kind.RSSHUB, Source.Kind.WEB, Source.Kind.JSON_API)


def rsshub_route(*, route_key: str, params: Mapping[str, str], custom_route: str = "") -> str:
    """The route path for a catalogue entry and its parameters, or a hand-typed route.

    Raises ``ValidationError`` naming the problem: an unknown route, a missing or unknown
    parameter, a full URL where a path belongs.
    """
    from django.conf import settings

    try:
        if route_key:
            route = build_route(route_spec(route_key).template, dict(params))
        else:
            route = custom_route.strip()
        rsshub_url(settings.RSSHUB_BASE_URL, route)  # the same checks the poller will make
    except RouteError as exc:
        raise ValidationError({"route": _("RSSHub route: %(error)s") % {"error": exc}}) from exc
    return route


def json_mapping_check(mapping: Mapping[str, Any]) -> None:
    try:
        JsonMapping.from_dict(mapping)
    except ValueError as exc:
        raise ValidationError({"mapping": _("Field mapping: %(error)s") % {"error": exc}}) from exc


def _check_source(source: Source) -> None:
    if source.kind in (Source.Kind.FEED, Source.Kind.WEB, Source.Kind.JSON_API) and not source.url:
        raise ValidationError({"url": _("This kind of source needs a URL.")})
    if source.kind == Source.Kind.RSSHUB:
        config = source.config or {}
        rsshub_route(
            route_key=str(config.get("route_key", "")),
            params=config.get("params", {}) if config.get("route_key") else {},
            custom_route=str(config.get("route", "")),
        )
    if source.kind == Source.Kind.JSON_API:
        json_mapping_check((source.config or {}).get("mapping", {}))
    if source.url and not source.url.lower().startswith(("http://", "https://")):
        raise ValidationError({"url": _("Only http:// and https:// addresses can be fetched.")})
    source.full_clean()


@transaction.atomic
def source_create(
    *,
    kind: str,
    name: str,
    source_type: str = SourceType.NEWS,
    url: str = "",
    config: Mapping[str, Any] | None = None,
    is_own: bool = False,
    is_authoritative: bool = False,
    enabled: bool = True,
    interval_seconds: int = 900,
) -> Source:
    source = Source(
        kind=kind,
        name=name.strip(),
        source_type=source_type,
        url=url.strip(),
        config=dict(config or {}),
        is_own=is_own,
        is_authoritative=is_authoritative,
        enabled=enabled,
        interval_seconds=interval_seconds,
        next_poll_at=timezone.now(),
    )
    source.assign_school()
    _check_source(source)
    source.save()
    return source


_EDITABLE = (
    "name",
    "source_type",
    "url",
    "config",
    "is_own",
    "is_authoritative",
    "enabled",
    "interval_seconds",
)


@transaction.atomic
def source_update(*, source: Source, **changes: Any) -> Source:
    """Change a source's settings (not its kind, not its polling state)."""
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise TypeError(f"source_update cannot change {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(source, name, value.strip() if isinstance(value, str) else value)
    _check_source(source)
    if {"url", "config"} & set(changes):
        # New address: the old validators and the old backoff say nothing about it.
        source.etag = source.last_modified = ""
        source.consecutive_failures = 0
        source.next_poll_at = timezone.now()
    source.save()
    return source


@transaction.atomic
def source_poll_now(*, source: Source) -> Source:
    """Make a source due at once (also ends a backoff: someone fixed something)."""
    Source.objects.filter(pk=source.pk).update(next_poll_at=timezone.now())
    audit_record("monitor.source.poll_requested", obj=source)
    source.refresh_from_db()
    return source


@transaction.atomic
def source_delete(*, source: Source) -> None:
    """Delete a source that has stored nothing; one with mentions is paused instead."""
    if Mention.objects.filter(source=source).exists() or source.import_jobs.exists():
        raise ValidationError(
            _("This source has stored mentions or imports; pause it instead of deleting it.")
        )
    if source.api_tokens.exists():
        raise ValidationError(_("API tokens push to this source; revoke and remove them first."))
    source.delete()


def default_source(*, kind: str, name: str, source_type: str = SourceType.OTHER) -> Source:
    """The school's source of a non-polled kind (imports, manual entry), made on first use."""
    existing = Source.objects.filter(kind=kind).order_by("pk").first()
    if existing is not None:
        return existing
    return source_create(kind=kind, name=name, source_type=source_type)


# -- schemes ----------------------------------------------------------------------------------


def split_words(raw: str) -> list[str]:
    """One word per line; commas and 、 also separate (people paste lists from documents)."""
    out: list[str] = []
    for line in raw.replace("，", "\n").replace(",", "\n").replace("、", "\n").splitlines():
        word = line.strip()
        if word and word not in out:
            out.append(word)
    return out


@dataclass(frozen=True, slots=True)
class ExpressionProblem:
    message: str
    position: int
    expression: str

    @property
    def before(self) -> str:
        return self.expression[: self.position]

    @property
    def at(self) -> str:
        return self.expression[self.position : self.position + 1] or " "

    @property
    def after(self) -> str:
        return self.expression[self.position + 1 :]

    @property
    def column(self) -> int:
        return self.position + 1


def engine_scheme(data: Mapping[str, Any]) -> Any:
    """The text engine's scheme for form data; ``ValidationError`` by field when invalid.

    An expression error carries ``params["problem"]``: an ``ExpressionProblem`` with its
    position, so the editor can point at the character.
    """
    from yuqing.text.scheme import Scheme as EngineScheme
    from yuqing.text.scheme import SchemeError

    try:
        return EngineScheme(
            name=str(data.get("name") or "test").strip() or "test",
            subject_words=tuple(data.get("subject_words") or ()),
            region_words=tuple(data.get("region_words") or ()),
            event_words=tuple(data.get("event_words") or ()),
            exclude_words=tuple(data.get("exclude_words") or ()),
            expression=str(data.get("expression") or ""),
        )
    except SchemeError as exc:
        field_name = exc.field or "__all__"
        if exc.position is not None:
            problem = ExpressionProblem(
                str(exc).removeprefix(f"{exc.field}: "),
                exc.position,
                str(data.get("expression") or ""),
            )
            error = ValidationError(
                _("Error at character %(column)s of the expression: %(message)s"),
                code="expression",
                params={"column": problem.column, "message": problem.message, "problem": problem},
            )
        else:
            error = ValidationError(
                _("Invalid: %(message)s"),
                code="scheme",
                params={"message": str(exc).removeprefix(f"{exc.field}: ")},
            )
        raise ValidationError({field_name: error}) from exc


_SCHEME_FIELDS = (
    "name",
    "subject_words",
    "region_words",
    "event_words",
    "exclude_words",
    "expression",
    "is_active",
)


def _save_scheme(scheme: Scheme) -> Scheme:
    engine_scheme(
        {f: getattr(scheme, f) for f in _SCHEME_FIELDS if f != "is_active"}
    )  # raises by field
    scheme.full_clean()
    scheme.save()
    return scheme


@transaction.atomic
def scheme_create(
    *,
    name: str,
    subject_words: Sequence[str],
    region_words: Sequence[str] = (),
    event_words: Sequence[str] = (),
    exclude_words: Sequence[str] = (),
    expression: str = "",
    is_active: bool = True,
) -> Scheme:
    scheme = Scheme(
        name=name.strip(),
        subject_words=list(subject_words),
        region_words=list(region_words),
        event_words=list(event_words),
        exclude_words=list(exclude_words),
        expression=expression.strip(),
        is_active=is_active,
    )
    scheme.assign_school()
    return _save_scheme(scheme)


@transaction.atomic
def scheme_update(*, scheme: Scheme, **changes: Any) -> Scheme:
    unknown = set(changes) - set(_SCHEME_FIELDS)
    if unknown:
        raise TypeError(f"scheme_update cannot change {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        if isinstance(value, tuple):
            value = list(value)
        setattr(scheme, name, value.strip() if isinstance(value, str) else value)
    return _save_scheme(scheme)


def _hit_labels() -> tuple[dict[str, str], dict[str, str]]:
    kinds = {
        "subject": _("subject word"),
        "region": _("region word"),
        "event": _("event word"),
        "exclude": _("exclude word"),
        "term": _("expression term"),
    }
    how = {
        "exact": _("as written"),
        "homophone": _("homophone"),
        "pinyin": _("pinyin"),
        "abbreviation": _("abbreviation"),
    }
    return kinds, how


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    kind: str = ""  # "" for plain text, else the word kind of the hit covering it


@dataclass(slots=True)
class SampleResult:
    """What the test box shows for one sample: the verdict and why."""

    label: str
    matched: bool
    hits: list[dict[str, Any]]
    title_segments: list[Segment]
    text_segments: list[Segment]
    reasons: list[str] = field(default_factory=list)
    terms: list[tuple[str, bool]] = field(default_factory=list)  # expression term, found


def _segments(value: str, spans: Iterable[tuple[int, int, str]]) -> list[Segment]:
    out: list[Segment] = []
    pos = 0
    for start, end, kind in sorted(spans, key=lambda s: (s[0], -s[1])):
        if start < pos:  # overlapping hits (滨江 inside 滨江一中): the longest first one shows
            continue
        if start > pos:
            out.append(Segment(value[pos:start]))
        out.append(Segment(value[start:end], kind))
        pos = end
    if pos < len(value):
        out.append(Segment(value[pos:]))
    return out


def scheme_test(*, data: Mapping[str, Any], samples: Sequence[tuple[str, str, str]]) -> list[Any]:
    """Match unsaved scheme settings against samples ``(label, title, text)``; nothing is saved.

    Raises ``ValidationError`` like the save would, so the editor shows the same errors.
    """
    from yuqing.text.matcher import Matcher
    from yuqing.text.normalize import normalize_word

    scheme = engine_scheme(data)
    matcher = Matcher([scheme])
    node = scheme.parsed_expression()
    results: list[Any] = []
    for label, title, text in samples:
        match = matcher.match(title, text, all_schemes=True)[0]
        hits = list(match.hits)
        reasons: list[str] = []
        subject = [h for h in hits if h.kind == "subject"]
        excluded = [h for h in hits if h.kind == "exclude"]
        if subject:
            words = "、".join(dict.fromkeys(h.word for h in subject))
            reasons.append(_("Subject words found: %(words)s.") % {"words": words})
            variants = [h for h in subject if h.match_type != "exact"]
            if variants:
                reasons.append(
                    _("Found through a variant spelling: %(words)s.")
                    % {"words": "、".join(f"{h.surface} → {h.word}" for h in variants)}
                )
        else:
            reasons.append(_("No subject word (the school's names) was found, so it is not kept."))
        if excluded:
            reasons.append(
                _("Exclude words found: %(words)s; subject words inside them do not count.")
                % {"words": "、".join(dict.fromkeys(h.word for h in excluded))}
            )
        terms: list[tuple[str, bool]] = []
        if node is not None:
            found = {normalize_word(h.word) for h in hits}
            terms = [(t, t in found) for t in sorted(node.terms())]
            if subject:
                reasons.append(
                    _("The expression holds.")
                    if match.matched
                    else _("The expression does not hold.")
                )
        spans: dict[str, list[tuple[int, int, str]]] = {"title": [], "text": []}
        for h in hits:
            spans[h.field].append((h.start, h.end, h.kind))
        kinds, how = _hit_labels()
        results.append(
            SampleResult(
                label=label,
                matched=match.matched,
                hits=[
                    {
                        "word": h.word,
                        "kind": kinds.get(h.kind, h.kind),
                        "how": how.get(h.match_type, h.match_type),
                        "field": _("title") if h.field == "title" else _("text"),
                        "start": h.start,
                        "end": h.end,
                        "surface": h.surface,
                    }
                    for h in hits
                ],
                title_segments=_segments(title, spans["title"]),
                text_segments=_segments(text, spans["text"]),
                reasons=reasons,
                terms=terms,
            )
        )
    return results


# -- files ------------------------------------------------------------------------------------


def _read_upload(file: IO[bytes], max_bytes: int) -> tuple[bytes, str]:
    """The upload's bytes and SHA-256; ValidationError when too large or empty."""
    try:
        data, digest = uploads.read_upload(file, max_bytes)
    except uploads.UploadRejected as exc:
        raise ValidationError(exc.message) from None
    if not data:
        raise ValidationError(_("The file is empty."))
    return data, digest


def _store_bytes(folder: str, school_id: int, digest: str, ext: str, data: bytes) -> str:
    """Save under MEDIA_ROOT by content hash; the same bytes are stored once."""
    return uploads.store_by_hash(f"{folder}/{school_id}", digest, ext, data)


# -- imports ----------------------------------------------------------------------------------


@transaction.atomic
def import_upload(*, file: IO[bytes], filename: str, source: Source, user: Any) -> ImportJob:
    """Check and keep an uploaded table; the job then waits for its column mapping."""
    if source.kind != Source.Kind.IMPORT:
        raise ValidationError({"source": _("Choose a file-import source.")})
    if PurePath(filename).suffix.lower() not in IMPORT_EXTENSIONS:
        raise ValidationError({"file": _("Upload a CSV or XLSX file.")})
    try:
        data, digest = _read_upload(file, table_import.MAX_FILE_BYTES)
    except ValidationError as exc:
        raise ValidationError({"file": exc.messages}) from exc
    try:
        table = table_import.read_table(data, filename=filename)
    except table_import.ImportFileError as exc:
        raise ValidationError(
            {"file": _("The file cannot be read: %(error)s") % {"error": exc}}
        ) from exc
    ext = ".xlsx" if data[:4] == b"PK\x03\x04" else ".csv"
    job = ImportJob(
        source=source,
        original_name=PurePath(filename).name[:255],
        sha256=digest,
        size=len(data),
        headers=table.headers,
        mapping=table_import.suggest_mapping(table.headers),
        total_rows=len(table.rows),
        created_by=user if getattr(user, "pk", None) else None,
    )
    job.assign_school()
    job.file.name = _store_bytes("imports", job.school_id, digest, ext, data)
    job.full_clean()
    job.save()
    audit_record(
        "monitor.import.uploaded",
        obj=job,
        changes={"file": job.original_name, "sha256": digest, "rows": job.total_rows},
    )
    return job


def _job_table(job: ImportJob) -> table_import.Table:
    with default_storage.open(job.file.name, "rb") as fh:
        return table_import.read_table(fh.read(), filename=job.file.name)


def _clean_mapping(job: ImportJob, mapping: Mapping[str, str]) -> dict[str, str]:
    clean = {f: h for f, h in mapping.items() if h and f in table_import.FIELDS}
    unknown = [h for h in clean.values() if h not in job.headers]
    if unknown:
        raise ValidationError(
            _("Columns not in the file: %(names)s") % {"names": ", ".join(unknown)}
        )
    if "title" not in clean and "text" not in clean:
        raise ValidationError(_("Map at least the title or the text column."))
    used = list(clean.values())
    if len(set(used)) != len(used):
        raise ValidationError(_("Each column can be mapped to one field only."))
    return clean


@dataclass(slots=True)
class ImportPreview:
    items: list[Any]
    errors: list[Any]
    total: int
    valid: int
    skipped_empty: int


def import_preview(*, job: ImportJob, mapping: Mapping[str, str], limit: int = 10) -> ImportPreview:
    """The first items and every row error the mapping would give; nothing is stored."""
    clean = _clean_mapping(job, mapping)
    result = table_import.apply_mapping(_job_table(job), clean)
    return ImportPreview(
        items=result.items[:limit],
        errors=result.errors,
        total=len(result.items) + len(result.errors) + result.skipped_empty,
        valid=len(result.items),
        skipped_empty=result.skipped_empty,
    )


def import_start(*, job: ImportJob, mapping: Mapping[str, str]) -> ImportJob:
    """Save the mapping and queue the import (a Huey task); the page polls its progress."""
    from yuqing.monitor.tasks_setup import import_run_task

    clean = _clean_mapping(job, mapping)
    with transaction.atomic():
        claimed = ImportJob.objects.filter(
            pk=job.pk, status__in=[ImportJob.Status.MAPPING, ImportJob.Status.FAILED]
        ).update(
            mapping=clean,
            status=ImportJob.Status.QUEUED,
            processed_rows=0,
            failure="",
        )
        if not claimed:
            raise ValidationError(_("This import has already been started."))
        job.refresh_from_db()
        audit_record("monitor.import.started", obj=job, changes={"mapping": clean})
        transaction.on_commit(lambda: import_run_task(job.pk))
    return job


def import_run(*, job_id: int) -> ImportJob | None:
    """Import a queued job's rows in chunks, recording progress after each chunk.

    Run by a worker. A job is claimed by a conditional UPDATE (queued → running), so two
    workers never import the same job; a re-run after a crash re-reads the file and stores
    only what is missing (deduplication by URL and content).
    """
    with all_schools():
        row = ImportJob.objects.filter(pk=job_id).values_list("school_id", flat=True).first()
    if row is None:
        return None
    with school_scope(row):
        now = timezone.now()
        won = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
            status=ImportJob.Status.RUNNING, started_at=now, progress_at=now
        )
        if not won:
            return None
        job = ImportJob.objects.select_related("source", "created_by").get(pk=job_id)
        with acting_as(Actor(user=job.created_by)):
            try:
                return _import_rows(job)
            except Exception as exc:
                # Chunks already stored stay stored; "Retry" re-runs the file and adds only
                # what is missing.
                ImportJob.objects.filter(pk=job_id).update(
                    status=ImportJob.Status.FAILED,
                    failure=f"{type(exc).__name__}: {exc}"[:500],
                    finished_at=timezone.now(),
                )
                raise


def imports_fail_stalled(*, now: datetime | None = None) -> int:
    """Mark failed the running imports whose worker died (no chunk stored for
    IMPORT_STALLED_AFTER), so the page stops showing "Importing" and offers "Retry", which
    stores only what is missing. Not restarted automatically: a file that kills its worker
    would otherwise kill the next one too. Returns how many were marked."""
    cutoff = (now or timezone.now()) - IMPORT_STALLED_AFTER
    failure = _(
        "The worker stopped during the import (nothing stored for %(minutes)s minutes). "
        "Retry imports only what is missing."
    ) % {"minutes": int(IMPORT_STALLED_AFTER.total_seconds() // 60)}
    marked = 0
    with all_schools():
        stalled = list(
            ImportJob.unscoped.filter(status=ImportJob.Status.RUNNING)
            .filter(Q(progress_at__lt=cutoff) | Q(progress_at__isnull=True, started_at__lt=cutoff))
            .values_list("pk", "school_id")
        )
    for pk, school_id in stalled:
        with school_scope(school_id):
            # Conditional on the state read above: a worker that was only slow and has just
            # stored a chunk keeps its job.
            updated = (
                ImportJob.objects.filter(pk=pk, status=ImportJob.Status.RUNNING)
                .filter(Q(progress_at__lt=cutoff) | Q(progress_at__isnull=True))
                .update(
                    status=ImportJob.Status.FAILED,
                    failure=str(failure)[:500],
                    finished_at=timezone.now(),
                )
            )
            if updated:
                marked += 1
                job = ImportJob.objects.get(pk=pk)
                audit_record("monitor.import.failed", obj=job, changes={"error": str(failure)})
    return marked


def _import_rows(job: ImportJob) -> ImportJob:
    try:
        result = table_import.apply_mapping(_job_table(job), job.mapping)
    except (table_import.ImportFileError, OSError) as exc:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, failure=str(exc)[:500], finished_at=timezone.now()
        )
        audit_record("monitor.import.failed", obj=job, changes={"error": str(exc)[:500]})
        job.refresh_from_db()
        return job
    errors = [{"row": e.row, "message": e.message} for e in result.errors]
    ImportJob.objects.filter(pk=job.pk).update(
        total_rows=len(result.items) + len(errors) + result.skipped_empty,
        processed_rows=len(errors) + result.skipped_empty,
        row_errors=errors[:MAX_ROW_ERRORS_KEPT],
        error_count=len(errors),
        items_new=0,
        items_duplicate=0,
        items_unmatched=0,
    )
    for start in range(0, len(result.items), IMPORT_CHUNK):
        chunk = result.items[start : start + IMPORT_CHUNK]
        ingested = mentions_ingest(
            source=job.source,
            items=[
                IncomingItem(
                    text=item.text,
                    title=item.title,
                    url=item.url,
                    author=item.author,
                    published_at=item.published_at,
                    source_type=_platform_type(item.extras.get("platform")) or "",
                )
                for item in chunk
            ],
        )
        ImportJob.objects.filter(pk=job.pk).update(
            processed_rows=F("processed_rows") + len(chunk),
            items_new=F("items_new") + ingested.new,
            items_duplicate=F("items_duplicate") + ingested.duplicates,
            items_unmatched=F("items_unmatched") + ingested.unmatched,
            progress_at=timezone.now(),
        )
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.DONE, finished_at=timezone.now()
    )
    job.refresh_from_db()
    audit_record(
        "monitor.import.finished",
        obj=job,
        changes={
            "rows": job.total_rows,
            "new": job.items_new,
            "duplicates": job.items_duplicate,
            "unmatched": job.items_unmatched,
            "row_errors": job.error_count,
        },
    )
    return job


_PLATFORMS = {
    "微博": SourceType.WEIBO,
    "微信": SourceType.WECHAT,
    "公众号": SourceType.WECHAT,
    "论坛": SourceType.FORUM,
    "贴吧": SourceType.FORUM,
    "视频": SourceType.VIDEO,
    "抖音": SourceType.VIDEO,
    "快手": SourceType.VIDEO,
    "问答": SourceType.QA,
    "知乎": SourceType.QA,
    "新闻": SourceType.NEWS,
    "网媒": SourceType.NEWS,
    "客户端": SourceType.NEWS,
}


def _platform_type(platform: Any) -> str:
    """A vendor's platform column (微博, 微信, 论坛 ...) as our source type, when recognisable."""
    if not platform:
        return ""
    text = str(platform)
    for word, kind in _PLATFORMS.items():
        if word in text:
            return str(kind)
    return ""


# -- manual entry and evidence ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckedFile:
    data: bytes
    sha256: str
    content_type: str
    ext: str
    name: str


def evidence_check(*, file: IO[bytes], filename: str) -> CheckedFile:
    """Refuse anything but a PNG / JPEG / GIF / WebP image or a PDF, up to 10 MB."""
    ext, kind = EVIDENCE_EXTENSIONS.get(PurePath(filename).suffix.lower(), (None, ""))
    if ext is None:
        raise ValidationError(
            {"evidence": _("Evidence must be a PNG, JPEG, GIF or WebP image, or a PDF.")}
        )
    try:
        checked = uploads.check_upload(file, allowed={kind}, max_bytes=EVIDENCE_MAX_BYTES)
    except uploads.UploadRejected as exc:
        if exc.reason != "type":
            raise ValidationError({"evidence": [exc.message]}) from None
        raise ValidationError(
            {"evidence": _("The file's content is not the image or PDF its name says it is.")}
        ) from None
    return CheckedFile(
        checked.data, checked.sha256, checked.content_type, ext, PurePath(filename).name
    )


def evidence_add(*, mention: Mention, checked: CheckedFile, user: Any) -> Evidence:
    evidence = Evidence(
        mention=mention,
        original_name=checked.name[:255],
        content_type=checked.content_type,
        size=len(checked.data),
        sha256=checked.sha256,
        uploaded_by=user if getattr(user, "pk", None) else None,
    )
    evidence.assign_school()
    evidence.file.name = _store_bytes(
        "evidence", evidence.school_id, checked.sha256, checked.ext, checked.data
    )
    evidence.full_clean()
    evidence.save()
    return evidence


@dataclass(slots=True)
class ManualResult:
    mention: Mention | None
    created: bool
    evidence: Evidence | None = None
    unmatched: bool = False


def _existing_mention(url: str, title: str, text: str) -> Mention | None:
    from yuqing.lib.urls import canonical_url

    qs = Mention.objects.all()
    if url:
        digest = hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()
        found = qs.filter(url_hash=digest).first()
        if found is not None:
            return found
    return qs.filter(content_hash=content_hash(title, text)).first()


def mention_add_manual(
    *,
    source: Source,
    text: str,
    title: str = "",
    url: str = "",
    author: str = "",
    published_at: datetime | None = None,
    source_type: str = "",
    evidence: CheckedFile | None = None,
    user: Any = None,
) -> ManualResult:
    """Store a mention someone saw themselves, with its evidence file.

    A mention already stored (same URL or content) is not stored twice; the evidence is added
    to it. An item that matches no active scheme is not stored, as for every other source.
    """
    if source.kind != Source.Kind.MANUAL:
        raise ValidationError({"source": _("Choose a manual-entry source.")})
    if not text.strip() and not title.strip():
        raise ValidationError({"text": _("Give the title or the text of the post.")})
    item = IncomingItem(
        text=text.strip(),
        title=title.strip(),
        url=url.strip(),
        author=author.strip(),
        published_at=published_at,
        source_type=source_type,
    )
    with transaction.atomic():
        ingested = mentions_ingest(source=source, items=[item])
        if ingested.unmatched:
            return ManualResult(None, False, unmatched=True)
        mention: Mention | None
        if ingested.mention_ids:
            mention = Mention.objects.get(pk=ingested.mention_ids[0])
            created = True
        else:
            mention = _existing_mention(item.url, item.title, item.text)
            created = False
        if mention is None:
            return ManualResult(None, False)
        audit_record(
            "monitor.mention.added_manually" if created else "monitor.mention.seen_again",
            obj=mention,
            changes={"url": item.url, "title": item.title, "source": source.name},
        )
        stored = evidence_add(mention=mention, checked=evidence, user=user) if evidence else None
    return ManualResult(mention, created, stored)


# -- API tokens and pushes ----------------------------------------------------------------------

TOKEN_PREFIX = "yq_"  # noqa: S105  (the visible start of every token, not a secret)


def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@transaction.atomic
def api_token_create(
    *,
    name: str,
    source: Source | None = None,
    can_push: bool = True,
    can_read: bool = False,
    user: Any = None,
) -> tuple[ApiToken, str]:
    """A new token; returns it with the secret, which is shown this once and never again."""
    name = name.strip()
    if ApiToken.objects.filter(name=name).exists():
        raise ValidationError({"name": _("A token of this name exists; choose another name.")})
    if not can_push and not can_read:
        raise ValidationError(_("A token must at least push or read."))
    if source is None:
        source = Source.objects.filter(kind=Source.Kind.PUSH, name=name).first() or source_create(
            kind=Source.Kind.PUSH, name=name, source_type=SourceType.OTHER
        )
    elif source.kind != Source.Kind.PUSH:
        raise ValidationError({"source": _("Choose a push-API source.")})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        token_hash=_token_digest(raw),
        source=source,
        can_push=can_push,
        can_read=can_read,
        created_by=user if getattr(user, "pk", None) else None,
    )
    token.assign_school()
    token.full_clean()
    token.save()
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.full_clean()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_authenticate(raw: str) -> ApiToken | None:
    """The live token a request presents, from any school.

    Authentication is one of the few places that reads across schools (the token says which
    school the request acts for), hence ``unscoped``; callers then enter that school's scope.
    """
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = (
        ApiToken.unscoped.select_related("source")
        .filter(token_hash=_token_digest(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        # At most once a minute: a busy collector must not turn every push into a row write.
        ApiToken.unscoped.filter(pk=token.pk).update(last_used_at=now)
    return token


def mentions_push(*, token: ApiToken, items: Sequence[IncomingItem]) -> IngestResult:
    """Store pushed items (exactly once each) in the token's source, and audit the push."""
    if not token.can_push:
        raise PermissionError("this token may not push")
    if len(items) > PUSH_MAX_ITEMS:
        raise ValidationError(_("At most %(n)s items per request.") % {"n": PUSH_MAX_ITEMS})
    result = mentions_ingest(source=token.source, items=items)
    audit_record(
        "monitor.api.pushed",
        obj=token.source,
        changes={
            "token": token.name,
            "received": result.seen,
            "new": result.new,
            "duplicates": result.duplicates,
            "unmatched": result.unmatched,
        },
    )
    return result
