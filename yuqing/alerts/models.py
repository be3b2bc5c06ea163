"""Alerts: rules that fire on mentions and events, the alerts they raise, and their delivery.

Definition rows (rules, channels, subscriptions, the school's policy) are edited by people;
runtime rows (alerts, deliveries, notifications, evaluation requests) are written by services
and claimed by workers with conditional UPDATEs, so a worker killed at any line loses nothing
and two workers never send the same message twice.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yuqing.audit.registry import audited
from yuqing.core.tenancy import SchoolOwned


class Level(models.IntegerChoices):
    BLUE = 1, _("Blue")
    YELLOW = 2, _("Yellow")
    ORANGE = 3, _("Orange")
    RED = 4, _("Red")


@dataclass(frozen=True)
class LevelInfo:
    css: str  # the shared badge class (app.css .risk-N)
    colour: str  # for channels that colour their cards (hex)
    action: Any  # the default action, shown on the alert and in every message


LEVELS: dict[int, LevelInfo] = {
    1: LevelInfo("risk-1", "#1d63c9", _("Note it; it is summarised in the next morning digest.")),
    2: LevelInfo(
        "risk-2", "#e0b000", _("Verify the facts within the working day and watch the event.")
    ),
    3: LevelInfo(
        "risk-3",
        "#ea7a12",
        _("Verify at once, report to the office head and prepare a response."),
    ),
    4: LevelInfo(
        "risk-4",
        "#d22a2a",
        _("Report to the school leadership at once and start the emergency response."),
    ),
}

# Out of working hours only these levels reach a person at once; the rest wait for the digest.
URGENT_LEVELS = frozenset({Level.ORANGE, Level.RED})

DEFAULT_ACK_MINUTES: dict[str, int | None] = {"1": None, "2": 240, "3": 60, "4": 15}
DEFAULT_ESCALATION_ROLES: list[str] = ["monitor", "handler", "reviewer", "admin"]


# --------------------------------------------------------------------------- definitions


@audited()
class AlertPolicy(SchoolOwned):
    """A school's acknowledgement limits and escalation ladder (one row per school).

    Alerts escalate along the school's handling routes (the cases module's); only a school
    without routes uses ``escalation_roles``, a level → ordered list of roles: position 0 is the
    first line (told at once, besides the subscribers), position *k* is told at escalation step
    *k*. ``services.escalation_targets`` decides which applies.
    """

    ack_minutes = models.JSONField(_("acknowledgement limits (minutes)"), default=dict)
    escalation_roles = models.JSONField(_("escalation roles"), default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school"], name="alertpolicy_one_per_school")
        ]

    def __str__(self) -> str:
        return f"alert policy of school {self.school_id}"

    def ack_limit(self, level: int) -> dt.timedelta | None:
        raw = {**DEFAULT_ACK_MINUTES, **(self.ack_minutes or {})}.get(str(level))
        return dt.timedelta(minutes=int(raw)) if raw else None

    def roles_for(self, level: int) -> list[str]:
        roles = (self.escalation_roles or {}).get(str(level))
        return list(roles) if roles else list(DEFAULT_ESCALATION_ROLES)


@audited()
class AlertRule(SchoolOwned):
    class Kind(models.TextChoices):
        RISK_LEVEL = "risk_level", _("Risk level at least")
        BURST = "burst", _("Burst of volume on an event")
        HIGH_RISK_WORDS = "high_risk_words", _("High-risk words")
        WATCHED_SOURCE = "watched_source", _("Watched sources")
        NEGATIVE_RATIO = "negative_ratio", _("Negative share of the day")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    level = models.PositiveSmallIntegerField(_("level raised"), choices=Level.choices)
    # Kind-specific settings, validated by rules.clean_params():
    #   risk_level: min_risk · burst: window_minutes, baseline_hours, method, threshold,
    #   min_count · high_risk_words: words · watched_source: authoritative, source_ids ·
    #   negative_ratio: ratio, min_count
    params = models.JSONField(_("settings"), default=dict, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-level", "name"]
        constraints = [
            models.UniqueConstraint(fields=["school", "name"], name="alertrule_unique_name")
        ]
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")

    def __str__(self) -> str:
        return self.name


@cache
def _fernet() -> Any:
    from cryptography.fernet import Fernet

    from yuqing.lib.datadir import read_or_create_secret

    secret = read_or_create_secret(settings.DATA_DIR / "channel.key", nbytes=32)
    # Any length of stored secret becomes the 32-byte key Fernet wants.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def encrypt_config(config: dict[str, Any]) -> str:
    return str(_fernet().encrypt(json.dumps(config, ensure_ascii=False).encode()).decode())


def decrypt_config(token: str) -> dict[str, Any]:
    if not token:
        return {}
    data = json.loads(_fernet().decrypt(token.encode()).decode())
    return data if isinstance(data, dict) else {}


@audited(mask=("config_token",))
class Channel(SchoolOwned):
    """Where messages go: an e-mail list, a group robot, a webhook.

    The settings hold secrets (robot tokens, signing keys, SMTP passwords), so they are stored
    encrypted with a key in the data directory; a copied database alone does not reveal them.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", _("E-mail")
        WECOM = "wecom", _("WeCom group robot")
        DINGTALK = "dingtalk", _("DingTalk robot")
        FEISHU = "feishu", _("Feishu bot")
        WEBHOOK = "webhook", _("Webhook")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    config_token = models.TextField(blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    # Levels sent to the channel itself (a group); people reached through a channel have their
    # own levels on their subscription.
    levels = models.JSONField(_("levels"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["school", "name"], name="channel_unique_name")
        ]
        verbose_name = _("channel")
        verbose_name_plural = _("channels")

    def __str__(self) -> str:
        return self.name

    @property
    def config(self) -> dict[str, Any]:
        return decrypt_config(self.config_token)

    def set_config(self, config: dict[str, Any]) -> None:
        self.config_token = encrypt_config(config)


@audited()
class Subscription(SchoolOwned):
    """A person who gets alerts of some levels, in the app and optionally through a channel
    of their own (their e-mail, their DingTalk robot)."""

    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    channel = models.ForeignKey(
        Channel,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="subscriptions",
        verbose_name=_("personal channel"),
    )
    levels = models.JSONField(_("levels"), default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "channel"], name="subscription_unique"),
        ]
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")

    def __str__(self) -> str:
        return f"{self.user} · {self.channel or _('in the app')}"


