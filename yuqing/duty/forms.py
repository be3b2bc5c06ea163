"""Forms of the duty module: they parse and show errors; services validate and write."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from yuqing.accounts.models import User
from yuqing.duty.models import (
    ActivityKind,
    Attachment,
    Group,
    MemberRole,
    Recurrence,
    ResponsibilityKind,
    SpecialPeriod,
    StudyKind,
    Training,
)

DATE = forms.DateInput(attrs={"type": "date"})
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class PeopleField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj)


def _people() -> Any:
    # The scoped user manager: only people of the requester's school are offered.
    return User.objects.filter(is_active=True).order_by("username")


class PeopleMixin:
    people_fields: tuple[str, ...] = ()
    person_fields: tuple[str, ...] = ()

    def _limit(self) -> None:
        fields: Any = self.fields  # type: ignore[attr-defined]
        for name in self.people_fields + self.person_fields:
            fields[name].queryset = _people()


class GroupForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=Group.Kind.choices)
    established_on = forms.DateField(label=_("Established on"), widget=DATE, initial=dt.date.today)
    duties = forms.CharField(
        label=_("Duties"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )


class MemberForm(PeopleMixin, forms.Form):
    person_fields = ("user",)
    user = forms.ModelChoiceField(label=_("Person"), queryset=User.objects.none())
    role = forms.ChoiceField(label=_("Role"), choices=MemberRole.choices)
    since = forms.DateField(label=_("Since"), widget=DATE, initial=dt.date.today)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limit()


class ResponsibilityForm(PeopleMixin, forms.Form):
    people_fields = ("owners",)
    title = forms.CharField(label=_("Item"), max_length=300)
    kind = forms.ChoiceField(label=_("Type"), choices=ResponsibilityKind.choices)
    owners = PeopleField(
        label=_("Owners"), queryset=User.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    due_on = forms.DateField(label=_("Due"), required=False, widget=DATE)
    recurrence = forms.ChoiceField(label=_("Repeats"), choices=Recurrence.choices, required=False)
    remind_days = forms.IntegerField(
        label=_("Remind days before"), min_value=0, max_value=60, initial=3
    )
    description = forms.CharField(
        label=_("Details"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limit()


class CompleteForm(forms.Form):
    evidence_note = forms.CharField(
        label=_("What was done (evidence)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class AttendeesMixin(PeopleMixin):
    people_fields = ("attendees", "absent")


class StudySessionForm(AttendeesMixin, forms.Form):
    person_fields = ("organiser",)
    held_on = forms.DateField(label=_("Date"), widget=DATE)
    kind = forms.ChoiceField(label=_("Type"), choices=StudyKind.choices)
    topic = forms.CharField(label=_("Topic"), max_length=300)
    organiser = forms.ModelChoiceField(
        label=_("Organiser"), queryset=User.objects.none(), required=False
    )
    hours = forms.DecimalField(
        label=_("Hours"), min_value=0, max_value=99, decimal_places=1, initial=1
    )
    location = forms.CharField(label=_("Place"), max_length=200, required=False)
    attendees = PeopleField(
        label=_("Present"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    absent = PeopleField(
        label=_("Absent (invited)"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    minutes = forms.CharField(
        label=_("Minutes"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limit()


class TrainingForm(AttendeesMixin, forms.Form):
    held_on = forms.DateField(label=_("Date"), widget=DATE)
    topic = forms.CharField(label=_("Topic"), max_length=300)
    trainer = forms.CharField(label=_("Trainer"), max_length=100)
    audience = forms.ChoiceField(label=_("For"), choices=Training.Audience.choices)
    hours = forms.DecimalField(
        label=_("Hours"), min_value=0, max_value=99, decimal_places=1, initial=2
    )
    attendees = PeopleField(
        label=_("Present"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    absent = PeopleField(
        label=_("Absent (invited)"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limit()


class ActivityForm(PeopleMixin, forms.Form):
    person_fields = ("organiser",)
    held_on = forms.DateField(label=_("Date"), widget=DATE)
    kind = forms.ChoiceField(label=_("Type"), choices=ActivityKind.choices)
    topic = forms.CharField(label=_("Topic"), max_length=300)
    classes = forms.CharField(label=_("Grades / classes"), max_length=200, required=False)
    organiser = forms.ModelChoiceField(
        label=_("Organiser"), queryset=User.objects.none(), required=False
    )
    participants = forms.IntegerField(label=_("Participants"), min_value=0, initial=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limit()


class PeriodForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    reason = forms.ChoiceField(label=_("Reason"), choices=SpecialPeriod.Reason.choices)
    starts_on = forms.DateField(label=_("First day"), widget=DATE)
    ends_on = forms.DateField(label=_("Last day"), widget=DATE)
    report_at = forms.TimeField(
        label=_("Daily report at"),
        widget=TIME,
        initial=dt.time(8, 0),
        help_text=_("Each day's report covers the previous day and is made at this time."),
    )


class AttachmentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Attachment.Kind.choices)
    file = forms.FileField(label=_("File"))
