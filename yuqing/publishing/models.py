"""Publication review: drafts and their revisions, review flows, sign-offs, the live record.

Definition (edited by people): ``CheckSettings`` (the school's word lists and the hosts of its
own sites), ``Flow`` → ordered ``FlowStep`` (a role and/or an org unit whose people may act).

Runtime (written by services only): ``Draft`` → ``Revision`` per save; ``Review`` (one active
per draft, a conditional unique constraint) → ``StepState`` per attempt, pointing at the exact
revision acted on; ``Signature`` (Ed25519 over the revision's content hash); ``CheckRun`` and
``FindingOverride``; ``Publication`` (a live URL, entered or found by the site watch through
``SitePage``) watched for tampering.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yuqing.audit.registry import audited
from yuqing.core.tenancy import SchoolOwned


class Channel(models.TextChoices):
    WEBSITE = "website", _("School website")
    WECHAT = "wechat", _("WeChat official account")
    VIDEO = "video", _("WeChat video account")
    PARTY = "party", _("Party-building site")


# --------------------------------------------------------------------------- definitions


@audited()
class CheckSettings(SchoolOwned):
    """A school's own check lists (one row per school) and the hosts of its own sites.

    ``formulations`` and ``confusions`` are lists of ``[wrong, right]`` pairs. ``watch_hosts``
    are the host names the school registered as its channels: live pages are fetched (tamper
    watch) and links checked on the network only there.
    """

    # The project's seeded lists (yuqing/text/proofread/data) apply unless switched off; the
    # school's own entries come on top, and win for the same word.
    use_seeded = models.BooleanField(_("use the project's seeded lists"), default=True)
    forbidden_words = models.JSONField(_("forbidden words"), default=list, blank=True)
    formulations = models.JSONField(_("formulation lexicon"), default=list, blank=True)
    confusions = models.JSONField(_("confusion list"), default=list, blank=True)
    # {"name": ["title", ...]}: the name followed by any other title is a finding.
    leaders = models.JSONField(_("leaders and their titles"), default=dict, blank=True)
    watch_hosts = models.JSONField(_("the school's own sites"), default=list, blank=True)
    watch_minutes = models.PositiveIntegerField(_("check live pages every (minutes)"), default=60)
    # Feeds, sitemaps and list pages of those sites (besides the monitor's own-site sources)
    # read to find where approved drafts went live: "URL" or "URL CSS-selector" per entry.
    watch_listings = models.JSONField(_("lists of new pages"), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school"], name="pub_checksettings_one_per_school")
        ]
        verbose_name = _("check settings")
        verbose_name_plural = _("check settings")

    def __str__(self) -> str:
        return f"check settings of school {self.school_id}"


@audited()
class Flow(SchoolOwned):
    """A review flow: ordered steps. ``channel`` empty means "every channel without its own"."""

    name = models.CharField(_("name"), max_length=100)
    channel = models.CharField(
        _("channel"), max_length=20, choices=Channel.choices, blank=True, default=""
    )
    allow_self_approval = models.BooleanField(
        _("authors may sign their own drafts"),
        default=False,
        help_text=_("Off: a reviewer who wrote the draft cannot approve it."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["channel", "name"]
        constraints = [
            models.UniqueConstraint(fields=["school", "channel"], name="pub_flow_one_per_channel")
        ]
        verbose_name = _("review flow")
        verbose_name_plural = _("review flows")

    def __str__(self) -> str:
        return self.name


@audited()
class FlowStep(SchoolOwned):
    """One level of review: whoever holds ``role`` (within ``org_unit``'s subtree, if set)."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("order"))
    name = models.CharField(_("name"), max_length=100)
    role = models.CharField(_("role"), max_length=20, blank=True)
    org_unit = models.ForeignKey(
        "accounts.OrgUnit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("org unit"),
    )
    runs_checks = models.BooleanField(
        _("run the automatic checks again before signing"), default=False
    )

    class Meta:
        ordering = ["flow", "order"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "order"], name="pub_flowstep_unique_order")
        ]
        verbose_name = _("review step")
        verbose_name_plural = _("review steps")

    def __str__(self) -> str:
        return self.name


# --------------------------------------------------------------------------- drafts