@audited()
class PersonPrefs(SchoolOwned):
    """When a person may be disturbed: quiet hours (outside working hours) and digest time."""

    user = models.OneToOneField(
        "accounts.User", on_delete=models.CASCADE, related_name="alert_prefs"
    )
    quiet_start = models.TimeField(_("quiet from"), default=dt.time(22, 0))
    quiet_end = models.TimeField(_("quiet until"), default=dt.time(7, 0))
    weekends_quiet = models.BooleanField(_("weekends are quiet"), default=False)
    digest_time = models.TimeField(_("morning digest at"), default=dt.time(7, 30))
    time_zone = models.CharField(_("time zone"), max_length=50, default="Asia/Shanghai")
    last_digest_on = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = _("alert preferences")
        verbose_name_plural = _("alert preferences")

    def __str__(self) -> str:
        return f"{self.user}: {self.quiet_start:%H:%M}–{self.quiet_end:%H:%M}"


# --------------------------------------------------------------------------- runtime


class Alert(SchoolOwned):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        ESCALATED = "escalated", _("Escalated")
        CLOSED = "closed", _("Closed")

    event = models.ForeignKey(
        "monitor.Event",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
        verbose_name=_("event"),
    )
    # Alerts about no single event (the day's negative share) are told apart by this key.
    key = models.CharField(max_length=100, blank=True)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    rule = models.ForeignKey(
        AlertRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    title = models.CharField(_("title"), max_length=300)
    reason = models.TextField(_("why"), blank=True)
    changes = models.TextField(_("what changed"), blank=True)
    mention_ids = models.JSONField(default=list, blank=True)
    # What the event looked like when the alert was raised: the next level's alert compares.
    snapshot = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN
    )
    created_at = models.DateTimeField(_("raised"), default=timezone.now, db_index=True)
    repeat_count = models.PositiveIntegerField(_("repeats"), default=0)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    acknowledged_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The route position (or ladder rung) told last, and the sentence that says who and how.
    escalation_step = models.PositiveSmallIntegerField(_("escalation step"), default=0)
    escalation_note = models.CharField(_("escalation"), max_length=500, blank=True)
    escalate_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "level"],
                name="alert_one_per_event_level",
                condition=models.Q(event__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["school", "key", "level"],
                name="alert_one_per_key_level",
                condition=~models.Q(key=""),
            ),
        ]
        indexes = [models.Index(fields=["school", "status", "-created_at"], name="alert_status")]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")

    def __str__(self) -> str:
        return f"[{self.get_level_display()}] {self.title}"

    @property
    def info(self) -> LevelInfo:
        return LEVELS[self.level]

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.ESCALATED)


