"""Forms of the alerts module: they parse and show errors; services validate and write."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from yuqing.accounts.roles import Role
from yuqing.alerts.models import AlertRule, Channel, Level

LEVEL_CHOICES = [(str(v), label) for v, label in Level.choices]


class RuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=AlertRule.Kind.choices)
    level = forms.TypedChoiceField(
        label=_("Level raised"), choices=LEVEL_CHOICES, coerce=int, initial="2"
    )
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    min_risk = forms.TypedChoiceField(
        label=_("Risk at least"),
        choices=LEVEL_CHOICES,
        coerce=int,
        required=False,
        initial="3",
        help_text=_("Risk level rule: the alert takes the event's risk when it is higher."),
    )
    window_minutes = forms.IntegerField(
        label=_("Window (minutes)"), required=False, initial=60, min_value=5, max_value=1440
    )
    baseline_hours = forms.IntegerField(
        label=_("Baseline (hours)"), required=False, initial=24, min_value=1, max_value=336
    )
    method = forms.ChoiceField(
        label=_("Test"),
        required=False,
        choices=[("poisson", _("Poisson tail probability")), ("zscore", _("z-score"))],
        initial="poisson",
    )
    threshold = forms.FloatField(
        label=_("Threshold"),
        required=False,
        initial=0.001,
        help_text=_("Poisson: fire when the probability is at most this. z-score: at least this."),
    )
    min_count = forms.IntegerField(
        label=_("Minimum mentions"), required=False, initial=5, min_value=1
    )
    words = forms.CharField(
        label=_("High-risk words"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line or separated by commas."),
    )
    authoritative = forms.BooleanField(
        label=_("Every authoritative outlet"), required=False, initial=True
    )
    source_ids = forms.MultipleChoiceField(
        label=_("Sources"), required=False, widget=forms.CheckboxSelectMultiple
    )
    ratio = forms.FloatField(
        label=_("Negative share at least"),
        required=False,
        initial=0.5,
        min_value=0.01,
        max_value=1,
        help_text=_("0.5 means half of the day's mentions."),
    )

    KIND_FIELDS = {
        "risk_level": ("min_risk",),
        "burst": ("window_minutes", "baseline_hours", "method", "threshold", "min_count"),
        "high_risk_words": ("words",),
        "watched_source": ("authoritative", "source_ids"),
        "negative_ratio": ("ratio", "min_count"),
    }

    def __init__(self, *args: Any, sources: list[tuple[int, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["source_ids"].choices = [(str(pk), name) for pk, name in sources]  # type: ignore[attr-defined]
        for name, kinds in self.field_kinds().items():
            self.fields[name].kinds = kinds  # type: ignore[attr-defined]

    @classmethod
    def initial_for(cls, rule: AlertRule) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": rule.name,
            "kind": rule.kind,
            "level": str(rule.level),
            "enabled": rule.enabled,
        }
        for key, value in (rule.params or {}).items():
            if key == "words":
                data[key] = "\n".join(value)
            elif key == "source_ids":
                data[key] = [str(v) for v in value]
            else:
                data[key] = value
        return data

    def params(self) -> dict[str, Any]:
        kind = self.cleaned_data["kind"]
        out: dict[str, Any] = {}
        for name in self.KIND_FIELDS.get(kind, ()):
            value = self.cleaned_data.get(name)
            if name == "source_ids":
                value = [int(v) for v in value or []]
            if value is not None and value != "":
                out[name] = value
        if kind == "watched_source":
            out["authoritative"] = bool(self.cleaned_data.get("authoritative"))
        return out

    def field_kinds(self) -> dict[str, str]:
        owners: dict[str, list[str]] = {}
        for kind, names in self.KIND_FIELDS.items():
            for name in names:
                owners.setdefault(name, []).append(kind)
        return {name: " ".join(kinds) for name, kinds in owners.items()}


# Which configuration keys each channel kind reads (see yuqing/alerts/transports/).
CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    "webhook": ("url", "secret"),
    "dingtalk": ("webhook", "secret", "at_mobiles", "at_all"),
    "wecom": ("webhook",),
    "feishu": ("webhook", "secret"),
    "email": ("to", "host", "port", "security", "username", "password", "from_addr"),
}
SECRET_FIELDS = frozenset({"secret", "password"})
LIST_FIELDS = frozenset({"to", "at_mobiles"})


class ChannelForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, kinds in self.field_kinds().items():
            self.fields[name].kinds = kinds  # type: ignore[attr-defined]

    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=Channel.Kind.choices)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    levels = forms.MultipleChoiceField(
        label=_("Levels sent to this channel"),
        choices=LEVEL_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Leave all unticked for a channel used only by people's subscriptions."),
    )
    url = forms.CharField(label=_("Receiving URL"), required=False, max_length=1000)
    webhook = forms.CharField(
        label=_("Robot webhook URL"),
        required=False,
        max_length=1000,
        help_text=_("Copy it from the group robot's settings in the app."),
    )
    secret = forms.CharField(
        label=_("Signing secret"),
        required=False,
        max_length=300,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored encrypted. Leave empty to keep the current one."),
    )
    at_mobiles = forms.CharField(label=_("Mention these mobiles"), required=False, max_length=500)
    at_all = forms.BooleanField(label=_("Mention everyone"), required=False)
    to = forms.CharField(
        label=_("Recipients"),
        required=False,
        max_length=1000,
        help_text=_("E-mail addresses separated by commas."),
    )
    host = forms.CharField(label=_("SMTP server"), required=False, max_length=200)
    port = forms.IntegerField(label=_("Port"), required=False, min_value=1, max_value=65535)
    security = forms.ChoiceField(
        label=_("Security"),
        required=False,
        choices=[("starttls", "STARTTLS"), ("ssl", "SSL/TLS"), ("none", _("None"))],
    )
    username = forms.CharField(label=_("User name"), required=False, max_length=200)
    password = forms.CharField(
        label=_("Password"),
        required=False,
        max_length=300,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored encrypted. Leave empty to keep the current one."),
    )
    from_addr = forms.EmailField(label=_("Sender address"), required=False)

    def config(self, previous: dict[str, Any] | None = None) -> dict[str, Any]:
        kind = self.cleaned_data["kind"]
        previous = previous or {}
        out: dict[str, Any] = {}
        for name in CHANNEL_FIELDS.get(kind, ()):
            value = self.cleaned_data.get(name)
            if name in SECRET_FIELDS and not value and previous.get(name):
                value = previous[name]
            if name in LIST_FIELDS and isinstance(value, str):
                value = [v.strip() for v in value.replace("，", ",").split(",") if v.strip()]
            if value not in (None, "", []):
                out[name] = value
        return out

    @staticmethod
    def initial_for(channel: Channel) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": channel.name,
            "kind": channel.kind,
            "enabled": channel.enabled,
            "levels": [str(x) for x in channel.levels or []],
        }
        for key, value in channel.config.items():
            if key in SECRET_FIELDS:
                continue
            data[key] = (
                ", ".join(value) if key in LIST_FIELDS and isinstance(value, list) else value
            )
        return data

    def field_kinds(self) -> dict[str, str]:
        owners: dict[str, list[str]] = {}
        for kind, names in CHANNEL_FIELDS.items():
            for name in names:
                owners.setdefault(name, []).append(kind)
        return {name: " ".join(kinds) for name, kinds in owners.items()}

    def add_service_errors(self, exc: ValidationError) -> None:
        for field, messages in exc.message_dict.items():
            name = field.removeprefix("config_")
            self.add_error(name if name in self.fields else None, messages)


class SubscriptionForm(forms.Form):
    user = forms.TypedChoiceField(label=_("Person"), coerce=int)
    channel = forms.TypedChoiceField(
        label=_("Through"), coerce=int, required=False, empty_value=None
    )
    levels = forms.MultipleChoiceField(
        label=_("Levels"),
        choices=LEVEL_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        initial=["3", "4"],
    )

    def __init__(
        self,
        *args: Any,
        users: list[tuple[int, str]] = (),  # type: ignore[assignment]
        channels: list[tuple[int, str]] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [(pk, name) for pk, name in users]  # type: ignore[attr-defined]
        self.fields["channel"].choices = [("", _("In the app only")), *channels]  # type: ignore[attr-defined]


class PrefsForm(forms.Form):
    quiet_start = forms.TimeField(
        label=_("Quiet from"), widget=forms.TimeInput(attrs={"type": "time"})
    )
    quiet_end = forms.TimeField(
        label=_("Quiet until"), widget=forms.TimeInput(attrs={"type": "time"})
    )
    weekends_quiet = forms.BooleanField(label=_("Weekends are quiet"), required=False)
    digest_time = forms.TimeField(
        label=_("Morning digest at"),
        widget=forms.TimeInput(attrs={"type": "time"}),
        initial=dt.time(7, 30),
    )


class PolicyForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for value, label in Level.choices:
            self.fields[f"ack_{value}"] = forms.IntegerField(
                label=_("%(level)s: acknowledge within (minutes)") % {"level": label},
                required=False,
                min_value=1,
                max_value=10080,
                help_text=_("Empty: never escalated."),
            )
            self.fields[f"roles_{value}"] = forms.CharField(
                label=_("%(level)s: escalation ladder") % {"level": label},
                required=False,
                help_text=_("Roles in order, separated by commas: %(roles)s")
                % {"roles": ", ".join(r.value for r in Role)},
            )

    def values(self) -> tuple[dict[str, int | None], dict[str, list[str]]]:
        ack: dict[str, int | None] = {}
        roles: dict[str, list[str]] = {}
        for value, _label in Level.choices:
            ack[str(value)] = self.cleaned_data.get(f"ack_{value}")
            raw = self.cleaned_data.get(f"roles_{value}") or ""
            listed = [r.strip() for r in raw.replace("→", ",").split(",") if r.strip()]
            if listed:
                roles[str(value)] = listed
        return ack, roles


class BacktestForm(RuleForm):
    pass


class MessageTemplateForm(forms.Form):
    """The parts of one channel kind's message at one level, as Django templates."""

    subject = forms.CharField(
        label=_("Subject"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "mono"}),
        help_text=_("E-mail subject, DingTalk notification title, Feishu card header."),
    )
    text = forms.CharField(
        label=_("Text"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "class": "mono"}),
        help_text=_("Plain text for e-mail and webhooks; markdown for the robots."),
    )
    html = forms.CharField(
        label=_("HTML"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "class": "mono"}),
        help_text=_("The e-mail's HTML part; every value is escaped."),
    )

    def __init__(self, *args: Any, parts: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in list(self.fields):
            if name not in parts:
                del self.fields[name]

    def add_service_errors(self, exc: ValidationError) -> None:
        for name, problems in exc.message_dict.items():
            self.add_error(name if name in self.fields else None, problems)