@audited(exclude=("body", "text", "updated_at", "current_revision"))
class Draft(SchoolOwned):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        IN_REVIEW = "in_review", _("In review")
        NEEDS_CHANGES = "needs_changes", _("Changes requested")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        PUBLISHED = "published", _("Published")

    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)  # sanitised HTML (nh3)
    text = models.TextField(blank=True)  # plain text of the body, what the checks read
    channels = models.JSONField(_("channels"), default=list)
    author = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("author")
    )
    department = models.ForeignKey(
        "accounts.OrgUnit",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("department"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    current_revision = models.ForeignKey(
        "Revision", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A response drafted in a case; its publication closes the loop on the case
    # (yuqing.cases.services.case_response_published).
    case = models.ForeignKey(
        "cases.Case",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="response_drafts",
        verbose_name=_("case"),
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["school", "status", "-updated_at"], name="pub_draft_st")]
        verbose_name = _("draft")
        verbose_name_plural = _("drafts")

    def __str__(self) -> str:
        return self.title

    def channel_labels(self) -> list[str]:
        labels = dict(Channel.choices)
        return [str(labels.get(c, c)) for c in self.channels or []]


class Revision(SchoolOwned):
    """What a draft said at one save. Never changed: signatures point here."""

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    text = models.TextField(blank=True)
    channels = models.JSONField(default=list)
    # sha-256 of each attachment at the time, in the order they were added
    attachments = models.JSONField(default=list, blank=True)
    content_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["draft", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["draft", "number"], name="pub_revision_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.draft_id} r{self.number}"


class Attachment(SchoolOwned):
    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        DOCUMENT = "document", _("Document")

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="attachment_set")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(max_length=100)  # as detected from the bytes
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    path = models.CharField(max_length=300)  # relative to MEDIA_ROOT
    text = models.TextField(blank=True)  # extracted, for the checks
    uploaded_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


# --------------------------------------------------------------------------- review runtime


ACTIVE_REVIEW = ("in_progress", "needs_changes", "approved")


class Review(SchoolOwned):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        NEEDS_CHANGES = "needs_changes", _("Changes requested")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        INVALIDATED = "invalidated", _("Invalidated by an edit")

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="reviews")
    flow = models.ForeignKey(Flow, on_delete=models.PROTECT, related_name="reviews")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS)
    started_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # The database, not a hope, keeps one live review per draft.
            models.UniqueConstraint(
                fields=["draft"],
                name="pub_review_one_active_per_draft",
                condition=models.Q(status__in=ACTIVE_REVIEW),
            )
        ]

    def __str__(self) -> str:
        return f"review {self.pk} of draft {self.draft_id}"


class StepState(SchoolOwned):
    """One attempt at one step, on one exact revision."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("Waiting")
        APPROVED = "approved", _("Approved")
        NEEDS_CHANGES = "needs_changes", _("Changes requested")
        REJECTED = "rejected", _("Rejected")
        INVALIDATED = "invalidated", _("Invalidated by an edit")

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="step_states")
    step = models.ForeignKey(FlowStep, on_delete=models.PROTECT, related_name="+")
    revision = models.ForeignKey(Revision, on_delete=models.PROTECT, related_name="step_states")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS)
    comment = models.TextField(blank=True)
    acted_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acted_at = models.DateTimeField(null=True, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "step"],
                name="pub_stepstate_one_open_per_step",
                condition=models.Q(status="in_progress"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.step} ({self.status})"


class Signature(SchoolOwned):
    """An Ed25519 signature over the signed statement of one approval (see signing.py)."""

    step_state = models.OneToOneField(StepState, on_delete=models.PROTECT, related_name="signature")
    revision = models.ForeignKey(Revision, on_delete=models.PROTECT, related_name="signatures")
    signer = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    signer_name = models.CharField(max_length=150)
    content_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    ip = models.CharField(max_length=45, blank=True)
    method = models.CharField(max_length=10)  # "password" or "totp": how identity was confirmed
    statement = models.TextField()  # exactly the bytes that were signed (UTF-8)
    signature = models.CharField(max_length=200)  # base64
    key_id = models.CharField(max_length=32)
    public_key = models.TextField()  # PEM, so a signature verifies after a key change too

    class Meta:
        ordering = ["signed_at", "id"]

    def __str__(self) -> str:
        return f"signature {self.pk} by {self.signer_name}"


class ReviewComment(SchoolOwned):
    """A reviewer's comment, optionally anchored to a range of the revision's plain text."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="comments")
    step_state = models.ForeignKey(
        StepState, on_delete=models.CASCADE, null=True, blank=True, related_name="comments"
    )
    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    start = models.PositiveIntegerField(null=True, blank=True)
    end = models.PositiveIntegerField(null=True, blank=True)
    quote = models.CharField(max_length=500, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["start", "id"]

    def __str__(self) -> str:
        return self.body[:50]


class CheckRun(SchoolOwned):
    class Stage(models.TextChoices):
        DRAFT = "draft", _("While editing")
        SUBMISSION = "submission", _("Before submission")
        FINAL = "final", _("Before final approval")

    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="check_runs")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    findings = models.JSONField(default=list, blank=True)
    blocking = models.PositiveIntegerField(default=0)
    unresolved = models.PositiveIntegerField(default=0)  # blocking and not overridden
    engine = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"checks of {self.revision_id} ({self.stage})"


