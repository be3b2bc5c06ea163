"""Monitoring: schemes, sources, what was fetched, mentions and the events they form."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yuqing.audit.registry import audited
from yuqing.core.models import StoredFile
from yuqing.core.tenancy import SchoolOwned


class Sentiment(models.TextChoices):
    NEGATIVE = "negative", _("Negative")
    NEUTRAL = "neutral", _("Neutral")
    POSITIVE = "positive", _("Positive")


class Topic(models.TextChoices):
    TEACHING = "teaching", _("Teaching")
    HEALTH = "health", _("Health")
    FOOD_LODGING = "food_lodging", _("Food and lodging")
    EMERGENCY = "emergency", _("Emergency")
    SPECIAL_CARE = "special_care", _("Special care")
    TEACHER_CONDUCT = "teacher_conduct", _("Teacher conduct")
    ADMISSIONS_EXAMS = "admissions_exams", _("Admissions and exams")
    FEES = "fees", _("Fees")
    CAMPUS_NEWS = "campus_news", _("Campus news")
    OTHER = "other", _("Other")


class Risk(models.IntegerChoices):
    NONE = 0, _("None")
    BLUE = 1, _("Blue")
    YELLOW = 2, _("Yellow")
    ORANGE = 3, _("Orange")
    RED = 4, _("Red")


class SourceType(models.TextChoices):
    NEWS = "news", _("News")
    WEIBO = "weibo", _("Weibo")
    WECHAT = "wechat", _("WeChat")
    FORUM = "forum", _("Forum")
    VIDEO = "video", _("Video")
    QA = "qa", _("Q&A")
    PETITION = "petition", _("Petition")
    OTHER = "other", _("Other")


@audited()
class Scheme(SchoolOwned):
    """A monitoring scheme (监测方案): the words that say a post is about the school."""

    name = models.CharField(_("name"), max_length=100)
    subject_words = models.JSONField(_("subject words"), default=list)
    region_words = models.JSONField(_("region words"), default=list, blank=True)
    event_words = models.JSONField(_("event words"), default=list, blank=True)
    exclude_words = models.JSONField(_("exclude words"), default=list, blank=True)
    expression = models.TextField(_("expression"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["school", "name"], name="scheme_unique_name")
        ]
        verbose_name = _("scheme")
        verbose_name_plural = _("schemes")

    def __str__(self) -> str:
        return self.name

    def as_engine_dict(self) -> dict[str, object]:
        return {
            "id": str(self.pk),
            "name": self.name,
            "subject_words": list(self.subject_words),
            "region_words": list(self.region_words),
            "event_words": list(self.event_words),
            "exclude_words": list(self.exclude_words),
            "expression": self.expression,
        }


@audited(
    exclude=(
        "etag",
        "last_modified",
        "next_poll_at",
        "last_polled_at",
        "last_success_at",
        "last_error_at",
        "last_error_kind",
        "last_error",
        "consecutive_failures",
        "items_total",
        "items_unmatched",
        "last_duration_ms",
        "failing_alerted_at",
        "seen_urls",
    )
)
class Source(SchoolOwned):
    """Where mentions come from: a feed, a site, an API, imports, pushes or manual entry."""

    class Kind(models.TextChoices):
        FEED = "feed", _("RSS / Atom / JSON Feed")
        RSSHUB = "rsshub", _("RSSHub route")
        WEB = "web", _("Web pages")
        JSON_API = "json_api", _("JSON API")
        IMPORT = "import", _("File import")
        PUSH = "push", _("Push API")
        MANUAL = "manual", _("Manual entry")

    class Health(models.TextChoices):
        NEW = "new", _("Not polled yet")
        OK = "ok", _("OK")
        SLOW = "slow", _("Slow")
        FAILING = "failing", _("Failing")
        BACKING_OFF = "backing_off", _("Backing off")
        PAUSED = "paused", _("Paused")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    source_type = models.CharField(
        _("source type"), max_length=20, choices=SourceType.choices, default=SourceType.NEWS
    )
    url = models.URLField(_("URL"), max_length=1000, blank=True)
    config = models.JSONField(_("settings"), default=dict, blank=True)
    is_own = models.BooleanField(
        _("the school's own site"),
        default=False,
        help_text=_("The school's own sites are read without consulting robots.txt."),
    )
    is_authoritative = models.BooleanField(_("authoritative outlet"), default=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    interval_seconds = models.PositiveIntegerField(_("poll interval (seconds)"), default=900)

    # Polling state, written by the poller only.
    etag = models.CharField(max_length=300, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    next_poll_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error_kind = models.CharField(max_length=30, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_alerted_at = models.DateTimeField(null=True, blank=True)
    items_total = models.PositiveBigIntegerField(default=0)
    items_unmatched = models.PositiveBigIntegerField(default=0)
    # Canonical URLs of recent articles of a web source, so unchanged list pages do not make
    # us fetch the same article pages again (bounded; newest last).
    seen_urls = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["school", "name"], name="source_unique_name")
        ]
        verbose_name = _("source")
        verbose_name_plural = _("sources")

    def __str__(self) -> str:
        return self.name

    @property
    def polls(self) -> bool:
        return self.kind in {self.Kind.FEED, self.Kind.RSSHUB, self.Kind.WEB, self.Kind.JSON_API}

    def health(self, *, now: object = None) -> str:
        if not self.enabled:
            return self.Health.PAUSED
        if self.last_polled_at is None:
            return self.Health.NEW
        if self.consecutive_failures >= 3:
            return self.Health.BACKING_OFF
        if self.consecutive_failures:
            return self.Health.FAILING
        if self.last_duration_ms is not None and self.last_duration_ms > 10_000:
            return self.Health.SLOW
        return self.Health.OK


class FetchLog(SchoolOwned):
    """One poll of one source. Kept 30 days."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="fetch_logs")
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    bytes = models.PositiveIntegerField(default=0)
    not_modified = models.BooleanField(default=False)
    items_seen = models.PositiveIntegerField(default=0)
    items_new = models.PositiveIntegerField(default=0)
    items_unmatched = models.PositiveIntegerField(default=0)
    error_kind = models.CharField(max_length=30, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["source", "-started_at"], name="fetchlog_source_time")]


