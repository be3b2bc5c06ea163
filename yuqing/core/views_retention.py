"""The school's retention settings page (administrators)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from yuqing.core.models import RetentionPolicy
from yuqing.core.permissions import require
from yuqing.core.retention import policy_for, retention_policy_set, retention_run

FIELDS = ["mention_days", "fetch_log_days", "petition_personal_days"]


class RetentionForm(forms.ModelForm):
    class Meta:
        model = RetentionPolicy
        fields = FIELDS


@require("settings.manage")
def retention_settings(request: HttpRequest) -> HttpResponse:
    school_id = request.user.school_id  # type: ignore[union-attr]
    if school_id is None:
        return redirect("accounts:settings")
    policy = policy_for(school_id)
    form = RetentionForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        try:
            retention_policy_set(
                school_id=school_id, **{name: form.cleaned_data[name] for name in FIELDS}
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("core:retention")
    # What tonight's run would remove under the saved policy: a dry run, nothing changes.
    preview = retention_run(dry_run=True, only=[school_id]).schools[0]
    return render(
        request, "core/retention.html", {"form": form, "preview": preview, "policy": policy}
    )
