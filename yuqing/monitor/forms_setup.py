"""Forms of the monitor set-up. They parse and check input; the services do the writing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from yuqing.monitor.collect import imports as table_import
from yuqing.monitor.collect.rsshub import RouteSpec, catalogue_by_platform, route_spec
from yuqing.monitor.models import Mention, Source, SourceType
from yuqing.monitor.setup_services import ExpressionProblem, engine_scheme, split_words

HTTP_URL = URLValidator(
    schemes=["http", "https"], message=_("Enter an http:// or https:// address.")
)

INTERVALS = (
    (60, _("Every minute")),
    (300, _("Every 5 minutes")),
    (900, _("Every 15 minutes")),
    (1800, _("Every 30 minutes")),
    (3600, _("Every hour")),
    (21600, _("Every 6 hours")),
    (86400, _("Once a day")),
)


def put_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's ValidationError onto the form, by field where it names one."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class HttpUrlField(forms.URLField):
    default_validators = [HTTP_URL]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("assume_scheme", "https")
        kwargs.setdefault("max_length", 1000)
        super().__init__(**kwargs)


# -- sources ----------------------------------------------------------------------------------


class SourceForm(forms.Form):
    """Fields every polled source has; subclasses add what their kind needs."""

    kind: str = ""
    name = forms.CharField(label=pgettext_lazy("monitor setup", "Name"), max_length=100)
    source_type = forms.ChoiceField(label=_("Source type"), choices=SourceType.choices)
    interval_seconds = forms.TypedChoiceField(
        label=_("Poll"), choices=INTERVALS, coerce=int, initial=900
    )
    is_authoritative = forms.BooleanField(label=_("Authoritative outlet"), required=False)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def __init__(self, *args: Any, source: Source | None = None, **kwargs: Any) -> None:
        if source is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(source)
        super().__init__(*args, **kwargs)

    @classmethod
    def initial_for(cls, source: Source) -> dict[str, Any]:
        return {
            "name": source.name,
            "source_type": source.source_type,
            "interval_seconds": source.interval_seconds,
            "is_authoritative": source.is_authoritative,
            "enabled": source.enabled,
            "url": source.url,
        }

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "source_type": data["source_type"],
            "interval_seconds": data["interval_seconds"],
            "is_authoritative": data["is_authoritative"],
            "enabled": data["enabled"],
            "url": data.get("url", ""),
            "config": self.config(),
        }

    def config(self) -> dict[str, Any]:
        return {}


class FeedSourceForm(SourceForm):
    kind = Source.Kind.FEED
    url = HttpUrlField(label=_("Feed URL"), help_text=_("RSS, Atom or JSON Feed."))
    field_order = ["name", "url"]


class WebSourceForm(SourceForm):
    kind = Source.Kind.WEB
    url = HttpUrlField(label=_("List page URL"))
    link_selector = forms.CharField(
        label=_("Link selector"),
        required=False,
        max_length=300,
        help_text=_("A CSS selector for the article links; empty finds them automatically."),
    )
    max_articles = forms.IntegerField(
        label=_("Articles read per poll"), min_value=1, max_value=100, initial=20
    )
    is_own = forms.BooleanField(
        label=_("The school's own site"),
        required=False,
        help_text=_("The school's own sites are read without consulting robots.txt."),
    )
    field_order = ["name", "url", "link_selector", "max_articles", "is_own"]

    @classmethod
    def initial_for(cls, source: Source) -> dict[str, Any]:
        config = source.config or {}
        return {
            **super().initial_for(source),
            "link_selector": config.get("link_selector", ""),
            "max_articles": config.get("max_articles", 20),
            "is_own": source.is_own,
        }

    def clean_link_selector(self) -> str:
        selector = self.cleaned_data["link_selector"].strip()
        if selector:
            from lxml.cssselect import CSSSelector  # lxml is heavy: only when a selector is set

            try:
                CSSSelector(selector)
            except Exception as exc:  # cssselect raises several kinds of error
                raise ValidationError(
                    _("Not a valid CSS selector: %(e)s"), params={"e": exc}
                ) from exc
        return selector

    def service_kwargs(self) -> dict[str, Any]:
        return {**super().service_kwargs(), "is_own": self.cleaned_data["is_own"]}

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"max_articles": self.cleaned_data["max_articles"]}
        if self.cleaned_data["link_selector"]:
            config["link_selector"] = self.cleaned_data["link_selector"]
        return config


JSON_PATH_FIELDS = ("url", "title", "text", "html", "author", "published_at", "guid")


class JsonApiSourceForm(SourceForm):
    kind = Source.Kind.JSON_API
    url = HttpUrlField(label=_("API URL"))
    items_path = forms.CharField(
        label=_("Where the items are (JSONPath)"), max_length=300, initial="$.data[*]"
    )
    path_url = forms.CharField(label=_("Link"), max_length=300, required=False, initial="$.url")
    path_title = forms.CharField(
        label=_("Title"), max_length=300, required=False, initial="$.title"
    )
    path_text = forms.CharField(
        label=_("Text"), max_length=300, required=False, initial="$.content"
    )
    path_html = forms.CharField(label=_("HTML text"), max_length=300, required=False)
    path_author = forms.CharField(label=_("Author"), max_length=300, required=False)
    path_published_at = forms.CharField(label=_("Published"), max_length=300, required=False)
    path_guid = forms.CharField(label=_("Unique id"), max_length=300, required=False)
    field_order = ["name", "url", "items_path"]

    @classmethod
    def initial_for(cls, source: Source) -> dict[str, Any]:
        mapping = (source.config or {}).get("mapping", {})
        fields = mapping.get("fields", {})
        return {
            **super().initial_for(source),
            "items_path": mapping.get("items", ""),
            **{f"path_{name}": fields.get(name, "") for name in JSON_PATH_FIELDS},
        }

    def config(self) -> dict[str, Any]:
        fields = {
            name: self.cleaned_data[f"path_{name}"].strip()
            for name in JSON_PATH_FIELDS
            if self.cleaned_data.get(f"path_{name}", "").strip()
        }
        return {"mapping": {"items": self.cleaned_data["items_path"].strip(), "fields": fields}}


def route_choices() -> list[tuple[str, Any]]:
    choices: list[tuple[str, Any]] = [("", _("Type a route by hand"))]
    for platform, specs in catalogue_by_platform().items():
        choices.append((platform, [(s.key, f"{s.name} — {s.template}") for s in specs]))
    return choices


class RssHubSourceForm(SourceForm):
    """An RSSHub route: picked from the catalogue with its parameters, or typed by hand.

    The parameter fields depend on the route; the page swaps them in (htmx) when the route
    changes, and any ``param_*`` value the route does not know is an error, not ignored.
    """

    kind = Source.Kind.RSSHUB
    route_key = forms.ChoiceField(label=_("Route"), required=False)
    custom_route = forms.CharField(
        label=_("Route path"),
        required=False,
        max_length=500,
        help_text=_("Only when no route is picked, e.g. /weibo/keyword/育才中学"),
    )
    rsshub_base = HttpUrlField(
        label=_("RSSHub address"),
        required=False,
        help_text=_("Empty uses the deployment's RSSHub."),
    )
    field_order = ["name", "route_key"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["route_key"].choices = route_choices()  # type: ignore[attr-defined]
        # Picking a route swaps in its parameter fields (htmx; no inline script needed).
        self.fields["route_key"].widget.attrs.update(
            {
                "hx-get": reverse("monitor:source_rsshub_params"),
                "hx-target": "#rsshub-params",
                "hx-trigger": "change",
            }
        )
        key = (self.data.get("route_key") if self.is_bound else None) or self.initial.get(
            "route_key", ""
        )
        self.spec: RouteSpec | None = None
        try:
            self.spec = route_spec(key) if key else None
        except ValueError:
            self.spec = None
        for param in self.spec.params if self.spec else ():
            self.fields[f"param_{param.name}"] = forms.CharField(
                label=param.label,
                required=param.required,
                max_length=300,
                help_text=" ".join(
                    x
                    for x in (
                        param.help,
                        _("e.g. %(x)s") % {"x": param.example} if param.example else "",
                    )
                    if x
                ),
            )
        # Keep the route fields together, before the shared settings.
        order = ["name", "route_key", *[f for f in self.fields if f.startswith("param_")]]
        self.order_fields([*order, "custom_route", "rsshub_base"])

    @classmethod
    def initial_for(cls, source: Source) -> dict[str, Any]:
        config = source.config or {}
        initial = {
            **super().initial_for(source),
            "route_key": config.get("route_key", ""),
            "custom_route": "" if config.get("route_key") else config.get("route", ""),
            "rsshub_base": config.get("rsshub_base", ""),
        }
        for name, value in (config.get("params") or {}).items():
            initial[f"param_{name}"] = value
        return initial

    @property
    def common_fields(self) -> list[Any]:
        own = {"name", "route_key", "custom_route", "rsshub_base"}
        return [
            self[name] for name in self.fields if name not in own and not name.startswith("param_")
        ]

    @property
    def param_fields(self) -> list[Any]:
        return [self[name] for name in self.fields if name.startswith("param_")]

    def clean(self) -> dict[str, Any]:
        from yuqing.monitor.setup_services import rsshub_route

        data = super().clean() or {}
        key = data.get("route_key", "")
        sent = {
            k.removeprefix("param_"): str(v).strip()
            for k, v in self.data.items()
            if k.startswith("param_") and str(v).strip()
        }
        if not key and not data.get("custom_route", "").strip():
            self.add_error("route_key", _("Pick a route or type one."))
            return data
        try:
            data["route"] = rsshub_route(
                route_key=key, params=sent if key else {}, custom_route=data.get("custom_route", "")
            )
        except ValidationError as exc:
            self.add_error("route_key" if key else "custom_route", exc.message_dict["route"])
        else:
            if not key and sent:
                self.add_error("custom_route", _("Route parameters need a route from the list."))
        data["params"] = sent if key else {}
        return data

    def config(self) -> dict[str, Any]:
        data = self.cleaned_data
        config: dict[str, Any] = {"route": data["route"]}
        if data.get("route_key"):
            config["route_key"] = data["route_key"]
            config["params"] = data["params"]
        if data.get("rsshub_base"):
            config["rsshub_base"] = data["rsshub_base"]
        return config


SOURCE_FORMS: dict[str, type[SourceForm]] = {
    form.kind: form for form in (FeedSourceForm, RssHubSourceForm, WebSourceForm, JsonApiSourceForm)
}


# -- schemes ----------------------------------------------------------------------------------


class WordsField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 3})

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        return split_words(super().to_python(value) or "")

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list | tuple) else value


class SchemeForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("monitor setup", "Name"), max_length=100)
    subject_words = WordsField(
        label=_("Subject words"),
        help_text=_("The school's names and aliases, one per line. At least one."),
    )
    region_words = WordsField(label=_("Region words"), required=False)
    event_words = WordsField(label=_("Event words"), required=False)
    exclude_words = WordsField(
        label=_("Exclude words"),
        required=False,
        help_text=_("Same-named schools and streets: a subject word inside one does not count."),
    )
    expression = forms.CharField(
        label=_("Expression"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_(
            'AND, OR, NOT, brackets, "quoted phrases", NEAR/20 (within 20 characters) and '
            "title:(…). Example: 育才中学 AND (食堂 OR 饭堂) AND NOT 招聘"
        ),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    expression_problem: ExpressionProblem | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            engine_scheme(data)
        except ValidationError as exc:
            self.note_problem(exc)
            put_errors(self, exc)
        return data

    def note_problem(self, exc: ValidationError) -> None:
        for error in getattr(exc, "error_dict", {}).get("expression", []):
            problem = (error.params or {}).get("problem")
            if problem is not None:
                self.expression_problem = problem


class SchemeTestForm(forms.Form):
    sample_title = forms.CharField(label=_("Title"), required=False, max_length=500)
    sample_text = forms.CharField(
        label=_("Text to test"),
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    mentions = forms.TypedMultipleChoiceField(
        label=_("Or recent mentions"),
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, recent: list[Mention] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recent = recent or []
        self.fields["mentions"].choices = [(m.pk, (m.title or m.text)[:60]) for m in self.recent]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            not data.get("sample_text", "").strip()
            and not data.get("sample_title", "").strip()
            and not data.get("mentions")
        ):
            raise ValidationError(_("Paste some text or pick a mention to test."))
        return data


# -- imports ----------------------------------------------------------------------------------


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8 or GBK) or XLSX, up to 20 MB and 50,000 rows."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx,.xlsm"}),
    )
    source: forms.ModelChoiceField = forms.ModelChoiceField(
        label=_("Source"),
        queryset=None,
        required=False,
        empty_label=_("File imports (created when needed)"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = Source.objects.filter(kind=Source.Kind.IMPORT)  # type: ignore[attr-defined]


FIELD_LABELS = {
    "title": _("Title"),
    "text": _("Text"),
    "url": _("Link"),
    "author": _("Author"),
    "published_at": _("Published"),
    "site": _("Site"),
    "sentiment": _("Vendor sentiment"),
    "platform": _("Platform"),
}


class ImportMappingForm(forms.Form):
    """One select per field of a mention, offering the file's columns."""

    def __init__(self, *args: Any, headers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", _("(not in the file)"))] + [(h, h) for h in headers]
        for name in table_import.FIELDS:
            self.fields[name] = forms.ChoiceField(
                label=FIELD_LABELS[name], choices=choices, required=False
            )

    def mapping(self) -> dict[str, str]:
        return {k: v for k, v in self.cleaned_data.items() if v}


# -- manual entry -------------------------------------------------------------------------------


class ManualEntryForm(forms.Form):
    source_type = forms.ChoiceField(label=_("Where it was seen"), choices=SourceType.choices)
    url = HttpUrlField(label=_("Link"), required=False, max_length=2000)
    title = forms.CharField(label=_("Title"), required=False, max_length=500)
    text = forms.CharField(
        label=_("Text"),
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    author = forms.CharField(label=_("Author as shown"), required=False, max_length=200)
    published_at = forms.DateTimeField(
        label=_("Published"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    evidence = forms.FileField(
        label=_("Screenshot or file"),
        required=False,
        help_text=_("PNG, JPEG, GIF, WebP or PDF, up to 10 MB. Stored with its SHA-256."),
        widget=forms.ClearableFileInput(attrs={"accept": ".png,.jpg,.jpeg,.gif,.webp,.pdf"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("title") or "").strip() and not (data.get("text") or "").strip():
            raise ValidationError(_("Give the title or the text of the post."))
        return data


# -- API tokens -------------------------------------------------------------------------------


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=pgettext_lazy("monitor setup", "Name"),
        max_length=100,
        help_text=_(
            "Who uses it, e.g. the bureau's collector. Pushed mentions go to a source of this name."
        ),
    )
    can_push = forms.BooleanField(label=_("May push mentions"), required=False, initial=True)
    can_read = forms.BooleanField(label=_("May read mentions and events"), required=False)
