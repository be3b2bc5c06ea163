"""Brute force: password guessing is locked out (django-axes) and the usual ways around the
lockout (a forged X-Forwarded-For, another spelling of the user name) do not reset it; the
public petition form, which needs no account, is rate limited."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.test_login import sign_in

pytestmark = pytest.mark.django_db


def guess(client: Client, username: str, n: int, **extra: Any) -> list[int]:
    url = reverse("accounts:login")
    return [
        client.post(url, {"username": username, "password": f"guess-{i}"}, **extra).status_code
        for i in range(n)
    ]


def test_guessing_locks_the_account_out_for_that_address(people: dict[str, Any]) -> None:
    client = Client(REMOTE_ADDR="10.6.6.1")
    statuses = guess(client, "alice", settings.AXES_FAILURE_LIMIT + 3)
    assert statuses[: settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert set(statuses[settings.AXES_FAILURE_LIMIT - 1 :]) == {429}
    assert sign_in(client, "alice").status_code == 429  # the right password, too late
    assert "_auth_user_id" not in client.session


def test_a_forged_forwarded_for_header_does_not_reset_the_count(people: dict[str, Any]) -> None:
    client = Client(REMOTE_ADDR="10.6.6.2")
    statuses = [
        guess(client, "alice", 1, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")[0]
        for i in range(settings.AXES_FAILURE_LIMIT + 2)
    ]
    assert statuses[-1] == 429
    assert guess(client, "alice", 1, HTTP_X_FORWARDED_FOR="203.0.113.200") == [429]


def test_another_spelling_of_the_user_name_does_not_reset_the_count(
    people: dict[str, Any],
) -> None:
    client = Client(REMOTE_ADDR="10.6.6.3")
    spellings = ["alice", "Alice", "ALICE", " alice", "alice "]
    statuses = [
        guess(client, spellings[i % len(spellings)], 1)[0]
        for i in range(settings.AXES_FAILURE_LIMIT + 2)
    ]
    assert statuses[-1] == 429, statuses
    # A spelling that signs in as the same person is locked out as well.
    for spelled in spellings:
        response = sign_in(client, spelled)
        assert response.status_code in (200, 429), (spelled, response.status_code)
        assert "_auth_user_id" not in client.session, spelled


def test_the_public_petition_form_is_rate_limited(school: Any) -> None:
    client = Client(REMOTE_ADDR="10.6.6.4")
    url = reverse("cases:public_petition", args=[school.slug])
    statuses = [
        client.post(
            url, {"channel": "mailbox", "subject": f"第{i}封", "body": "内容", "website": ""}
        ).status_code
        for i in range(40)
    ]
    assert 429 in statuses, statuses
    from yuqing.cases.models import Petition
    from yuqing.core.tenancy import school_scope

    with school_scope(school):
        assert Petition.objects.count() < 40


def test_the_query_page_is_rate_limited_against_guessing_codes(school: Any) -> None:
    client = Client(REMOTE_ADDR="10.6.6.5")
    url = reverse("cases:public_query", args=[school.slug])
    statuses = [client.post(url, {"code": f"AAAA-BBB{i % 10}"}).status_code for i in range(60)]
    assert 429 in statuses, statuses
