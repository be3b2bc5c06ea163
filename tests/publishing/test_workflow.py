from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.conftest import make_user
from tests.publishing.conftest import approve, fresh
from yuqing.publishing import workflow
from yuqing.publishing.models import Draft, Flow, Review, Signature, StepState
from yuqing.publishing.services import draft_save

pytestmark = pytest.mark.django_db


def test_it_seeds_the_three_level_flow(school: Any, in_school: Any) -> None:
    flow = workflow.flow_seed(school.pk)
    assert [s.role for s in flow.steps.order_by("order")] == ["admin", "reviewer", "reviewer"]
    assert flow.steps.order_by("order").last().runs_checks
    assert workflow.flow_seed(school.pk).pk == flow.pk


def test_it_takes_a_draft_through_three_levels_to_approval(people: dict, draft: Any) -> None:
    workflow.review_submit(draft=draft, user=people["staff"])
    assert fresh(draft).status == Draft.Status.IN_REVIEW
    approve(draft, people["admin"])
    approve(draft, people["reviewer"], action="approve_with_comment", comment="同意发布")
    approve(draft, people["reviewer"])
    draft = fresh(draft)
    assert draft.status == Draft.Status.APPROVED
    signatures = Signature.objects.filter(revision=draft.current_revision)
    assert signatures.count() == 3
    assert {s.content_hash for s in signatures} == {draft.current_revision.content_hash}


def test_it_follows_a_two_step_flow_of_the_channel(people: dict, draft: Any) -> None:
    flow = workflow.flow_save(name="公众号两审", channel="website", allow_self_approval=False)
    workflow.step_add(flow=flow, name="初审", role="admin", org_unit=None, runs_checks=False)
    workflow.step_add(flow=flow, name="终审", role="reviewer", org_unit=None, runs_checks=True)
    review = workflow.review_submit(draft=draft, user=people["staff"])
    assert review.flow == flow
    approve(draft, people["admin"])
    approve(draft, people["reviewer"])
    assert fresh(draft).status == Draft.Status.APPROVED


def test_it_refuses_submission_when_a_step_has_nobody(people: dict, draft: Any) -> None:
    from yuqing.accounts.models import OrgUnit

    empty_unit = OrgUnit.objects.create(name="党委办公室")
    flow = workflow.flow_save(name="党建网", channel="website", allow_self_approval=False)
    workflow.step_add(
        flow=flow, name="党办审核", role="reviewer", org_unit=empty_unit, runs_checks=False
    )
    assert workflow.step_members(flow.steps.get()) == []
    with pytest.raises(ValidationError, match="党办审核"):
        workflow.review_submit(draft=draft, user=people["staff"])
    assert not Review.objects.filter(draft=draft).exists()


def test_it_keeps_an_author_from_approving_their_own_draft(people: dict, in_school: Any) -> None:
    from yuqing.publishing.services import draft_create

    mine = draft_create(
        author=people["admin"], title="通知", body="<p>放假通知</p>", channels=["website"]
    )
    workflow.review_submit(draft=mine, user=people["admin"])
    with pytest.raises(ValidationError, match="another reviewer"):
        approve(mine, people["admin"])
    assert StepState.objects.get(review__draft=mine).status == StepState.Status.IN_PROGRESS


def test_it_lets_an_author_approve_when_the_flow_allows(people: dict, in_school: Any) -> None:
    from yuqing.publishing.services import draft_create

    flow = workflow.flow_seed(people["admin"].school_id)
    Flow.objects.filter(pk=flow.pk).update(allow_self_approval=True)
    mine = draft_create(
        author=people["admin"], title="通知", body="<p>放假通知</p>", channels=["website"]
    )
    workflow.review_submit(draft=mine, user=people["admin"])
    approve(mine, people["admin"])
    assert StepState.objects.filter(review__draft=mine, status="approved").count() == 1


