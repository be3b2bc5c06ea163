"""Forms of the reports module."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from yuqing.reports.models import Kind

DATE = forms.DateInput(attrs={"type": "date"})


class GenerateForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Kind.choices)
    start = forms.DateField(label=_("From"), widget=DATE)
    end = forms.DateField(label=_("To"), widget=DATE)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if isinstance(start, dt.date) and isinstance(end, dt.date) and end < start:
            self.add_error("end", _("The end cannot be before the start."))
        return data


class NextStepsForm(forms.Form):
    next_steps = forms.CharField(
        label=_("Next steps"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )


class TemplateForm(forms.Form):
    kind = forms.ChoiceField(label=_("For"), choices=Kind.choices)
    name = forms.CharField(label=_("Name"), max_length=100)
    file = forms.FileField(
        label=_("Word template (.docx)"),
        help_text=_(
            "docxtpl tags, e.g. {{ n.mentions }}, {% for e in lists.new %}{{ e.title }}{% endfor %}."
        ),
    )
