"""Small template helpers of the layout: icons, vendored scripts, risk and sentiment badges.

Everything here renders markup that keeps the Content-Security-Policy: no inline style, no
inline script, no event-handler attribute.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django import template
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from yuqing.lib.urls import safe_link

register = template.Library()

# ``href="{{ mention.url|safe_link }}"``: addresses that came from outside link only if http(s).
register.filter("safe_link", safe_link)

VENDOR_MANIFEST = Path(__file__).resolve().parents[2] / "static" / "vendor" / "vendor.json"


@cache
def vendor_paths() -> dict[str, str]:
    """Short name -> static path, as written by scripts/vendor_assets.py."""
    return dict(json.loads(VENDOR_MANIFEST.read_text()))


@register.simple_tag
def vendor_static(name: str) -> str:
    """URL of a vendored library's main file: ``<script src="{% vendor_static 'htmx' %}">``."""
    try:
        return static(vendor_paths()[name])
    except KeyError:
        raise template.TemplateSyntaxError(f"unknown vendored library {name!r}") from None


@register.simple_tag
def icon(name: str, css_class: str = "", label: str = "") -> SafeString:
    """An icon from the local SVG sprite; decorative unless ``label`` is given."""
    href = f"{static('yuqing/icons.svg')}#{name}"
    classes = f"icon icon-{name} {css_class}".strip()
    if label:
        return format_html(
            '<svg class="{}" role="img" aria-label="{}" focusable="false"><use href="{}"></use></svg>',
            classes,
            label,
            href,
        )
    return format_html(
        '<svg class="{}" aria-hidden="true" focusable="false"><use href="{}"></use></svg>',
        classes,
        href,
    )


@dataclass(frozen=True)
class Level:
    value: int
    css: str
    colour: Any  # lazy translation
    severity: Any


# The school's four alert grades (eval/LABELS.md), shown by colour name with the severity as
# the title: colour alone never carries the meaning.
RISK_LEVELS: tuple[Level, ...] = (
    Level(0, "risk-0", pgettext_lazy("risk", "None"), _("no action needed")),
    Level(1, "risk-1", _("Blue"), pgettext_lazy("risk severity", "General")),
    Level(2, "risk-2", _("Yellow"), pgettext_lazy("risk severity", "Serious")),
    Level(3, "risk-3", _("Orange"), pgettext_lazy("risk severity", "Major")),
    Level(4, "risk-4", _("Red"), pgettext_lazy("risk severity", "Especially major")),
)

SENTIMENTS = {
    "positive": _("Positive"),
    "neutral": _("Neutral"),
    "negative": _("Negative"),
}


def risk_level(value: Any) -> Level | None:
    try:
        index = int(value)
    except (TypeError, ValueError):
        return None
    return RISK_LEVELS[index] if 0 <= index < len(RISK_LEVELS) else None


@register.inclusion_tag("partials/risk_badge.html")
def risk_badge(value: Any, *, long: bool = False) -> dict[str, Any]:
    """``{% risk_badge mention.risk %}``: a coloured badge for risk 0-4 (``long=True`` adds the severity)."""
    return {"level": risk_level(value), "long": long}


@register.inclusion_tag("partials/sentiment_badge.html")
def sentiment_badge(value: str) -> dict[str, Any]:
    """``{% sentiment_badge mention.sentiment %}`` for negative / neutral / positive."""
    return {"value": value, "label": SENTIMENTS.get(value, value)}


@register.filter
def role_labels(user: Any) -> str:
    """The person's roles in their display names, in the order of the role table."""
    from yuqing.accounts.roles import Role

    held = user.role_set() if hasattr(user, "role_set") else frozenset()
    separator = str(pgettext_lazy("list separator", ", "))
    return separator.join(str(label) for value, label in Role.choices if value in held)
