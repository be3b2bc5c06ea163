"""Administrators answer a petitioner's request: find their data, export it, erase it."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yuqing.cases.erasure import (
    is_erased,
    person_data_erase,
    person_data_export,
    petitions_of_person,
)
from yuqing.core.permissions import require


class FindForm(forms.Form):
    contact = forms.CharField(
        label=gettext_lazy("Phone or e-mail the person gave"), max_length=100, required=False
    )
    petition = forms.IntegerField(label=gettext_lazy("or petition number"), required=False)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if not data.get("contact") and not data.get("petition"):
            raise forms.ValidationError(_("Give the contact or a petition number."))
        return data


class RequestForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Request (who asked, when, how)"), max_length=200)
    confirm = forms.BooleanField(
        label=gettext_lazy("I understand that erased data cannot be brought back"),
        required=False,
    )


@require("settings.manage")
def person_data(request: HttpRequest) -> HttpResponse:
    find = FindForm(request.GET or None)
    petitions = []
    if find.is_bound and find.is_valid():
        petition_id = find.cleaned_data.get("petition")
        petitions = petitions_of_person(
            contact=find.cleaned_data.get("contact") or "",
            petition_ids=[petition_id] if petition_id else [],
        )
    form = RequestForm(request.POST or None)
    if request.method == "POST" and petitions and form.is_valid():
        reason = form.cleaned_data["reason"]
        if request.POST.get("action") == "export":
            data = person_data_export(petitions=petitions, reason=reason)
            response = HttpResponse(data, content_type="application/zip")
            stamp = timezone.localdate().isoformat()
            response["Content-Disposition"] = f'attachment; filename="personal-data-{stamp}.zip"'
            return response
        if request.POST.get("action") == "erase":
            if not form.cleaned_data["confirm"]:
                form.add_error("confirm", _("Tick the box to confirm the erasure."))
            else:
                result = person_data_erase(petitions=petitions, reason=reason)
                messages.success(
                    request,
                    _("Erased the personal data of %(n)s petitions (%(files)s attachments).")
                    % {"n": result.petitions, "files": result.attachments},
                )
                return redirect(f"{request.path}?{request.GET.urlencode()}")
    return render(
        request,
        "cases/person_data.html",
        {
            "find": find,
            "form": form,
            "rows": [(p, is_erased(p)) for p in petitions],
            "searched": find.is_bound and find.is_valid(),
        },
    )
