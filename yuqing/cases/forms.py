"""Forms of the cases module: they parse and show errors; services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yuqing.accounts.models import OrgUnit, User
from yuqing.accounts.roles import CAPABILITIES, Role
from yuqing.alerts.models import Level
from yuqing.cases.models import DEADLINE_KEYS, MANUAL_ACTIONS, CaseAction, Petition, Route

LEVEL_CHOICES = [(str(v), label) for v, label in Level.choices]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> Any:
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(d, initial) for d in items]


def _units() -> Any:
    return OrgUnit.objects.order_by("sort_order", "name")


def _handlers() -> Any:
    return User.objects.filter(
        is_active=True, role_assignments__role__in=list(CAPABILITIES["cases.handle"])
    ).distinct()


class CaseOpenForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=300)
    level = forms.TypedChoiceField(label=_("Level"), choices=LEVEL_CHOICES, coerce=int, initial="2")
    summary = forms.CharField(label=_("Summary"), widget=forms.Textarea, required=False)
    org_unit = forms.ModelChoiceField(
        label=_("Concerns unit"),
        queryset=OrgUnit.unscoped.none(),
        required=False,
        help_text=_("The class, grade office or department concerned: the route starts there."),
    )
    route = forms.ModelChoiceField(
        label=_("Handling route"),
        queryset=Route.unscoped.none(),
        required=False,
        help_text=_("Left empty: the usual route for the unit."),
    )
    alert = forms.IntegerField(widget=forms.HiddenInput, required=False)
    event = forms.IntegerField(widget=forms.HiddenInput, required=False)
    mentions = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org_unit"].queryset = _units()  # type: ignore[attr-defined]
        self.fields["route"].queryset = Route.objects.filter(is_active=True)  # type: ignore[attr-defined]

    def clean_mentions(self) -> list[int]:
        raw = self.cleaned_data.get("mentions") or ""
        return [int(x) for x in raw.split(",") if x.strip().isdigit()][:200]


class CaseEditForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    title = forms.CharField(label=_("Title"), max_length=300)
    level = forms.TypedChoiceField(label=_("Level"), choices=LEVEL_CHOICES, coerce=int)
    summary = forms.CharField(label=_("Summary"), widget=forms.Textarea, required=False)
    org_unit = forms.ModelChoiceField(
        label=_("Concerns unit"), queryset=OrgUnit.unscoped.none(), required=False
    )
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org_unit"].queryset = _units()  # type: ignore[attr-defined]
        self.fields["owner"].queryset = _handlers()  # type: ignore[attr-defined]


class ResponseForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    response_draft = forms.CharField(
        label=_("Official response (情况说明 / 回应口径)"),
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        help_text=_(
            "Drafted here; it goes out only through publication review, and the published "
            "link comes back onto the case."
        ),
    )


class SubmitResponseForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    channels = forms.MultipleChoiceField(
        label=_("Publish on"),
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The saved draft above goes to publication review as a new draft."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from yuqing.publishing.models import Channel

        super().__init__(*args, **kwargs)
        self.fields["channels"].choices = Channel.choices  # type: ignore[attr-defined]


class ActionForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Type of entry"),
        choices=[(k.value, k.label) for k in MANUAL_ACTIONS],
        initial=CaseAction.Kind.NOTE,
    )
    text = forms.CharField(label=_("Details"), widget=forms.Textarea(attrs={"rows": 3}))


class ReasonForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


class CloseForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    summary = forms.CharField(label=_("Closing summary"), widget=forms.Textarea(attrs={"rows": 4}))
    review_happened = forms.CharField(
        label=_("What happened"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    review_done = forms.CharField(
        label=_("Actions taken"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    review_changes = forms.CharField(
        label=_("What changes (lessons, rules, training)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )


class EvidenceForm(forms.Form):
    file = forms.FileField(
        label=_("Evidence file"),
        help_text=_("Screenshots, PDF or MP4, up to 20 MB; the SHA-256 is recorded."),
    )


# --------------------------------------------------------------------------- petitions


class PublicPetitionForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Send to"),
        choices=[
            (Petition.Channel.MAILBOX.value, Petition.Channel.MAILBOX.label),
            (Petition.Channel.WEB.value, _("The school's petition office")),
        ],
        initial=Petition.Channel.MAILBOX,
    )
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(
        label=_("Your message"), widget=forms.Textarea(attrs={"rows": 8}), max_length=5000
    )
    name = forms.CharField(label=_("Your name (optional)"), max_length=60, required=False)
    contact = forms.CharField(
        label=_("Phone or e-mail (optional)"),
        max_length=100,
        required=False,
        help_text=_("Only for the school to contact you about this message."),
    )
    attachments = MultipleFileField(
        label=_("Attachments (optional)"),
        required=False,
        help_text=_("Up to 3 images (PNG, JPEG, GIF, WebP) or PDF files, 5 MB each."),
    )
    # A field people do not see (hidden by the stylesheet); robots fill every field in.
    website = forms.CharField(label=_("Leave this empty"), required=False)


class QueryForm(forms.Form):
    code = forms.CharField(label=_("Query code"), max_length=20)


class IntakeForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Received through"),
        choices=Petition.Channel.choices,
        initial=Petition.Channel.HOTLINE,
    )
    reference = forms.CharField(label=_("Transfer number"), max_length=60, required=False)
    received_on = forms.DateField(
        label=_("Received on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        initial=timezone.localdate,
    )
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 6}))
    name = forms.CharField(label=_("Petitioner's name"), max_length=60, required=False)
    contact = forms.CharField(label=_("Phone or e-mail"), max_length=100, required=False)


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns: 工单编号, 受理日期, 标题, 内容, 姓名, 联系方式, 来源 (or reference, "
            "received_on, subject, body, name, contact, channel). UTF-8 or GB18030."
        ),
    )


class DecideForm(forms.Form):
    accept = forms.TypedChoiceField(
        label=_("Acceptance decision"),
        choices=[("1", _("Accept")), ("0", _("Do not accept"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason (shown to the petitioner)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
    )


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=_("Reply to the petitioner"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Shown on the public query page."),
    )


# --------------------------------------------------------------------------- definitions


class RouteForm(forms.Form):
    name = forms.CharField(label=_("Route name"), max_length=100)
    kind = forms.ChoiceField(label=_("Concerns"), choices=Route.Kind.choices)
    is_active = forms.BooleanField(label=_("In use"), required=False, initial=True)


UNIT_KIND_CHOICES = [
    ("", _("— a fixed unit (chosen above) —")),
    (OrgUnit.Kind.CLASS.value, _("the case's class")),
    (OrgUnit.Kind.GRADE.value, _("the case's grade office")),
    (OrgUnit.Kind.DEPARTMENT.value, _("the case's department")),
    (OrgUnit.Kind.OFFICE.value, _("the case's office")),
]
STEP_ROLES = [(r.value, r.label) for r in Role if r in CAPABILITIES["cases.handle"]]


class StepForm(forms.Form):
    label = forms.CharField(label=_("Step name"), max_length=100)
    org_unit = forms.ModelChoiceField(
        label=_("Org unit"), queryset=OrgUnit.unscoped.none(), required=False
    )
    unit_kind = forms.ChoiceField(
        label=_("Or relative to the case"), choices=UNIT_KIND_CHOICES, required=False
    )
    role = forms.ChoiceField(label=_("Role"), choices=STEP_ROLES, initial=Role.HANDLER)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org_unit"].queryset = _units()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("org_unit")) == bool(data.get("unit_kind")):
            raise forms.ValidationError(
                _("Choose either a fixed org unit or a unit relative to the case.")
            )
        return data


class PolicyForm(forms.Form):
    petition_accept_workdays = forms.IntegerField(
        label=_("Decide on acceptance within (working days)"), min_value=1, max_value=60
    )
    petition_finish_days = forms.IntegerField(
        label=_("Finish within (days after acceptance)"), min_value=1, max_value=365
    )
    petition_remind_workdays = forms.IntegerField(
        label=_("Remind before each limit (working days)"), min_value=0, max_value=30
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = {
            "step_minutes": _("take up at each step within (minutes)"),
            "report_minutes": _("report to the leadership group within (minutes)"),
            "respond_minutes": _("first public response within (minutes)"),
            "close_days": _("close within (days)"),
        }
        for value, level_label in Level.choices:
            for key in DEADLINE_KEYS:
                self.fields[f"l{value}_{key}"] = forms.IntegerField(
                    label=f"{level_label}: {labels[key]}",
                    min_value=0,
                    max_value=100_000,
                    required=False,
                    help_text=_("Empty or 0: not required at this level."),
                )

    def levels(self) -> dict[str, dict[str, int | None]]:
        return {
            str(value): {
                key: (self.cleaned_data.get(f"l{value}_{key}") or None) for key in DEADLINE_KEYS
            }
            for value, _label in Level.choices
        }


class AbsenceForm(forms.Form):
    user = forms.ModelChoiceField(label=_("Person"), queryset=User.objects.none())
    starts_on = forms.DateField(
        label=_("Away from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(label=_("Until"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("Remarks"), max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = _handlers()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            raise forms.ValidationError(_("The end is before the start."))
        return data