class FindingOverride(SchoolOwned):
    """A reviewer let a blocking finding stand, with a reason. Keyed by what was found."""

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="overrides")
    key = models.CharField(max_length=300)
    kind = models.CharField(max_length=40)
    text = models.CharField(max_length=300)
    reason = models.TextField()
    by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["draft", "key"], name="pub_override_unique_key")
        ]

    def __str__(self) -> str:
        return f"override {self.kind}: {self.text}"


# --------------------------------------------------------------------------- publication


@audited(exclude=("last_checked_at", "next_check_at", "lease_until", "last_error", "last_diff"))
class Publication(SchoolOwned):
    class WatchStatus(models.TextChoices):
        PENDING = "pending", _("Not checked yet")
        MATCHES = "matches", _("Matches the signed text")
        CHANGED = "changed", _("Changed after signing")
        ERROR = "error", _("Could not be checked")
        NOT_WATCHED = "not_watched", _("Not watched (host not registered)")

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="publications")
    revision = models.ForeignKey(Revision, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)

    class FoundBy(models.TextChoices):
        HAND = "hand", _("Entered by hand")
        WATCH = "watch", _("Found by watching the site")

    url = models.URLField(_("address"), max_length=500)
    published_at = models.DateTimeField(_("published"), default=timezone.now)
    # None when the site watch found it.
    recorded_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    found_by = models.CharField(max_length=10, choices=FoundBy.choices, default=FoundBy.HAND)
    # Found by the watch: how alike the page's text and the signed text were (1.0: the same),
    # and the feed, sitemap or list page it was listed on.
    similarity = models.FloatField(null=True, blank=True)
    found_on = models.URLField(max_length=1000, blank=True)
    watch_status = models.CharField(
        max_length=20, choices=WatchStatus.choices, default=WatchStatus.PENDING
    )
    last_checked_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(default=timezone.now, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_diff = models.TextField(blank=True)

    class Meta:
        ordering = ["-published_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["draft", "url"], name="pub_publication_unique_url")
        ]

    def __str__(self) -> str:
        return self.url

    def host(self) -> str:
        from urllib.parse import urlsplit

        return (urlsplit(self.url).hostname or "").lower()


class SitePage(SchoolOwned):
    """A page of the school's own site the site watch has read (to find where drafts went live).

    One row per address, so each page is fetched once; its text is kept for
    ``live.MATCH_WINDOW`` so that a draft approved after its page appeared is still found.
    """

    class Status(models.TextChoices):
        UNMATCHED = "unmatched", _("No signed draft")
        MATCHED = "matched", _("Matched a signed draft")
        ERROR = "error", _("Could not be read")

    url = models.URLField(max_length=1000)
    url_key = models.CharField(max_length=64)  # sha-256 of the canonical URL (unique per school)
    found_on = models.URLField(max_length=1000, blank=True)
    title = models.CharField(max_length=300, blank=True)
    text = models.TextField(blank=True)
    text_hash = models.CharField(max_length=64, blank=True)  # of the normalised text
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UNMATCHED)
    error = models.CharField(max_length=500, blank=True)
    draft = models.ForeignKey(
        Draft, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    similarity = models.FloatField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)  # as the page or listing says
    first_seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-first_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["school", "url_key"], name="pub_sitepage_unique_url")
        ]

    def __str__(self) -> str:
        return self.url
