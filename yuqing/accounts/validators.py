"""Password rules beyond Django's own: mixed character classes, and a translated length rule."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.password_validation import MinimumLengthValidator as DjangoMinimumLength
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class CharacterClassValidator:
    """At least three of: lower case, upper case, digits, other characters."""

    classes = (
        re.compile(r"[a-z]"),
        re.compile(r"[A-Z]"),
        re.compile(r"\d"),
        re.compile(r"[^a-zA-Z\d]"),
    )

    def validate(self, password: str, user: Any = None) -> None:
        present = sum(1 for pattern in self.classes if pattern.search(password))
        if present < 3:
            raise ValidationError(
                _(
                    "The password must mix at least three of: lower case, upper case, digits, symbols."
                ),
                code="password_too_simple",
            )

    def get_help_text(self) -> str:
        return _("Mix at least three of: lower case, upper case, digits, symbols.")


class MinimumLengthValidator(DjangoMinimumLength):
    """Django's rule, with the message its zh_Hans catalog translates.

    Django 5.2 changed this msgid (``%d`` instead of ``%(min_length)d``) and its Chinese
    catalog still has only the old one, so the stock validator answers in English.
    """

    def get_error_message(self) -> str:
        return ngettext(
            "This password is too short. It must contain at least %(min_length)d character.",
            "This password is too short. It must contain at least %(min_length)d characters.",
            self.min_length,
        ) % {"min_length": self.min_length}
