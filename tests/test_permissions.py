"""The full role × view matrix: every URL in the project, every kind of person.

Each view declares what it needs (``required_capability``, set by ``core.permissions.require``
or ``require_login``); views without it must be listed in ``PUBLIC_VIEWS``. A new view with
neither fails here, so no view can be forgotten. The expected outcome is computed from the
capability table in ``accounts/roles.py`` — the single place that decides permissions.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import make_user
from yuqing.accounts.roles import CAPABILITIES, Role, is_read_only
from yuqing.core.permissions import AUTHENTICATED

# Views anyone may reach without signing in. Keep this list short and explained.
PUBLIC_VIEWS = {
    "accounts:login",  # the sign-in page itself
    "accounts:logout",  # POST only; signing out needs no permission
    "core:healthz",  # process supervisors probe it; says only "ok"
    "set_language",  # Django's language switch (stores a cookie, nothing else)
    "api:v1:openapi-json",  # the API's description for client generators; holds no data
    "api:v1:api-root",  # django-ninja's URL anchor; always answers 404
    "cases:public_petition",  # parents write to the school without an account (rate limited)
    "cases:public_query",  # the petitioner's progress page, opened with their query code
}

# Token-authenticated API endpoints: a session is no credential there, so every person, signed
# in or not, gets 401 without a token (tests/api/ checks what a token may do).
TOKEN_VIEWS = {"api:v1:mentions", "api:v1:events"}

# Views that may accept a POST without a CSRF token (token-authenticated API endpoints).
CSRF_EXEMPT_ALLOWED: set[str] = set(TOKEN_VIEWS)


@dataclass(frozen=True)
class Route:
    name: str  # qualified "namespace:name"
    callback: Any
    arg_names: tuple[str, ...] = field(default_factory=tuple)
    converters: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


def _pattern_args(pattern: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    converters = dict(getattr(pattern, "converters", {}) or {})
    regex = getattr(pattern, "regex", None)
    names = tuple(regex.groupindex) if regex is not None else tuple(converters)
    return names, converters


def _walk(
    patterns: list[Any],
    namespace: str = "",
    inherited: tuple[str, ...] = (),
    conv: dict[str, Any] | None = None,
) -> Iterator[Route]:
    conv = conv or {}
    for entry in patterns:
        names, converters = _pattern_args(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = (
                f"{namespace}:{entry.namespace}"
                if namespace and entry.namespace
                else (entry.namespace or namespace)
            )
            yield from _walk(entry.url_patterns, ns, inherited + names, {**conv, **converters})
        elif isinstance(entry, URLPattern):
            if not entry.name:
                raise AssertionError(
                    f"URL pattern {entry.pattern} has no name; every view needs one"
                )
            qualified = f"{namespace}:{entry.name}" if namespace else entry.name
            yield Route(qualified, entry.callback, inherited + names, {**conv, **converters})


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


# --- The cast: one person per role at the school, plus anonymous, bureau and outsider ------


@dataclass
class Cast:
    school: Any
    people: dict[str, Any]
    bureau_user: Any
    outsider: Any
    objects: dict[str, Any]


@pytest.fixture
def cast(people: dict[str, Any], bureau_user: Any, outsider: Any, school: Any) -> Cast:
    from yuqing.accounts.models import OrgUnit, RoleAssignment
    from yuqing.core.tenancy import school_scope

    with school_scope(school):
        unit = OrgUnit.objects.create(name="初二年级组", kind=OrgUnit.Kind.GRADE)
        target = make_user(school, "target", roles=("staff",))
        assignment = RoleAssignment.objects.get(user=target)
    return Cast(
        school,
        people,
        bureau_user,
        outsider,
        {"unit": unit, "user": target, "assignment": assignment},
    )


# URL name -> kwargs, for views with arguments. Their objects belong to ``school``, so a person
# from another school must get 404 even where their role would allow the page.
SUPPLIERS: dict[str, Callable[[Cast], dict[str, Any]]] = {
    "accounts:user_detail": lambda c: {"pk": c.objects["user"].pk},
    "accounts:role_add": lambda c: {"pk": c.objects["user"].pk},
    "accounts:role_remove": lambda c: {
        "pk": c.objects["user"].pk,
        "assignment_pk": c.objects["assignment"].pk,
    },
    "accounts:user_password_reset": lambda c: {"pk": c.objects["user"].pk},
    "accounts:user_active": lambda c: {"pk": c.objects["user"].pk},
    "accounts:unit_edit": lambda c: {"pk": c.objects["unit"].pk},
    "accounts:unit_delete": lambda c: {"pk": c.objects["unit"].pk},
}


def _placeholder(converter: Any) -> Any:
    name = type(converter).__name__
    if name == "IntConverter":
        return 999_999_999
    if name == "UUIDConverter":
        return uuid.UUID(int=0)
    return "no-such-thing"


def url_for(route: Route, cast: Cast) -> tuple[str, bool]:
    """The URL to request and whether its arguments name real objects of ``school``."""
    if not route.arg_names:
        return reverse(route.name), False
    if route.name in SUPPLIERS:
        return reverse(route.name, kwargs=SUPPLIERS[route.name](cast)), True
    # Unknown objects: the permission check runs before any lookup, so denial is still tested.
    kwargs = {n: _placeholder(route.converters.get(n)) for n in route.arg_names}
    return reverse(route.name, kwargs=kwargs), False


def capability_of(route: Route) -> str | None:
    return getattr(route.callback, "required_capability", None)


def expected_allowed(person: Any, roles: frozenset[str], bureau: bool, capability: str) -> bool:
    if capability == AUTHENTICATED:
        return True
    if not any(r in CAPABILITIES[capability] for r in roles):
        return False
    return not bureau or is_read_only(capability)


def _is_login_redirect(response: Any) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        reverse("accounts:login")
    )


# --- Tests -----------------------------------------------------------------------------------


def test_it_declares_access_on_every_view() -> None:
    undeclared = [
        r.name
        for r in all_routes()
        if capability_of(r) is None and r.name not in PUBLIC_VIEWS | TOKEN_VIEWS
    ]
    assert undeclared == [], (
        f"views with neither required_capability nor a PUBLIC_VIEWS entry: {undeclared}"
    )
    known = set(CAPABILITIES) | {AUTHENTICATED}
    unknown = {
        r.name: capability_of(r) for r in all_routes() if capability_of(r) not in known | {None}
    }
    assert unknown == {}


def test_it_keeps_the_public_list_honest() -> None:
    names = {r.name for r in all_routes()}
    assert names >= PUBLIC_VIEWS, f"stale PUBLIC_VIEWS entries: {PUBLIC_VIEWS - names}"
    assert names >= TOKEN_VIEWS, f"stale TOKEN_VIEWS entries: {TOKEN_VIEWS - names}"
    protected_but_listed = [
        r.name for r in all_routes() if r.name in PUBLIC_VIEWS and capability_of(r)
    ]
    assert protected_but_listed == []


def test_it_supplies_only_existing_routes() -> None:
    names = {r.name for r in all_routes()}
    assert set(SUPPLIERS) <= names


def _people(cast: Cast) -> list[tuple[str, Any, frozenset[str], bool, bool]]:
    """(label, user or None, roles, is bureau, is from another school)."""
    cast_list: list[tuple[str, Any, frozenset[str], bool, bool]] = [
        (role, user, frozenset({role}), False, False) for role, user in cast.people.items()
    ]
    cast_list.append(
        ("bureau", cast.bureau_user, frozenset({"admin", "monitor", "reviewer"}), True, True)
    )
    cast_list.append(("outsider", cast.outsider, frozenset({"admin"}), False, True))
    cast_list.append(("anonymous", None, frozenset(), False, True))
    return cast_list


@pytest.mark.django_db
def test_it_allows_and_denies_every_view_for_every_person(cast: Cast) -> None:
    failures: list[str] = []
    routes = all_routes()
    for label, user, roles, bureau, foreign in _people(cast):
        client = Client()
        if user is not None:
            client.force_login(user)
        for route in routes:
            url, real_objects = url_for(route, cast)
            response = client.get(url)
            status = response.status_code
            capability = capability_of(route)
            if route.name in TOKEN_VIEWS:
                ok = status == 401
                want = "401 (no token)"
            elif capability is None:  # public
                ok = status < 500
                want = "any non-error"
            elif user is None:
                ok = _is_login_redirect(response)
                want = "redirect to login"
            elif expected_allowed(user, roles, bureau, capability):
                if real_objects and foreign:
                    # Allowed the page, never another school's object (POST-only views answer
                    # GET with 405 before any lookup; their POST is checked below).
                    ok = status in (404, 405)
                    want = "404 (other school's object)"
                else:
                    ok = status in (200, 405) or (
                        status == 302 and not _is_login_redirect(response)
                    )
                    ok = ok or (status == 404 and not real_objects and bool(route.arg_names))
                    want = "allowed"
            else:
                ok = status == 403
                want = "403"
            if not ok:
                failures.append(
                    f"{label:9} GET {url} ({route.name}, {capability}): {status}, want {want}"
                )
    assert failures == [], "\n".join(failures)


@pytest.mark.django_db
def test_it_hides_one_schools_objects_from_another_schools_administrator(cast: Cast) -> None:
    from yuqing.accounts.models import OrgUnit, RoleAssignment, User
    from yuqing.core.tenancy import all_schools

    client = Client()
    client.force_login(cast.outsider)
    for name, supplier in SUPPLIERS.items():
        url = reverse(name, kwargs=supplier(cast))
        data = {
            "name": "hijacked",
            "kind": "office",
            "sort_order": 0,
            "role": "admin",
            "active": "0",
            "display_name": "x",
        }
        assert client.post(url, data).status_code == 404, name
    with all_schools():
        assert OrgUnit.objects.get(pk=cast.objects["unit"].pk).name == "初二年级组"
        assert User.objects.get(pk=cast.objects["user"].pk).is_active
        assert RoleAssignment.objects.filter(pk=cast.objects["assignment"].pk).exists()
        assert not RoleAssignment.objects.filter(user=cast.objects["user"], role="admin").exists()


@pytest.mark.django_db
def test_it_keeps_settings_and_audit_to_administrators(cast: Cast) -> None:
    # A hand-written spot check, independent of the table: who reaches the settings and log.
    for role, user in cast.people.items():
        client = Client()
        client.force_login(user)
        want = 200 if role == Role.ADMIN else 403
        assert client.get(reverse("accounts:settings")).status_code == want, role
        assert client.get(reverse("audit:log")).status_code == want, role
    bureau = Client()
    bureau.force_login(cast.bureau_user)
    assert bureau.get(reverse("accounts:settings")).status_code == 403  # read-only across schools
    assert bureau.get(reverse("audit:log")).status_code == 200


@pytest.mark.django_db
def test_it_denies_an_inactive_person_everything(cast: Cast) -> None:
    admin = cast.people["admin"]
    client = Client()
    client.force_login(admin)
    type(admin)._base_manager.filter(pk=admin.pk).update(is_active=False)
    response = client.get(reverse("accounts:settings"))
    assert _is_login_redirect(response)  # the session no longer authenticates


@pytest.mark.django_db
def test_it_refuses_a_post_without_csrf_token_on_every_view(cast: Cast, caplog: Any) -> None:
    exempt = [r.name for r in all_routes() if getattr(r.callback, "csrf_exempt", False)]
    assert set(exempt) <= CSRF_EXEMPT_ALLOWED, f"views exempt from CSRF: {exempt}"
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.people["admin"])
    failures = []
    for route in all_routes():
        if route.name in CSRF_EXEMPT_ALLOWED:
            continue
        url, _real = url_for(route, cast)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="django.security.csrf"):
            response = client.post(url, {"name": "x", "role": "admin", "active": "0"})
        rejected = any(r.name == "django.security.csrf" for r in caplog.records)
        if response.status_code != 403 or not rejected:
            failures.append(
                f"POST {url} ({route.name}): {response.status_code}, csrf rejected={rejected}"
            )
    assert failures == [], "\n".join(failures)
    from yuqing.accounts.models import OrgUnit, User
    from yuqing.core.tenancy import all_schools

    with all_schools():  # and nothing changed
        assert OrgUnit.objects.filter(pk=cast.objects["unit"].pk).exists()
        assert User.objects.get(pk=cast.objects["user"].pk).is_active


# --- Content-Security-Policy: every page keeps it ---------------------------------------------


DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


class InlineCodeFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, styles and event handlers."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower() for name, _value in attrs}
        kind = (dict(attrs).get("type") or "").lower()
        # A JSON data block (json_script) is never executed, so the CSP does not apply to it.
        if tag == "script" and "src" not in names and kind not in DATA_SCRIPT_TYPES:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("inline <style>")
        if "style" in names:
            self.problems.append(f"style= on <{tag}>")
        handlers = sorted(n for n in names if n.startswith("on"))
        if handlers:
            self.problems.append(f"{handlers} on <{tag}>")
        for name, value in attrs:
            if name.lower() in ("href", "src", "action") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL on <{tag}>")

    handle_startendtag = handle_starttag


def inline_code_in(html: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.problems


def test_it_finds_inline_code_in_a_bad_page() -> None:
    bad = '<p style="x">a</p><script>1</script><a onclick="x" href="javascript:y">b</a><style>p{}</style>'
    assert len(inline_code_in(bad)) == 5
    good = '<script src="/s.js"></script><svg><path fill="#000" d="M0"/></svg>'
    good += '<script id="d" type="application/json">{"a": 1}</script>'
    assert inline_code_in(good) == []


@pytest.mark.django_db
def test_it_sends_csp_and_no_inline_code_on_every_page(cast: Cast) -> None:
    admin = Client()
    admin.force_login(cast.people["admin"])
    anonymous = Client()
    failures: list[str] = []
    checked = 0
    for route in all_routes():
        url, _real = url_for(route, cast)
        client = anonymous if capability_of(route) is None else admin
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        checked += 1
        policy = response.get("Content-Security-Policy", "")
        if "script-src 'self'" not in policy or "unsafe-inline" in policy:
            failures.append(f"{url}: weak or missing CSP {policy!r}")
        problems = inline_code_in(response.content.decode())
        if problems:
            failures.append(f"{url}: {problems}")
    # Pages reached by flows, not by plain GET: lockout, 403, 404, second-factor set-up.
    assert checked >= 10
    assert failures == [], "\n".join(failures)


@pytest.mark.django_db
def test_it_keeps_the_error_pages_free_of_inline_code(cast: Cast) -> None:
    staff = Client()
    staff.force_login(cast.people["staff"])
    for url, status in ((reverse("accounts:settings"), 403), ("/no/such/page/", 404)):
        response = staff.get(url)
        assert response.status_code == status
        assert response.has_header("Content-Security-Policy")
        assert inline_code_in(response.content.decode()) == []
