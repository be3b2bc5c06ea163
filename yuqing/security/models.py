"""Security of the school's own assets: the register, check runs, findings and checklists.

Definition rows (assets, checklists) are edited by people; runtime rows (check runs, findings,
checklist rounds) are written by services. A finding is one row per fingerprint and school:
the same problem seen by the next run updates ``last_seen`` instead of making a second row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yuqing.audit.registry import audited
from yuqing.core.tenancy import SchoolOwned


class Severity(models.IntegerChoices):
    INFO = 0, _("Info")
    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")
    CRITICAL = 4, _("Critical")


# The shared risk badge colours (app.css .risk-N) by severity.
SEVERITY_CSS = {0: "risk-0", 1: "risk-1", 2: "risk-2", 3: "risk-3", 4: "risk-4"}
# Days a rectification notice gives to fix a finding of each severity.
FIX_DAYS = {0: 30, 1: 30, 2: 7, 3: 3, 4: 1}


class Schedule(models.TextChoices):
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")
    OFF = "off", _("On demand only")


SCHEDULE_INTERVAL: dict[str, dt.timedelta] = {
    Schedule.DAILY: dt.timedelta(days=1),
    Schedule.WEEKLY: dt.timedelta(days=7),
}


@audited(exclude=("next_check_at", "last_checked_at", "status", "updated_at"))
class Asset(SchoolOwned):
    """One entry of the register (台账): a site, domain, server, device, account or group chat."""

    class Kind(models.TextChoices):
        WEBSITE = "website", _("Website")
        DOMAIN = "domain", _("Domain")
        SERVER = "server", _("Server")
        DEVICE = "device", _("Network device")
        OFFICIAL_ACCOUNT = "official_account", _("Official account")
        GROUP_CHAT = "group_chat", _("Work group chat")

    class Status(models.TextChoices):
        UNCHECKED = "unchecked", _("Not checked yet")
        OK = "ok", _("No open problems")
        WARNING = "warning", _("Needs attention")
        CRITICAL = "critical", _("Serious problem")
        DOWN = "down", _("Unreachable")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    # Websites: the address checked. Domains, servers and devices: a host name or IP address.
    url = models.URLField(_("address (URL)"), max_length=500, blank=True)
    host = models.CharField(_("host name or IP address"), max_length=255, blank=True)
    platform = models.CharField(
        _("platform"), max_length=50, blank=True, help_text=_("WeChat, Weibo, Douyin, DingTalk…")
    )
    account_id = models.CharField(_("account or group ID"), max_length=200, blank=True)
    operating_system = models.CharField(_("operating system"), max_length=100, blank=True)
    owner_unit = models.CharField(_("owning department"), max_length=100, blank=True)
    purpose = models.CharField(_("purpose"), max_length=300, blank=True)
    administrators = models.CharField(_("administrators"), max_length=300, blank=True)
    responsible = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("responsible person"),
    )
    expected_ports = models.JSONField(_("expected open ports"), default=list, blank=True)
    # Ports the port check tries; empty means the built-in list (plus the expected ports).
    scan_ports = models.JSONField(_("ports to check"), default=list, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    authorised_for_scanning = models.BooleanField(_("authorised for checks"), default=False)
    authorised_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    authorised_at = models.DateTimeField(null=True, blank=True)
    # Intranet assets resolve to private addresses: reaching them needs this explicit flag.
    allow_private = models.BooleanField(_("on the intranet (private addresses)"), default=False)
    schedule = models.CharField(
        _("schedule"), max_length=10, choices=Schedule.choices, default=Schedule.DAILY
    )
    checks = models.JSONField(_("checks"), default=list, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.UNCHECKED
    )
    # Defacement baseline of the home page: visible text and the tag structure.
    baseline_text = models.TextField(blank=True)
    baseline_structure = models.TextField(blank=True)
    baseline_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    SCANNABLE = frozenset({Kind.WEBSITE, Kind.DOMAIN, Kind.SERVER, Kind.DEVICE})

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["school", "kind", "name"], name="asset_unique_name")
        ]
        verbose_name = _("asset")
        verbose_name_plural = _("assets")

    def __str__(self) -> str:
        return self.name

    @property
    def scannable(self) -> bool:
        return self.kind in self.SCANNABLE

    @property
    def target_host(self) -> str:
        from urllib.parse import urlsplit

        if self.url:
            return (urlsplit(self.url).hostname or "").lower()
        return self.host.strip().lower().strip("[]")

    @property
    def base_url(self) -> str:
        if self.url:
            return self.url
        if self.kind == self.Kind.DOMAIN and self.host:
            return f"https://{self.host}/"
        return ""

    def enabled_checks(self) -> list[str]:
        from yuqing.security.checks import checks_for

        return [c.key for c in checks_for(self) if not self.checks or c.key in self.checks]


class CheckRun(SchoolOwned):
    """One check of one asset (or of the platform's accounts), whatever its outcome."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        PASSED = "passed", _("Passed")
        PROBLEMS = "problems", _("Problems found")
        ERROR = "error", _("Could not complete")
        REFUSED = "refused", _("Refused: not authorised")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        ON_DEMAND = "on_demand", _("On demand")
        VERIFY = "verify", _("Verification of a fix")

    asset = models.ForeignKey(
        Asset, on_delete=models.CASCADE, null=True, blank=True, related_name="runs"
    )
    check_key = models.CharField(_("check"), max_length=30)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.SCHEDULE)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.RUNNING
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Availability: the response time; other checks: how long the check took.
    elapsed_ms = models.PositiveIntegerField(null=True, blank=True)
    summary = models.CharField(_("summary"), max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True)
    # Every host:port the guard let this run reach, for the record.
    contacted = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["asset", "check_key", "-started_at"], name="run_history")]
        verbose_name = _("check run")
        verbose_name_plural = _("check runs")

    def __str__(self) -> str:
        return f"{self.check_key} · {self.asset_id} · {self.status}"

    @property
    def check_label(self) -> Any:
        from yuqing.security.checks import check_label

        return check_label(self.check_key)


