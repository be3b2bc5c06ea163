"""The layout every page shares: navigation per role, the overview, static files, error pages,
and markup that keeps the Content-Security-Policy (no inline script, style or handler)."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest
from django.template import Context, Template
from django.template.loader import render_to_string
from django.test import Client

from yuqing.accounts.roles import CAPABILITIES
from yuqing.core import views as core_views
from yuqing.core.navigation import MODULES
from yuqing.core.templatetags.yuqing_ui import vendor_paths

MODULE_PAGES = [
    "/",
    *(
        f"/{key}/"
        for key in ("monitor", "alerts", "cases", "publishing", "security", "duty", "reports")
    ),
]

# What the policy forbids in our markup. A json_script data island is allowed: it is JSON
# (type="application/json"), which the browser never executes.
EXECUTABLE_INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE
)
INLINE_STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
HANDLER_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"(href|src|action)\s*=\s*[\"']?\s*javascript:", re.IGNORECASE)


def assert_csp_clean(html: str) -> None:
    for name, pattern in [
        ("inline script", EXECUTABLE_INLINE_SCRIPT),
        ("<style> element", INLINE_STYLE_ELEMENT),
        ("style attribute", STYLE_ATTRIBUTE),
        ("event-handler attribute", HANDLER_ATTRIBUTE),
        ("javascript: URL", JAVASCRIPT_URL),
    ]:
        match = pattern.search(html)
        assert match is None, (
            f"{name} in page: {html[max(0, match.start() - 80) : match.end() + 80]}"
        )


def nav_hrefs(html: str) -> set[str]:
    nav = re.search(r'<nav id="site-nav".*?</nav>', html, re.DOTALL)
    assert nav, "the page has no side navigation"
    return set(re.findall(r'class="nav-link[^"]*" href="([^"]+)"', nav.group(0)))


def expected_modules(role: str) -> set[str]:
    return {m.key for m in MODULES if role in CAPABILITIES[m.capability]}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_shows_each_role_only_their_modules(people: dict[str, Any]) -> None:
    urls = {"home": "/", "settings": "/accounts/settings/"}
    for role, person in people.items():
        response = client_for(person).get("/")
        assert response.status_code == 200, role
        html = response.content.decode()
        expected = {urls.get(key, f"/{key}/") for key in expected_modules(role)}
        assert nav_hrefs(html) == expected, role


def test_it_gives_the_overview_a_card_per_visible_module(people: dict[str, Any]) -> None:
    html = client_for(people["staff"]).get("/").content.decode()
    cards = set(re.findall(r'class="card module-card module-([a-z]+)"', html))
    assert cards == expected_modules("staff") - {"home"} == {"publishing", "duty"}
    # Staff may not see monitoring, so neither the mention chart nor ECharts is sent.
    assert "mentions-chart" not in html
    assert vendor_paths()["echarts"] not in html


def test_it_shows_zeros_not_invented_numbers_until_modules_report(people: dict[str, Any]) -> None:
    response = client_for(people["admin"]).get("/")
    html = response.content.decode()
    figures = re.findall(r'class="module-figure-value">(\d+)<', html)
    # Settings counts the school's real, active people; every other module has no data yet.
    assert figures.count("0") == len(figures) - 1
    assert str(len(people)) in figures
    chart = response.context["chart"]
    assert chart["series"][0]["data"] == [0] * 30
    assert chart["empty"] is True and chart["total"] == 0
    island = re.search(
        r'<script id="mentions-chart-data" type="application/json">(.*?)</script>', html
    )
    assert island and json.loads(island.group(1))["emptyText"]


def test_it_draws_the_mentions_a_module_reports(
    people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def daily_mentions(request: Any, start: date, end: date) -> dict[date, int]:
        return {end: 7, start: 2}

    real_hook = core_views.module_hook
    monkeypatch.setattr(
        core_views,
        "module_hook",
        lambda app, name: (
            daily_mentions if (app, name) == ("monitor", "daily_mentions") else real_hook(app, name)
        ),
    )
    chart = client_for(people["monitor"]).get("/").context["chart"]
    assert chart["series"][0]["data"][0] == 2 and chart["series"][0]["data"][-1] == 7
    assert chart["total"] == 9 and chart["empty"] is False


def test_it_serves_the_vendored_libraries_and_own_assets(people: dict[str, Any]) -> None:
    client = Client()
    paths = [
        *vendor_paths().values(),
        "yuqing/app.css",
        "yuqing/app.js",
        "yuqing/charts.js",
        "yuqing/icons.svg",
    ]
    for path in paths:
        response = client.get(f"/static/{path}")
        assert response.status_code == 200, path
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert len(body) > 500, path
    licences = ["vendor/" + p.split("/")[1] + "/LICENSE.txt" for p in vendor_paths().values()]
    for path in licences:
        assert client.get(f"/static/{path}").status_code == 200, path


def test_it_loads_htmx_with_a_policy_safe_configuration(people: dict[str, Any]) -> None:
    html = client_for(people["staff"]).get("/").content.decode()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html)
    assert config
    assert json.loads(config.group(1)) | {
        "allowEval": False,
        "allowScriptTags": False,
        "includeIndicatorStyles": False,
    } == json.loads(config.group(1))
    assert f'src="/static/{vendor_paths()["htmx"]}"' in html


@pytest.mark.parametrize("role", ["admin", "staff", "security"])
def test_it_keeps_every_page_free_of_inline_script_and_style(
    people: dict[str, Any], role: str
) -> None:
    client = client_for(people[role])
    for path in [*MODULE_PAGES, "/no-such-page/"]:
        response = client.get(path)
        assert response.status_code in (200, 403, 404), path
        assert_csp_clean(response.content.decode())


def test_it_keeps_the_sign_in_and_error_pages_free_of_inline_script_and_style(db: Any) -> None:
    assert_csp_clean(Client().get("/accounts/login/").content.decode())
    assert_csp_clean(render_to_string("500.html"))


def test_it_renders_403_inside_the_layout(people: dict[str, Any]) -> None:
    response = client_for(people["staff"]).get("/monitor/")
    html = response.content.decode()
    assert response.status_code == 403
    assert 'id="site-nav"' in html and 'class="error-page"' in html and "403" in html


def test_it_renders_404_inside_the_layout(people: dict[str, Any]) -> None:
    response = client_for(people["handler"]).get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert 'id="site-nav"' in html and 'class="error-page"' in html and "404" in html


def test_it_renders_500_without_any_context() -> None:
    # Django renders 500.html with an empty context: no request, no user, no messages.
    html = render_to_string("500.html")
    assert "500" in html and 'id="site-nav"' not in html and "menu-toggle" not in html


def test_it_marks_the_current_module_in_the_navigation(people: dict[str, Any]) -> None:
    html = client_for(people["admin"]).get("/alerts/").content.decode()
    assert re.search(r'class="nav-link is-active" href="/alerts/" aria-current="page"', html)


def test_it_names_the_person_their_roles_and_school_in_the_top_bar(
    people: dict[str, Any], school: Any
) -> None:
    html = client_for(people["reviewer"]).get("/").content.decode()
    topbar = re.search(r'<header class="topbar">.*?</header>', html, re.DOTALL)
    assert topbar
    assert str(people["reviewer"]) in topbar.group(0)
    assert "审核领导" in topbar.group(0) and school.name in topbar.group(0)
    assert 'action="/accounts/logout/"' in topbar.group(
        0
    ) and 'action="/i18n/setlang/"' in topbar.group(0)


@pytest.mark.parametrize(
    ("level", "css", "text"), [(0, "risk-0", "无"), (1, "risk-1", "蓝色"), (4, "risk-4", "红色")]
)
def test_it_renders_risk_badges_with_their_colour_names(level: int, css: str, text: str) -> None:
    html = Template("{% load yuqing_ui %}{% risk_badge level %}").render(Context({"level": level}))
    assert f"badge {css}" in html and text in html


def test_it_renders_nothing_for_an_unknown_risk_level() -> None:
    assert (
        Template("{% load yuqing_ui %}{% risk_badge 9 %}{% risk_badge '' %}")
        .render(Context())
        .strip()
        == ""
    )


def test_it_renders_sentiment_badges() -> None:
    html = Template("{% load yuqing_ui %}{% sentiment_badge 'negative' %}").render(Context())
    assert "sentiment-negative" in html and "负面" in html


def test_it_refreshes_the_overview_cards_alone_for_htmx(people: dict[str, Any]) -> None:
    response = client_for(people["handler"]).get(
        "/", headers={"HX-Request": "true", "HX-Target": "overview-cards"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="overview-cards"')
    assert "<html" not in html and "mentions-chart" not in html
    cards = set(re.findall(r"module-card module-([a-z]+)", html))
    assert cards == expected_modules("handler") - {"home"}