class Delivery(SchoolOwned):
    """One message to one target: a channel (group), a person through a channel, or a digest.

    Claimed by a conditional UPDATE (pending/failed and due → sending with a lease). Per
    channel, only the oldest unfinished delivery is ever claimable, so a channel that was down
    receives its backlog in order.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed, will retry")
        DEAD = "dead", _("Failed, given up")
        HELD = "held", _("Held for the digest")
        DIGESTED = "digested", _("Sent in a digest")

    class Purpose(models.TextChoices):
        ALERT = "alert", _("Alert")
        ESCALATION = "escalation", _("Escalation")
        DIGEST = "digest", _("Digest")
        TEST = "test", _("Test message")

    alert = models.ForeignKey(
        Alert, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.ALERT)
    # The message as built when the delivery was made (Message fields), so a retry an hour
    # later sends what was true then, and the log shows exactly what went out.
    payload = models.JSONField(default=dict)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(_("last status"), null=True, blank=True)
    last_response = models.CharField(_("last response"), max_length=1000, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    digest = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="items"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "channel", "id"], name="delivery_queue"),
            models.Index(fields=["channel", "-id"], name="delivery_channel_log"),
        ]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")

    def __str__(self) -> str:
        return f"delivery {self.pk} → {self.channel_id} ({self.status})"


class Notification(SchoolOwned):
    """An in-app notification: the badge in the top bar counts the unread ones."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    alert = models.ForeignKey(
        Alert, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    level = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.BLUE)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return self.title


class EvaluationRequest(SchoolOwned):
    """What one ingest batch brought, waiting to be evaluated against the rules.

    Written in the ingest transaction (so a crash cannot lose it) and claimed like a delivery:
    the task enqueued on commit usually takes it within a second, and the delivery loop picks
    up any the queue could not (all worker threads busy, a worker killed).
    """

    event_ids = models.JSONField(default=list)
    mention_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True, db_index=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]


# Every channel kind, and the in-app notification (the bell), which is no transport.
INAPP = "inapp"
TEMPLATE_KINDS = [*Channel.Kind.choices, (INAPP, _("In the app"))]


@audited(
    actions={
        "created": "alerts.template.saved",
        "changed": "alerts.template.saved",
        "deleted": "alerts.template.reset",
    }
)
class MessageTemplate(SchoolOwned):
    """A school's own wording of the messages one channel kind sends at one level.

    No row: the built-in wording. The parts are Django templates over a fixed set of
    variables (``templating.VARIABLES``), checked when saved; see ``templating.py``.
    """

    channel_kind = models.CharField(_("channel kind"), max_length=20, choices=TEMPLATE_KINDS)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    subject = models.TextField(_("subject"), blank=True)
    text = models.TextField(_("text"), blank=True)
    html = models.TextField(_("HTML"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school", "channel_kind", "level"],
                name="messagetemplate_one_per_kind_level",
            )
        ]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")

    def __str__(self) -> str:
        return f"{self.get_channel_kind_display()} · {self.get_level_display()}"