class Finding(SchoolOwned):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ASSIGNED = "assigned", _("Assigned")
        FIXED = "fixed", _("Fixed, awaiting verification")
        VERIFIED = "verified", _("Verified")
        CLOSED = "closed", _("Closed")
        ACCEPTED_RISK = "accepted_risk", _("Risk accepted")

    class Source(models.TextChoices):
        CHECK = "check", _("Automated check")
        IMPORT = "import", _("Imported scan report")
        ACCOUNTS = "accounts", _("Platform accounts")

    ACTIVE = (Status.OPEN, Status.ASSIGNED, Status.FIXED)

    asset = models.ForeignKey(
        Asset, on_delete=models.CASCADE, null=True, blank=True, related_name="findings"
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    check_key = models.CharField(_("check"), max_length=30)
    fingerprint = models.CharField(max_length=200)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    title = models.CharField(_("title"), max_length=300)
    detail = models.TextField(_("details"), blank=True)
    recommendation = models.TextField(_("how to fix"), blank=True)
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN
    )
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now, db_index=True)
    seen_count = models.PositiveIntegerField(_("times seen"), default=1)
    # Set when a later run of the same check no longer saw it.
    gone_since = models.DateTimeField(_("not seen since"), null=True, blank=True)
    last_run = models.ForeignKey(
        CheckRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assignee = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assigned to"),
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    fixed_at = models.DateTimeField(null=True, blank=True)
    fixed_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    fix_note = models.TextField(_("what was done"), blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    verified_run = models.ForeignKey(
        CheckRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    risk_reason = models.TextField(_("why the risk is accepted"), blank=True)
    risk_expires_on = models.DateField(_("accepted until"), null=True, blank=True)
    risk_accepted_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reopened_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-severity", "-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["school", "fingerprint"], name="finding_fold"),
        ]
        indexes = [models.Index(fields=["school", "status", "-severity"], name="finding_open")]
        verbose_name = _("finding")
        verbose_name_plural = _("findings")

    def __str__(self) -> str:
        return self.title

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def check_label(self) -> Any:
        from yuqing.security.checks import check_label

        return check_label(self.check_key)

    @property
    def css(self) -> str:
        return SEVERITY_CSS[self.severity]

    def age_days(self, now: dt.datetime | None = None) -> int:
        return max(0, ((now or timezone.now()) - self.first_seen).days)


@audited()
class ScanImport(SchoolOwned):
    """An external scanner report (nmap, OpenVAS/Greenbone) turned into findings."""

    class Kind(models.TextChoices):
        NMAP = "nmap", _("nmap XML")
        OPENVAS = "openvas", _("OpenVAS / Greenbone XML")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    filename = models.CharField(_("file"), max_length=255)
    file = models.FileField(upload_to="security/imports/", max_length=300)
    sha256 = models.CharField("SHA-256", max_length=64, db_index=True)
    uploaded_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)
    stats = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = _("scan import")
        verbose_name_plural = _("scan imports")

    def __str__(self) -> str:
        return self.filename


@audited()
class ManualChecklist(SchoolOwned):
    """What cannot be automated, done every month and signed off with evidence."""

    name = models.CharField(_("name"), max_length=200)
    asset = models.ForeignKey(
        Asset,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="checklists",
        verbose_name=_("asset"),
    )
    responsible = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("responsible person"),
    )
    due_day = models.PositiveSmallIntegerField(
        _("due on day of month"), default=25, help_text=_("1 to 28.")
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["school", "name"], name="checklist_unique_name")
        ]
        verbose_name = _("manual checklist")
        verbose_name_plural = _("manual checklists")

    def __str__(self) -> str:
        return self.name


class ChecklistItem(SchoolOwned):
    checklist = models.ForeignKey(ManualChecklist, on_delete=models.CASCADE, related_name="items")
    text = models.CharField(_("item"), max_length=300)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class ChecklistRound(SchoolOwned):
    """One month of a checklist: open until the responsible person signs it off."""

    checklist = models.ForeignKey(ManualChecklist, on_delete=models.CASCADE, related_name="rounds")
    period = models.DateField(_("month"))  # the first day of the month
    due_on = models.DateField(_("due"))
    signed_at = models.DateTimeField(_("signed off"), null=True, blank=True)
    signed_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # item id (str) -> {"done": bool, "note": str}, as signed.
    results = models.JSONField(default=dict, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["-period", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["checklist", "period"], name="round_one_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.checklist} {self.period:%Y-%m}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    def overdue(self, today: dt.date | None = None) -> bool:
        return not self.is_signed and (today or timezone.localdate()) > self.due_on


class Evidence(SchoolOwned):
    """A file attached to a sign-off: stored under MEDIA_ROOT by its SHA-256."""

    round = models.ForeignKey(ChecklistRound, on_delete=models.CASCADE, related_name="evidence")
    name = models.CharField(_("file name"), max_length=255)
    file = models.FileField(upload_to="security/evidence/", max_length=300)
    sha256 = models.CharField("SHA-256", max_length=64)
    size = models.PositiveIntegerField()
    content_type = models.CharField(max_length=100)
    uploaded_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.name


def severity_label(value: Any) -> str:
    return str(Severity(int(value)).label)
