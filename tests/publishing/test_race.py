"""Two reviewers approve the same step at the same moment, on two database connections."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import translation

from tests.conftest import PASSWORD, make_user
from tests.publishing.conftest import fresh
from yuqing.core.tenancy import school_scope
from yuqing.publishing import workflow
from yuqing.publishing.models import Signature, StepState


def _hold_before_first_lock(barrier: threading.Barrier) -> Callable[..., Any]:
    """A query wrapper that makes this connection wait for the other one right before its
    first locking read (or its first write of a step state), so both are mid-transaction."""
    waited = False

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any) -> Any:
        nonlocal waited
        upper = sql.lstrip().upper()
        touches = "FOR UPDATE" in upper or (
            upper.startswith("UPDATE") and '"PUBLISHING_STEPSTATE"' in upper
        )
        if touches and not waited:
            waited = True
            barrier.wait(timeout=20)
        return execute(sql, params, many, ctx)

    return wrapper


@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_one_of_two_simultaneous_approvals_win(
    people: dict[str, Any], school: Any
) -> None:
    if connection.vendor == "sqlite":
        # The SQLite test database lives in memory, shared between threads through one
        # shared-cache connection whose table locks fail at once instead of waiting, so two
        # threads would test SQLite's shared-cache locking, not this code. Deployments on SQLite
        # use a file with BEGIN IMMEDIATE, which serialises writers whole; the sequential
        # variant (test_workflow) covers the stale second approval there.
        pytest.skip("simultaneous writers need a server database (DATABASE_URL=postgres://…)")
    from yuqing.publishing.services import draft_create

    second_admin = make_user(school, "wang", roles=("admin",), name="王副主任")
    with school_scope(school):
        draft = draft_create(
            author=people["staff"],
            title="春季运动会圆满举行",
            body="<p>我校于3月12日举行春季运动会。</p>",
            channels=["website"],
        )
        workflow.review_submit(draft=draft, user=people["staff"])
        # Both reviewers opened the page while the step was open.
        seen = {
            u.username: workflow.active_step(fresh(draft)) for u in (people["admin"], second_admin)
        }
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def approve_as(user: Any) -> None:
        try:
            with (
                translation.override("en"),
                school_scope(school),
                connection.execute_wrapper(_hold_before_first_lock(barrier)),
            ):
                workflow.step_act(
                    state=seen[user.username], user=user, action="approve", credential=PASSWORD
                )
            results[user.username] = "won"
        except workflow.StepConflict as exc:
            results[user.username] = f"told: {' '.join(exc.messages)}"
        except BaseException as exc:  # reported in the main thread
            results[user.username] = f"error: {type(exc).__name__}: {exc}"
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=approve_as, args=(u,)) for u in (people["admin"], second_admin)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    outcomes = sorted(results.values())
    assert len(outcomes) == 2, results
    assert outcomes[0].startswith("told: Someone else has already acted on this step"), results
    assert outcomes[1] == "won", results
    winner = next(name for name, r in results.items() if r == "won")
    with school_scope(school):
        states = list(StepState.objects.filter(review__draft=draft).order_by("id"))
        # One approved first step, one open second step: no duplicate state, one signature.
        assert [(s.step.order, s.status) for s in states] == [
            (states[0].step.order, "approved"),
            (states[1].step.order, "in_progress"),
        ]
        assert states[0].acted_by.username == winner
        assert Signature.objects.filter(revision__draft=draft).count() == 1
