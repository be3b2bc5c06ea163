"""Forms of the monitoring desk: the stream's filters and the bulk actions."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from yuqing.monitor.models import Event, Mention, Risk, Sentiment, SourceType, Topic

ANY = [("", pgettext_lazy("filter", "Any"))]

PERIODS = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


class DeskFilterForm(forms.Form):
    """What the stream shows. Every field is optional; bad values are simply ignored."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": '食堂 OR 饭菜 -招聘 "家长群"'}
        ),
    )
    period = forms.ChoiceField(
        label=_("Time"),
        required=False,
        choices=[
            ("", _("All time")),
            ("24h", _("Last 24 hours")),
            ("7d", _("Last 7 days")),
            ("30d", _("Last 30 days")),
            ("range", _("Dates…")),
        ],
    )
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    source_type = forms.ChoiceField(
        label=_("Source type"), required=False, choices=ANY + list(SourceType.choices)
    )
    sentiment = forms.ChoiceField(
        label=_("Sentiment"), required=False, choices=ANY + list(Sentiment.choices)
    )
    topic = forms.ChoiceField(label=_("Topic"), required=False, choices=ANY + list(Topic.choices))
    risk = forms.TypedChoiceField(
        label=_("Risk at least"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=ANY + [(v, label) for v, label in Risk.choices if v > 0],
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[*ANY, ("open", _("New or read")), *Mention.Status.choices],
    )
    relevant = forms.ChoiceField(
        label=_("Relevance"),
        required=False,
        choices=[("", _("Relevant")), ("no", _("Not relevant")), ("all", _("Both"))],
    )
    event = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            data["start"], data["end"] = data["end"], data["start"]
        return data

    def filters(self) -> dict[str, Any]:
        """The valid, non-empty filters (invalid ones are dropped rather than failing)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = getattr(self, "cleaned_data", {}) or {}
        return {k: v for k, v in data.items() if v not in (None, "")}

    @property
    def is_filtered(self) -> bool:
        return any(k not in {"relevant"} for k in self.filters())


def time_bounds(filters: dict[str, Any], *, now: datetime | None = None) -> tuple[Any, Any]:
    """(since, until) aware datetimes for the period filter, either possibly None."""
    now = now or timezone.now()
    period = filters.get("period")
    if period in PERIODS:
        return now - PERIODS[period], None
    tz = timezone.get_current_timezone()
    since = until = None
    if period == "range" or filters.get("start") or filters.get("end"):
        if filters.get("start"):
            since = datetime.combine(filters["start"], time.min, tzinfo=tz)
        if filters.get("end"):
            until = datetime.combine(filters["end"] + timedelta(days=1), time.min, tzinfo=tz)
    return since, until


class BulkForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("read", _("Mark read")),
            ("ignore", _("Ignore")),
            ("add_to_event", _("Add to event")),
        ]
    )
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=())
    event = forms.IntegerField(required=False, min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        self.fields["ids"].choices = [(x, x) for x in raw if str(x).isdigit()][:500]  # type: ignore[attr-defined]

    def clean_event(self) -> Event | None:
        # Looked up through the scoped manager: another school's event id finds nothing.
        pk = self.cleaned_data.get("event")
        if pk is None:
            return None
        event = Event.objects.filter(pk=pk).first()
        if event is None:
            raise forms.ValidationError(_("No such event."))
        return event
