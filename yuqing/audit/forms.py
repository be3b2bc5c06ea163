"""The filter of the audit log viewer and export."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditFilterForm(forms.Form):
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    person = forms.CharField(label=_("Who"), required=False, max_length=150)
    action = forms.CharField(
        label=_("Action"),
        required=False,
        max_length=80,
        help_text=_("Beginning of the action name, e.g. accounts.permission"),
    )
    q = forms.CharField(label=_("Object"), required=False, max_length=200)
    school = forms.TypedChoiceField(label=_("School"), required=False, coerce=int, empty_value=None)

    def __init__(
        self, *args: Any, schools: list[tuple[int, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if schools and len(schools) > 1:
            self.fields["school"].choices = [("", _("All schools")), *schools]  # type: ignore[attr-defined]
        else:
            del self.fields["school"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end date is before the start date."))
        return data

    def apply(self, entries: QuerySet) -> QuerySet:
        """Narrow ``entries`` by the valid filters (call after is_valid())."""
        data = self.cleaned_data
        tz = timezone.get_current_timezone()
        if data.get("since"):
            entries = entries.filter(at__gte=dt.datetime.combine(data["since"], dt.time.min, tz))
        if data.get("until"):
            end = dt.datetime.combine(data["until"] + dt.timedelta(days=1), dt.time.min, tz)
            entries = entries.filter(at__lt=end)
        if data.get("person"):
            entries = entries.filter(actor_label__icontains=data["person"])
        if data.get("action"):
            entries = entries.filter(action__startswith=data["action"].strip())
        if data.get("q"):
            q = data["q"].strip()
            entries = entries.filter(Q(object_repr__icontains=q) | Q(object_id=q))
        if data.get("school"):
            entries = entries.filter(school_id=data["school"])
        return entries

    def active_filters(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.cleaned_data.items() if v not in (None, "")}
