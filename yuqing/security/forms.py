"""Forms of the security module: they parse and show errors; services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from yuqing.accounts.models import User
from yuqing.security.checks import CHECKS
from yuqing.security.models import Asset, Schedule


class AssetForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Asset.Kind.choices)
    name = forms.CharField(label=_("Name"), max_length=200)
    url = forms.CharField(
        label=_("Address (URL)"),
        max_length=500,
        required=False,
        help_text=_("Websites: the home page, e.g. https://www.example.edu.cn/"),
    )
    host = forms.CharField(
        label=_("Host name or IP address"),
        max_length=255,
        required=False,
        help_text=_("Domains, servers and devices."),
    )
    platform = forms.CharField(label=_("Platform"), max_length=50, required=False)
    account_id = forms.CharField(label=_("Account or group ID"), max_length=200, required=False)
    operating_system = forms.CharField(label=_("Operating system"), max_length=100, required=False)
    owner_unit = forms.CharField(label=_("Owning department"), max_length=100, required=False)
    purpose = forms.CharField(label=_("Purpose"), max_length=300, required=False)
    administrators = forms.CharField(label=_("Administrators"), max_length=300, required=False)
    responsible = forms.ModelChoiceField(
        label=_("Responsible person"), queryset=User.objects.none(), required=False
    )
    expected_ports = forms.CharField(
        label=_("Expected open ports"),
        required=False,
        help_text=_("For example: 80, 443"),
    )
    scan_ports = forms.CharField(
        label=_("Ports to check"),
        required=False,
        help_text=_("Empty: a built-in list of 30 common ports."),
    )
    allow_private = forms.BooleanField(
        label=_("On the intranet (private addresses)"),
        required=False,
        help_text=_("Needed for servers on the school network (10.x, 192.168.x, 172.16–31.x)."),
    )
    schedule = forms.ChoiceField(label=_("Schedule"), choices=Schedule.choices, initial="daily")
    checks = forms.MultipleChoiceField(
        label=_("Checks"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(k, c.label) for k, c in CHECKS.items()],
        help_text=_("None ticked: every check that applies."),
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["responsible"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = User.objects.filter(is_active=True).order_by("username")

    @classmethod
    def initial_for(cls, asset: Asset) -> dict[str, Any]:
        data = {name: getattr(asset, name) for name in cls.base_fields if hasattr(asset, name)}
        data["expected_ports"] = ", ".join(str(p) for p in asset.expected_ports or [])
        data["scan_ports"] = ", ".join(str(p) for p in asset.scan_ports or [])
        data["responsible"] = asset.responsible_id
        return data


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(label=_("Assign to"), queryset=User.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = User.objects.filter(is_active=True).order_by("username")


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("What was done"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


class VerifyForm(forms.Form):
    note = forms.CharField(
        label=_("How it was verified"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
    )


class RiskForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the risk is accepted"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )
    until = forms.DateField(
        label=_("Accepted until"), widget=forms.DateInput(attrs={"type": "date"})
    )


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File"))


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("Report"), help_text=_("nmap XML (-oX) or an OpenVAS / Greenbone XML report.")
    )


class ChecklistForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    responsible = forms.ModelChoiceField(
        label=_("Responsible person"), queryset=User.objects.none()
    )
    asset = forms.ModelChoiceField(
        label=_("Asset"), queryset=Asset.unscoped.none(), required=False
    )  # set per request
    due_day = forms.IntegerField(
        label=_("Due on day of month"), min_value=1, max_value=28, initial=25
    )
    items = forms.CharField(
        label=_("Items"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("One per line, e.g. “Security patches installed on the web server”."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        responsible = self.fields["responsible"]
        asset = self.fields["asset"]
        assert isinstance(responsible, forms.ModelChoiceField)
        assert isinstance(asset, forms.ModelChoiceField)
        responsible.queryset = User.objects.filter(is_active=True).order_by("username")
        asset.queryset = Asset.objects.order_by("name")


class MultiFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class SignForm(forms.Form):
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    evidence_files = forms.FileField(
        label=_("Evidence"),
        required=False,
        widget=MultiFileInput(attrs={"multiple": True}),
        help_text=_("Screenshots, PDF reports, Office documents or text logs; up to 10 MB each."),
    )