def test_it_lets_one_of_two_concurrent_approvals_win(people: dict, school: Any, draft: Any) -> None:
    second_admin = make_user(school, "wang", roles=("admin",), name="王副主任")
    workflow.review_submit(draft=draft, user=people["staff"])
    # Both reviewers opened the page while the step was open.
    seen_by_alice = workflow.active_step(fresh(draft))
    seen_by_wang = workflow.active_step(fresh(draft))
    workflow.step_act(
        state=seen_by_alice, user=people["admin"], action="approve", credential="Test-Passw0rd!"
    )
    with pytest.raises(workflow.StepConflict, match="already acted"):
        workflow.step_act(
            state=seen_by_wang, user=second_admin, action="approve", credential="Test-Passw0rd!"
        )
    first = StepState.objects.filter(review__draft=draft).order_by("id").first()
    assert first.acted_by == people["admin"]
    assert Signature.objects.filter(step_state=first).count() == 1


def test_it_voids_approvals_when_an_approved_draft_is_edited(people: dict, draft: Any) -> None:
    workflow.review_submit(draft=draft, user=people["staff"])
    for user in (people["admin"], people["reviewer"], people["reviewer"]):
        approve(draft, user)
    draft = fresh(draft)
    assert draft.status == Draft.Status.APPROVED
    draft_save(
        draft=draft,
        user=people["staff"],
        title=draft.title,
        body=draft.body + "<p>补充一句。</p>",
        channels=draft.channels,
    )
    draft = fresh(draft)
    assert draft.status == Draft.Status.DRAFT
    assert Review.objects.get(draft=draft).status == Review.Status.INVALIDATED
    assert not StepState.objects.filter(review__draft=draft, status="approved").exists()
    # Saving identical text makes no revision and voids nothing.
    number = draft.current_revision.number
    draft_save(
        draft=draft,
        user=people["staff"],
        title=draft.title,
        body=draft.body,
        channels=draft.channels,
    )
    assert fresh(draft).current_revision.number == number
    # And it can go round again.
    workflow.review_submit(draft=draft, user=people["staff"])


def test_it_asks_for_the_password_again_to_sign(people: dict, draft: Any) -> None:
    workflow.review_submit(draft=draft, user=people["staff"])
    with pytest.raises(ValidationError, match="not your password"):
        approve(draft, people["admin"], credential="wrong")
    with pytest.raises(ValidationError):
        approve(draft, people["admin"], credential="")
    assert not Signature.objects.exists()


def test_it_accepts_an_authenticator_code_to_sign(people: dict, draft: Any) -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=people["admin"], name="phone", confirmed=True)
    workflow.review_submit(draft=draft, user=people["staff"])
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    approve(draft, people["admin"], credential=code)
    assert Signature.objects.get().method == "totp"


def test_it_sends_a_draft_back_with_comments_anchored_to_the_text(people: dict, draft: Any) -> None:
    from yuqing.publishing.models import ReviewComment

    workflow.review_submit(draft=draft, user=people["staff"])
    text = fresh(draft).current_revision.text
    start = text.index("3月12日")
    approve(
        draft,
        people["admin"],
        action="request_changes",
        anchors=[workflow.Anchor(start, start + 5, "日期核实一下")],
    )
    assert fresh(draft).status == Draft.Status.NEEDS_CHANGES
    comment = ReviewComment.objects.get()
    assert comment.quote == "3月12日" and comment.body == "日期核实一下"
    draft = fresh(draft)
    draft_save(
        draft=draft,
        user=people["staff"],
        title=draft.title,
        body=draft.body.replace("3月12日", "3月13日"),
        channels=draft.channels,
    )
    review = workflow.review_submit(draft=fresh(draft), user=people["staff"])
    assert Review.objects.filter(draft=draft).count() == 1
    open_state = StepState.objects.get(review=review, status="in_progress")
    assert open_state.step.order == 1 and open_state.revision.number == 2


def test_it_rejects_with_a_reason(people: dict, draft: Any) -> None:
    workflow.review_submit(draft=draft, user=people["staff"])
    with pytest.raises(ValidationError):
        approve(draft, people["admin"], action="reject")
    approve(draft, people["admin"], action="reject", comment="内容不宜公开")
    assert fresh(draft).status == Draft.Status.REJECTED


def test_it_keeps_one_active_review_per_draft_in_the_database(people: dict, draft: Any) -> None:
    review = workflow.review_submit(draft=draft, user=people["staff"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(draft=draft, flow=review.flow, started_by=people["staff"])