class Event(SchoolOwned):
    """A set of mentions about one happening (reposts, rewrites, follow-ups)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WATCHING = "watching", _("Watching")
        CLOSED = "closed", _("Closed")

    key = models.CharField(max_length=64)
    title = models.CharField(_("title"), max_length=300)
    summary = models.TextField(_("summary"), blank=True)
    first_at = models.DateTimeField(_("first mention"))
    latest_at = models.DateTimeField(_("latest mention"), db_index=True)
    mention_count = models.PositiveIntegerField(_("mentions"), default=0)
    negative_count = models.PositiveIntegerField(default=0)
    peak_risk = models.PositiveSmallIntegerField(_("peak risk"), choices=Risk.choices, default=0)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN
    )

    class Meta:
        ordering = ["-latest_at"]
        constraints = [models.UniqueConstraint(fields=["school", "key"], name="event_unique_key")]
        verbose_name = _("event")
        verbose_name_plural = _("events")

    def __str__(self) -> str:
        return self.title


class Mention(SchoolOwned):
    """One post or article about the school, with what the text engine made of it."""

    class Status(models.TextChoices):
        NEW = "new", _("New")
        READ = "read", _("Read")
        IGNORED = "ignored", _("Ignored")
        HANDLING = "handling", _("In a case")

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="mentions")
    source_type = models.CharField(_("source type"), max_length=20, choices=SourceType.choices)
    url = models.URLField(_("URL"), max_length=2000, blank=True)
    # Hashes rather than the long strings carry the uniqueness: index size stays small.
    url_hash = models.CharField(max_length=64, blank=True)
    content_hash = models.CharField(max_length=64)
    title = models.CharField(_("title"), max_length=500, blank=True)
    text = models.TextField(_("text"))
    author = models.CharField(_("author"), max_length=200, blank=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    fetched_at = models.DateTimeField(_("fetched"), default=timezone.now)

    relevant = models.BooleanField(_("relevant"), default=True)
    relevance = models.FloatField(default=1.0)
    sentiment = models.CharField(_("sentiment"), max_length=10, choices=Sentiment.choices)
    topic = models.CharField(_("topic"), max_length=20, choices=Topic.choices)
    risk = models.PositiveSmallIntegerField(_("risk"), choices=Risk.choices, default=0)
    scores = models.JSONField(default=dict, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    matches = models.JSONField(default=list, blank=True)
    event = models.ForeignKey(
        Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="mentions"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.NEW
    )
    corrected = models.BooleanField(default=False)
    # The instant a mention is dated by everywhere (published, or fetched when undated), stored
    # by the database itself so every insert path fills it and date ranges can use an index.
    dated_at = models.GeneratedField(
        expression=Coalesce("published_at", "fetched_at"),
        output_field=models.DateTimeField(),
        db_persist=True,
    )

    class Meta:
        # Ordering by the increasing id is what keeps "newest first" cheap at millions of rows.
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "url_hash"],
                name="mention_unique_url",
                condition=~models.Q(url_hash=""),
            ),
            models.UniqueConstraint(
                fields=["school", "content_hash"], name="mention_unique_content"
            ),
        ]
        indexes = [
            models.Index(fields=["school", "-id"], name="mention_school_newest"),
            models.Index(fields=["school", "risk", "-id"], name="mention_school_risk"),
            models.Index(fields=["event", "-id"], name="mention_event_newest"),
            models.Index(fields=["school", "published_at"], name="mention_school_published"),
            # Covers the overview's and the reports' counts over a date range: the figures
            # are read from the index alone, without visiting a million table rows.
            models.Index(
                fields=[
                    "school",
                    "relevant",
                    "dated_at",
                    "sentiment",
                    "topic",
                    "source_type",
                    "risk",
                    "event",
                ],
                name="mention_school_dated",
            ),
        ]
        verbose_name = _("mention")
        verbose_name_plural = _("mentions")

    def __str__(self) -> str:
        return self.title or self.text[:40]

    @property
    def when(self) -> object:
        return self.published_at or self.fetched_at


@audited()
class LabelCorrection(SchoolOwned):
    """A person's fix of a label; kept to retrain the school's own model."""

    class Field(models.TextChoices):
        RELEVANT = "relevant", _("Relevance")
        SENTIMENT = "sentiment", _("Sentiment")
        TOPIC = "topic", _("Topic")
        RISK = "risk", _("Risk")

    mention = models.ForeignKey(Mention, on_delete=models.CASCADE, related_name="corrections")
    field = models.CharField(max_length=20, choices=Field.choices)
    old_value = models.CharField(max_length=30)
    new_value = models.CharField(max_length=30)
    corrected_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    corrected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-corrected_at"]


class EventIndexState(SchoolOwned):
    """The text engine's event-clustering window for one school, saved between batches.

    Its row lock also serialises ingestion per school, so two workers never assign events
    from two stale copies of the window.
    """

    state = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["school"], name="eventindex_one_per_school")]


class ClassifierVersion(SchoolOwned):
    """One retraining of a school's own classifier from its label corrections.

    The weights are stored as the *difference* from the shipped models (only the n-gram columns
    the corrections touch change), in the database rather than the data dir: every worker
    machine of a Redis deployment reads the same row, and a version is a few kilobytes. The
    shipped models' fingerprint is kept with it; a version made for other shipped models is not
    applied (the office retrains).
    """

    number = models.PositiveIntegerField(_("version"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_active = models.BooleanField(_("in use"), default=False)
    n_corrections = models.PositiveIntegerField(_("corrections"), default=0)
    n_train = models.PositiveIntegerField(_("trained on"), default=0)
    n_heldout = models.PositiveIntegerField(_("held out"), default=0)
    accuracy_before = models.FloatField(_("accuracy before"), null=True, blank=True)
    accuracy_after = models.FloatField(_("accuracy after"), null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    base_fingerprint = models.CharField(max_length=64)
    weights = models.BinaryField()

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "number"], name="classifierversion_unique_number"
            ),
            # One model in use per school, held by the database, not by care in the code.
            models.UniqueConstraint(
                fields=["school"],
                condition=models.Q(is_active=True),
                name="classifierversion_one_active",
            ),
        ]
        verbose_name = _("classifier version")
        verbose_name_plural = _("classifier versions")

    def __str__(self) -> str:
        return f"v{self.number}"


# -- set-up: imports, push tokens, evidence (yuqing/monitor/setup_services.py writes these) ----


class ImportJob(SchoolOwned):
    """One uploaded CSV / XLSX file, its column mapping, and the progress of its import.

    The file is kept under MEDIA_ROOT with its SHA-256, so a job can be re-run (after a worker
    died) and the same file imported again adds nothing twice: items are deduplicated by URL
    and content on the way in.
    """

    class Status(models.TextChoices):
        MAPPING = "mapping", _("Waiting for the column mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="import_jobs")
    file = models.FileField(upload_to="imports/", max_length=300)
    original_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveBigIntegerField(default=0)
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.MAPPING
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    items_new = models.PositiveIntegerField(default=0)
    items_duplicate = models.PositiveIntegerField(default=0)
    items_unmatched = models.PositiveIntegerField(default=0)
    row_errors = models.JSONField(default=list, blank=True)  # [{"row": n, "message": "..."}]
    error_count = models.PositiveIntegerField(default=0)
    failure = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # The importing worker's last sign of life (each chunk stored): a job that stops moving
    # was left by a worker that died, and is marked failed so that "Retry" is offered.
    progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self) -> str:
        return self.original_name

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, int(100 * self.processed_rows / self.total_rows))

    @property
    def in_progress(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING}


@audited(exclude=("last_used_at",), mask=("token_hash",))
class ApiToken(SchoolOwned):
    """A credential for the JSON API. Only its SHA-256 is stored; the token is shown once.

    Tokens are long random strings, so a fast hash is enough (nothing to brute-force), and it
    lets a request find its token by an indexed lookup.
    """

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12)  # the first characters, to tell tokens apart
    token_hash = models.CharField(max_length=64, unique=True)
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="api_tokens", verbose_name=_("source")
    )
    can_push = models.BooleanField(_("may push mentions"), default=True)
    can_read = models.BooleanField(_("may read mentions and events"), default=False)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["school", "name"], name="apitoken_unique_name")
        ]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return self.name


@audited()
class Evidence(StoredFile):
    """A screenshot or file kept with a mention, with the SHA-256 it had when it arrived."""

    mention = models.ForeignKey(Mention, on_delete=models.PROTECT, related_name="evidence")
    file = models.FileField(upload_to="evidence/", max_length=300)

    class Meta:
        ordering = ["-uploaded_at"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
