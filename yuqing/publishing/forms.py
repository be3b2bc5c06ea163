"""Forms of the publishing module: they parse and show errors; services validate and write."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from yuqing.accounts.models import OrgUnit
from yuqing.accounts.roles import CAPABILITIES, Role
from yuqing.publishing.models import Channel
from yuqing.publishing.workflow import Action, Anchor


class DraftForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(
        label=_("Text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 14, "data-editor-source": "1"}),
        help_text=_("Paragraphs, headings, lists, links and the draft's own images."),
    )
    channels = forms.MultipleChoiceField(
        label=_("Channels"),
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[Channel.WEBSITE],
    )
    department = forms.ModelChoiceField(
        label=_("Department"), queryset=OrgUnit.unscoped.none(), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = OrgUnit.objects.order_by("sort_order", "name")  # type: ignore[attr-defined]


class UploadForm(forms.Form):
    file = forms.FileField(label=_("Image or document"))


class OverrideForm(forms.Form):
    key = forms.CharField(widget=forms.HiddenInput, max_length=300)
    reason = forms.CharField(label=_("Why this may stand"), max_length=1000)


ACTION_CHOICES = [
    (Action.APPROVE, _("Approve")),
    (Action.APPROVE_WITH_COMMENT, _("Approve with comment")),
    (Action.REQUEST_CHANGES, _("Request changes")),
    (Action.REJECT, _("Reject")),
]


class ActForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Decision"), choices=ACTION_CHOICES, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    # [{"start": int, "end": int, "body": str}], filled in by publishing.js from selections.
    anchors = forms.CharField(required=False, widget=forms.HiddenInput)
    credential = forms.CharField(
        label=_("Your password or authenticator code"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("Approving is your signature: confirm that it is you."),
    )

    def clean_anchors(self) -> list[Anchor]:
        raw = self.cleaned_data.get("anchors") or ""
        if not raw.strip():
            return []
        try:
            items = json.loads(raw)
        except ValueError:
            raise ValidationError(_("The anchored comments could not be read.")) from None
        if not isinstance(items, list):
            raise ValidationError(_("The anchored comments could not be read."))
        out = []
        for item in items[:50]:
            if not isinstance(item, dict):
                continue
            start, end = item.get("start"), item.get("end")
            out.append(
                Anchor(
                    start if isinstance(start, int) else None,
                    end if isinstance(end, int) else None,
                    str(item.get("body", ""))[:2000],
                )
            )
        return out


class PublicationForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    url = forms.URLField(label=_("Address"), max_length=500, assume_scheme="https")


def _lines(value: str) -> list[str]:
    return [line.strip() for line in (value or "").replace("，", ",").splitlines() if line.strip()]


def _pairs(value: str) -> list[tuple[str, str]]:
    out = []
    for line in _lines(value):
        for sep in ("→", "->", "=>", "\t", ","):
            if sep in line:
                wrong, right = line.split(sep, 1)
                out.append((wrong.strip(), right.strip()))
                break
        else:
            raise ValidationError(
                _("Write each line as “wrong → right”: %(line)s") % {"line": line}
            )
    return out


class SettingsForm(forms.Form):
    use_seeded = forms.BooleanField(
        label=_("Use the project's seeded lists as well"),
        required=False,
        help_text=_(
            "Common advertising words, outdated formulations and typos, kept by the project."
        ),
    )
    forbidden_words = forms.CharField(
        label=_("Forbidden words"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("One per line: advertising, paid tutoring and the like. Blocks submission."),
    )
    formulations = forms.CharField(
        label=_("Formulation lexicon"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("One per line: wrong or outdated form → correct form."),
    )
    confusions = forms.CharField(
        label=_("Confusion list (typos)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("One per line: typo → correct word."),
    )
    leaders = forms.CharField(
        label=_("Leaders and their titles"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "One per line: name: title, other title. The name with any other title is flagged."
        ),
    )
    watch_hosts = forms.CharField(
        label=_("The school's own sites"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Host names, one per line (e.g. www.school.edu.cn). Only pages there are watched for tampering."
        ),
    )
    watch_listings = forms.CharField(
        label=_("Lists of new pages on those sites"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "One per line: the address of a feed (RSS/Atom), a sitemap.xml or a list page, "
            "optionally followed by a space and the CSS selector of its article links. Read "
            "every 10 minutes, with the monitor's sources marked as the school's own site, "
            "to find where signed drafts went live."
        ),
    )
    watch_minutes = forms.IntegerField(
        label=_("Check live pages every (minutes)"), min_value=5, max_value=10080
    )

    def clean_forbidden_words(self) -> list[str]:
        return _lines(self.cleaned_data["forbidden_words"])

    def clean_formulations(self) -> list[tuple[str, str]]:
        return _pairs(self.cleaned_data["formulations"])

    def clean_confusions(self) -> list[tuple[str, str]]:
        return _pairs(self.cleaned_data["confusions"])

    def clean_leaders(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for line in _lines(self.cleaned_data["leaders"]):
            name, sep, titles = line.replace("：", ":").partition(":")
            if not sep or not name.strip() or not titles.strip():
                raise ValidationError(
                    _("Write each line as “name: title”: %(line)s") % {"line": line}
                )
            out[name.strip()] = [
                t.strip() for t in titles.replace("、", ",").split(",") if t.strip()
            ]
        return out

    def clean_watch_hosts(self) -> list[str]:
        return _lines(self.cleaned_data["watch_hosts"])

    def clean_watch_listings(self) -> list[str]:
        return _lines(self.cleaned_data["watch_listings"])

    @staticmethod
    def initial_for(row: Any) -> dict[str, Any]:
        return {
            "forbidden_words": "\n".join(row.forbidden_words or []),
            "formulations": "\n".join(f"{a} → {b}" for a, b in row.formulations or []),
            "confusions": "\n".join(f"{a} → {b}" for a, b in row.confusions or []),
            "use_seeded": row.use_seeded,
            "leaders": "\n".join(f"{k}: {', '.join(v)}" for k, v in (row.leaders or {}).items()),
            "watch_hosts": "\n".join(row.watch_hosts or []),
            "watch_listings": "\n".join(row.watch_listings or []),
            "watch_minutes": row.watch_minutes,
        }


class FlowForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[("", _("Every channel without its own flow")), *Channel.choices],
        required=False,
    )
    allow_self_approval = forms.BooleanField(
        label=_("Authors may sign their own drafts"), required=False
    )


REVIEW_ROLES = [("", _("Any reviewing role"))] + [
    (r.value, r.label) for r in Role if r in CAPABILITIES["publishing.review"]
]


class StepForm(forms.Form):
    name = forms.CharField(label=_("Step name"), max_length=100)
    role = forms.ChoiceField(label=_("Role"), choices=REVIEW_ROLES, required=False)
    org_unit = forms.ModelChoiceField(
        label=_("Org unit"), queryset=OrgUnit.unscoped.none(), required=False
    )
    runs_checks = forms.BooleanField(label=_("Run the checks again here"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org_unit"].queryset = OrgUnit.objects.order_by("sort_order", "name")  # type: ignore[attr-defined]
