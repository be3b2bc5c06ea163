"""Tenant isolation at scale: 20 schools under two bureaus, people of every role, no leaks.

The data set comes from the bureau generator (``yuqing.bench.generate``: the path the scale
benchmark uses), then each school gets a unique marker in a mention (title, text, URL, search
index), in an event title and in a case title. Seeded-random people — a user of each role in
randomly chosen schools, and a user of each bureau — open every page of the site that takes no
argument, search for other schools' markers, and read the JSON API with their school's token;
no response may carry a marker of a school outside their scope. Each person also finds their
own school's marker, so an empty page cannot pass for isolation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from tests.conftest import make_user
from tests.test_permissions import all_routes
from yuqing.bench.generate import Spec, generate

SEED = 20261125
ROLES = ("admin", "monitor", "handler", "reviewer", "security", "staff")
# Pages that change state on GET or need no checking: sign-out, the language switch, the API
# (token-authenticated, read below with tokens).
SKIP_ROUTES = {"accounts:logout", "set_language"}


@dataclass
class Planted:
    school: Any
    bureau: Any
    marker: str  # in the mention's title and text, the event's and the case's title
    url: str  # the mention's URL: unique, and never typed into a search box
    token: str  # a read token of the school's API


def _plant(school: Any, bureau: Any, salt: str) -> Planted:
    from yuqing.cases.services import case_open
    from yuqing.core.tenancy import school_scope
    from yuqing.monitor import search
    from yuqing.monitor.models import Event, Mention
    from yuqing.monitor.setup_services import api_token_create

    marker = f"mk{school.pk:04d}{salt}"
    url = f"https://leak.example.cn/{salt}/{school.pk}/item.html"
    with school_scope(school):
        mention = Mention.objects.order_by("-id").first()
        assert mention is not None
        search.unindex_mentions([(mention.pk, mention.title, mention.text)])
        mention.title = f"{mention.title} {marker}"
        mention.text = f"{marker} {mention.text}"
        mention.url = url
        mention.relevant = True
        mention.save(update_fields=["title", "text", "url", "relevant"])
        search.index_mentions([(mention.pk, mention.school_id, mention.title, mention.text)])
        event = Event.objects.order_by("-latest_at").first()
        assert event is not None
        Event.objects.filter(pk=event.pk).update(title=f"{marker} {event.title}")
        case_open(title=f"{marker} 家长反映", level=1, mention_ids=[mention.pk])
        _token, secret = api_token_create(name=f"read-{salt}", can_read=True)
    return Planted(school, bureau, marker, url, secret)


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    from yuqing.accounts.models import School
    from yuqing.core.tenancy import all_schools

    first = generate(Spec(schools=12, sources=24, mentions=1200, seed=1, prefix="ta"))
    second = generate(Spec(schools=8, sources=16, mentions=800, seed=2, prefix="tb"))
    rng = random.Random(SEED)
    salt = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(6))
    planted: list[Planted] = []
    with all_schools():
        bureaus = {r.bureau_id: School.objects.get(pk=r.bureau_id) for r in (first, second)}
        for result in (first, second):
            for school in School.objects.filter(pk__in=result.school_ids).order_by("pk"):
                planted.append(_plant(school, bureaus[result.bureau_id], salt))
    return {"planted": planted, "bureaus": list(bureaus.values()), "rng": rng}


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _leaks(
    body: str, visible: list[Planted], planted: list[Planted], *, skip: str = ""
) -> list[str]:
    allowed = {p.school.pk for p in visible}
    found = []
    for p in planted:
        if p.school.pk in allowed:
            continue
        if (p.marker in body and p.marker != skip) or p.url in body:
            found.append(p.marker)
    return found


@pytest.mark.slow
def test_no_person_sees_another_schools_rows(world: dict[str, Any]) -> None:
    planted: list[Planted] = world["planted"]
    rng: random.Random = world["rng"]
    routes = [
        r
        for r in all_routes()
        if not r.arg_names and r.name not in SKIP_ROUTES and not r.name.startswith("api:v1:")
    ]
    people: list[tuple[str, Any, list[Planted]]] = []
    # Every role, each in a school drawn at random (two draws per role), and both bureaus.
    for role in ROLES:
        for p in rng.sample(planted, 2):
            user = make_user(p.school, f"{role}-{p.school.slug}", roles=(role,))
            people.append((f"{role}@{p.school.slug}", user, [p]))
    for bureau in world["bureaus"]:
        user = make_user(bureau, f"bureau-{bureau.slug}", roles=("monitor",))
        people.append(
            (f"bureau {bureau.slug}", user, [p for p in planted if p.bureau.pk == bureau.pk])
        )

    failures: list[str] = []
    for label, user, visible in people:
        client = Client()
        client.force_login(user)
        for route in routes:
            from django.urls import reverse

            url = reverse(route.name)
            response = client.get(url)
            leaks = _leaks(_body(response), visible, planted)
            if leaks:
                failures.append(f"{label} GET {url}: {leaks}")
        # Searching for another school's marker finds nothing of it (the query itself is echoed
        # in the search box, so only its URL and the other markers are looked for).
        foreign = [p for p in planted if p not in visible]
        for p in rng.sample(foreign, 3):
            for url in (f"/monitor/?q={quote(p.marker)}", f"/monitor/events/?q={quote(p.marker)}"):
                leaks = _leaks(_body(client.get(url)), visible, planted, skip=p.marker)
                if leaks:
                    failures.append(f"{label} GET {url}: {leaks}")
        # ...and their own marker is found where their role may look.
        if user.can("monitor.view"):
            mine = rng.choice(visible)
            body = _body(client.get(f"/monitor/?q={quote(mine.marker)}"))
            assert mine.url in body, f"{label} does not find their own school's mention"
    assert failures == [], "\n".join(failures[:40])


@pytest.mark.slow
def test_an_api_token_reads_only_its_own_school(world: dict[str, Any]) -> None:
    planted: list[Planted] = world["planted"]
    client = Client()
    for p in world["rng"].sample(planted, 8):
        auth = {"HTTP_AUTHORIZATION": f"Bearer {p.token}"}
        mentions = client.get("/api/v1/mentions?limit=500", **auth)
        events = client.get("/api/v1/events?limit=500", **auth)
        assert mentions.status_code == 200 and events.status_code == 200
        for response in (mentions, events):
            assert _leaks(_body(response), [p], planted) == []
        assert p.url in _body(mentions)
        assert p.marker in _body(events)
