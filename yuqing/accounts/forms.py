"""Forms of the accounts pages: parse and validate input only; the services do the writing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.utils.translation import gettext_lazy as _

from yuqing.accounts.models import OrgUnit, User
from yuqing.accounts.roles import Role
from yuqing.accounts.services import user_change_password


class LoginForm(AuthenticationForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("User name")
        self.fields["password"].label = _("Password")
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autofocus": True})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class TokenForm(forms.Form):
    token = forms.RegexField(
        label=_("Verification code"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Enter the 6-digit code shown in your authenticator app.")},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": r"\d{6}",
                "maxlength": "6",
                "autofocus": True,
            }
        ),
    )

    def clean_token(self) -> str:
        return str(self.cleaned_data["token"]).strip()


class OwnPasswordChangeForm(PasswordChangeForm):
    """Django's form (its messages come translated), saved through our service."""

    def save(self, commit: bool = True) -> Any:
        return user_change_password(user=self.user, new_password=self.cleaned_data["new_password1"])


def _role_choices() -> list[tuple[str, Any]]:
    return list(Role.choices)


class UserCreateForm(forms.Form):
    username = forms.RegexField(
        label=_("User name"),
        max_length=150,
        regex=r"^[A-Za-z0-9_.@+-]+$",
        help_text=_("Letters, digits and . @ + - _ only; used to sign in."),
        error_messages={"invalid": _("Use letters, digits and . @ + - _ only.")},
    )
    display_name = forms.CharField(label=_("Name"), max_length=100)
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Mobile"), max_length=20, required=False)
    roles = forms.MultipleChoiceField(
        label=_("Roles"),
        choices=_role_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("School-wide roles; roles within one unit can be added afterwards."),
    )


class UserEditForm(forms.Form):
    display_name = forms.CharField(label=_("Name"), max_length=100)
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Mobile"), max_length=20, required=False)


class RoleAssignForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=_role_choices)
    org_unit = forms.ModelChoiceField(
        label=_("Within unit"),
        queryset=OrgUnit.unscoped.none(),
        required=False,
        empty_label=_("Whole school"),
    )

    def __init__(self, *args: Any, school_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only this school's units can be chosen, whatever id the browser sends.
        self.fields["org_unit"].queryset = OrgUnit.unscoped.filter(school_id=school_id)  # type: ignore[attr-defined]


class OrgUnitForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=OrgUnit.Kind.choices)
    parent = forms.ModelChoiceField(
        label=_("Parent unit"),
        queryset=OrgUnit.unscoped.none(),
        required=False,
        empty_label=_("(top level)"),
    )
    sort_order = forms.IntegerField(label=_("Order"), min_value=0, max_value=100000, initial=0)

    def __init__(
        self, *args: Any, school_id: int, unit: OrgUnit | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        parents = OrgUnit.unscoped.filter(school_id=school_id)
        if unit is not None:
            parents = parents.exclude(pk=unit.pk)
        self.fields["parent"].queryset = parents  # type: ignore[attr-defined]


class SchoolSecurityForm(forms.Form):
    require_second_factor = forms.BooleanField(
        label=_("Require a second factor for administrators and reviewers"),
        required=False,
        help_text=_(
            "They will have to set up an authenticator app at their next sign-in and use it "
            "every time after."
        ),
    )


class UserSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    show_inactive = forms.BooleanField(label=_("Show deactivated"), required=False)


__all__ = [
    "LoginForm",
    "OrgUnitForm",
    "OwnPasswordChangeForm",
    "RoleAssignForm",
    "SchoolSecurityForm",
    "TokenForm",
    "User",
    "UserCreateForm",
    "UserEditForm",
    "UserSearchForm",
]
