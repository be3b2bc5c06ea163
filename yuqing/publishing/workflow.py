"""Review flows: the definition (Flow → ordered FlowSteps) and the runtime (Review → StepState
per attempt), after wagtail's workflows.

Each transition is one atomic function: it checks the current state with a conditional UPDATE
(so of two reviewers pressing "approve" on one step, exactly one wins and the other is told),
stamps who, when and from where, and writes an audit entry with a dotted action name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yuqing.accounts.models import OrgUnit, RoleAssignment, User
from yuqing.accounts.roles import CAPABILITIES, Role
from yuqing.audit.services import audit_record
from yuqing.core.context import current_actor
from yuqing.publishing import services, signing
from yuqing.publishing.models import (
    CheckRun,
    Draft,
    Flow,
    FlowStep,
    Review,
    ReviewComment,
    Signature,
    StepState,
)

# 三审: the usual three levels, seeded for every school that has no flow of its own.
DEFAULT_FLOW_NAME = gettext_lazy("Three-level review (三审)")
DEFAULT_STEPS: tuple[tuple[Any, str, bool], ...] = (
    (gettext_lazy("First review: wording and facts"), Role.ADMIN, False),
    (gettext_lazy("Second review: policy"), Role.REVIEWER, False),
    (gettext_lazy("Final approval: leader"), Role.REVIEWER, True),
)
IDENTITY_FAILURES_ALLOWED = 5
IDENTITY_WINDOW = dt.timedelta(minutes=15)


class StepConflict(ValidationError):
    """Someone else acted on this step first (or the draft changed under the reviewer)."""


class Action:
    APPROVE = "approve"
    APPROVE_WITH_COMMENT = "approve_with_comment"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"
    ALL = (APPROVE, APPROVE_WITH_COMMENT, REQUEST_CHANGES, REJECT)


# --------------------------------------------------------------------------- definition


def flow_seed(school_id: int) -> Flow:
    """The default 三审 flow of a school (its channel-wide flow), created once."""
    existing = Flow.objects.filter(school_id=school_id, channel="").first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            flow = Flow.objects.create(school_id=school_id, name=str(DEFAULT_FLOW_NAME), channel="")
            for order, (name, role, runs_checks) in enumerate(DEFAULT_STEPS, start=1):
                FlowStep.objects.create(
                    school_id=school_id,
                    flow=flow,
                    order=order,
                    name=str(name),
                    role=str(role),
                    runs_checks=runs_checks,
                )
    except IntegrityError:
        return Flow.objects.get(school_id=school_id, channel="")
    return flow


def flow_for(draft: Draft) -> Flow:
    """The strictest flow among the draft's channels (most steps), else the default flow."""
    default = flow_seed(draft.school_id)
    own = list(Flow.objects.filter(channel__in=draft.channels).prefetch_related("steps"))
    if not own:
        return default
    return max(own, key=lambda f: (f.steps.count(), -f.pk))


def flow_save(
    *, flow: Flow | None = None, name: str, channel: str, allow_self_approval: bool
) -> Flow:
    flow = flow or Flow()
    flow.name = name.strip()
    flow.channel = channel
    flow.allow_self_approval = allow_self_approval
    flow.assign_school()
    flow.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            flow.save()
    except IntegrityError:
        raise ValidationError({"channel": _("This channel already has a flow.")}) from None
    return flow


def step_add(
    *, flow: Flow, name: str, role: str, org_unit: OrgUnit | None, runs_checks: bool
) -> FlowStep:
    if role and role not in Role.values:
        raise ValidationError({"role": _("Choose a role.")})
    if role and role not in CAPABILITIES["publishing.review"]:
        raise ValidationError({"role": _("This role cannot review drafts.")})
    if not role and org_unit is None:
        raise ValidationError({"role": _("Choose a role, an org unit or both.")})
    with transaction.atomic():
        last = flow.steps.order_by("-order").first()
        step = FlowStep(
            school_id=flow.school_id,
            flow=flow,
            order=(last.order + 1) if last else 1,
            name=name.strip(),
            role=role,
            org_unit=org_unit,
            runs_checks=runs_checks,
        )
        step.full_clean()
        step.save()
    return step


def step_remove(*, step: FlowStep) -> None:
    if StepState.objects.filter(step=step).exists():
        raise ValidationError(_("This step has been used in reviews; it stays for the record."))
    flow = step.flow
    with transaction.atomic():
        step.delete()
        # Renumber in two passes: the unique (flow, order) must hold after every UPDATE.
        steps = list(flow.steps.order_by("order"))
        for i, s in enumerate(steps, start=1):
            FlowStep.objects.filter(pk=s.pk).update(order=1000 + i)
        for i, s in enumerate(steps, start=1):
            FlowStep.objects.filter(pk=s.pk).update(order=i)


def _unit_ids(unit_id: int) -> set[int]:
    ids = {unit_id}
    frontier = [unit_id]
    while frontier:
        frontier = [
            pk
            for pk in OrgUnit.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)
            if pk not in ids
        ]
        ids.update(frontier)
    return ids


def step_members(step: FlowStep) -> list[User]:
    """Who may act on a step: active people of the school holding its role (in its unit)."""
    roles = [step.role] if step.role else list(CAPABILITIES["publishing.review"])
    assignments = RoleAssignment.objects.filter(
        school_id=step.school_id, role__in=roles, user__is_active=True
    )
    if step.org_unit_id is not None:
        assignments = assignments.filter(org_unit_id__in=_unit_ids(step.org_unit_id))
    user_ids = set(assignments.values_list("user_id", flat=True))
    people = User.objects.filter(pk__in=user_ids, is_active=True).order_by("username")
    return [u for u in people if u.can("publishing.review")]


def may_act(user: User, step: FlowStep) -> bool:
    return any(u.pk == user.pk for u in step_members(step))


# --------------------------------------------------------------------------- runtime


def _state(draft: Draft, to: str) -> None:
    Draft.objects.filter(pk=draft.pk).update(status=to, updated_at=timezone.now())
    draft.status = to


def review_submit(*, draft: Draft, user: User) -> Review:
    """Send the current revision for review, after the checks pass (or are overridden)."""
    if not services.can_edit(user, draft):
        raise ValidationError(_("Only the author or a reviewer may submit this draft."))
    if draft.status not in (Draft.Status.DRAFT, Draft.Status.NEEDS_CHANGES, Draft.Status.REJECTED):
        raise ValidationError(_("This draft is already in review or signed off."))
    revision = draft.current_revision
    if revision is None:
        raise ValidationError(_("The draft has no saved text yet."))
    flow = flow_for(draft)
    steps = list(flow.steps.order_by("order"))
    if not steps:
        raise ValidationError(_("The review flow “%(flow)s” has no steps.") % {"flow": flow.name})
    empty = [s.name for s in steps if not step_members(s)]
    if empty:
        raise ValidationError(
            _(
                "Nobody can act on these review steps: %(steps)s. Ask an administrator to assign people."
            )
            % {"steps": "、".join(empty)}
        )
    run = services.checks_run(draft=draft, stage=CheckRun.Stage.SUBMISSION)
    if run.unresolved:
        raise ValidationError(
            _("%(n)s blocking findings must be fixed or overridden before submission.")
            % {"n": run.unresolved}
        )
    with transaction.atomic():
        review = Review.objects.filter(draft=draft, status=Review.Status.NEEDS_CHANGES).first()
        if review is not None:
            # Resubmission after changes: the same review starts again from the first step,
            # on the new revision (every earlier approval was of other text).
            Review.objects.filter(pk=review.pk).update(status=Review.Status.IN_PROGRESS)
            review.status = Review.Status.IN_PROGRESS
        else:
            try:
                with transaction.atomic():
                    review = Review.objects.create(
                        school_id=draft.school_id, draft=draft, flow=flow, started_by=user
                    )
            except IntegrityError:
                raise ValidationError(_("This draft is already in review.")) from None
        StepState.objects.create(
            school_id=draft.school_id, review=review, step=steps[0], revision=revision
        )
        _state(draft, Draft.Status.IN_REVIEW)
        audit_record(
            "publishing.review.submitted",
            obj=draft,
            changes={"review": review.pk, "revision": revision.number, "flow": flow.name},
        )
    return review


def active_step(draft: Draft) -> StepState | None:
    return (
        StepState.objects.filter(
            review__draft=draft,
            review__status=Review.Status.IN_PROGRESS,
            status=StepState.Status.IN_PROGRESS,
        )
        .select_related("step", "review", "revision")
        .first()
    )


def _identity_failures(user: User) -> int:
    from yuqing.audit.models import AuditEntry

    since = timezone.now() - IDENTITY_WINDOW
    return AuditEntry.objects.filter(
        actor=user, action="publishing.signoff.identity_failed", at__gte=since
    ).count()


def confirm_identity(user: User, secret: str) -> str:
    """ "password" or "totp" when ``secret`` proves the person is at the keyboard now."""
    if _identity_failures(user) >= IDENTITY_FAILURES_ALLOWED:
        raise ValidationError(
            {"credential": _("Too many wrong attempts. Wait 15 minutes, then try again.")}
        )
    secret = (secret or "").strip()
    if secret:
        if user.check_password(secret):
            return "password"
        if secret.isdigit():
            from django_otp.plugins.otp_totp.models import TOTPDevice

            for device in TOTPDevice.objects.filter(user=user, confirmed=True):
                if device.verify_token(secret):
                    return "totp"
    audit_record("publishing.signoff.identity_failed", obj=user)
    raise ValidationError({"credential": _("That is not your password or a current code.")})


@dataclass(frozen=True)
class Anchor:
    start: int | None
    end: int | None
    body: str


def _comments(
    review: Review, state: StepState, user: User, comment: str, anchors: Iterable[Anchor]
) -> None:
    text = state.revision.text
    for anchor in anchors:
        if not anchor.body.strip():
            continue
        start, end = anchor.start, anchor.end
        if start is None or end is None or not (0 <= start < end <= len(text)):
            start = end = None
        ReviewComment.objects.create(
            school_id=review.school_id,
            review=review,
            step_state=state,
            revision=state.revision,
            author=user,
            start=start,
            end=end,
            quote=text[start:end][:500] if start is not None else "",
            body=anchor.body.strip(),
        )
    if comment.strip():
        ReviewComment.objects.create(
            school_id=review.school_id,
            review=review,
            step_state=state,
            revision=state.revision,
            author=user,
            body=comment.strip(),
        )


def step_act(
    *,
    state: StepState,
    user: User,
    action: str,
    comment: str = "",
    anchors: Iterable[Anchor] = (),
    credential: str = "",
    now: dt.datetime | None = None,
) -> StepState:
    """Approve (with or without comment), request changes, or reject one step."""
    now = now or timezone.now()
    if action not in Action.ALL:
        raise ValidationError({"action": _("Choose an action.")})
    anchors = list(anchors)
    review = state.review
    draft = review.draft
    step = state.step
    if not may_act(user, step):
        raise ValidationError(_("You are not among the people who may act on this step."))
    approving = action in (Action.APPROVE, Action.APPROVE_WITH_COMMENT)
    if approving and draft.author_id == user.pk and not review.flow.allow_self_approval:
        raise ValidationError(_("You wrote this draft: another reviewer must approve it."))
    if action == Action.APPROVE_WITH_COMMENT and not comment.strip():
        raise ValidationError({"comment": _("Write the comment to approve with.")})
    if action in (Action.REQUEST_CHANGES, Action.REJECT) and not (
        comment.strip() or any(a.body.strip() for a in anchors)
    ):
        raise ValidationError({"comment": _("Say what must change, or why it is rejected.")})
    steps = list(review.flow.steps.order_by("order"))
    later = [s for s in steps if s.order > step.order]
    method = ""
    if approving:
        method = confirm_identity(user, credential)
        if step.runs_checks or not later:
            run = services.checks_run(draft=draft, stage=CheckRun.Stage.FINAL)
            if run.unresolved:
                raise ValidationError(
                    _("%(n)s blocking findings must be fixed or overridden before final approval.")
                    % {"n": run.unresolved}
                )
    to = {
        Action.APPROVE: StepState.Status.APPROVED,
        Action.APPROVE_WITH_COMMENT: StepState.Status.APPROVED,
        Action.REQUEST_CHANGES: StepState.Status.NEEDS_CHANGES,
        Action.REJECT: StepState.Status.REJECTED,
    }[action]
    actor = current_actor()
    with transaction.atomic():
        # The one place two reviewers race. Lock the review, then the step state, and decide
        # on the rows as they are now: a conditional UPDATE alone is not enough on PostgreSQL,
        # where the filter across the review join is a subquery read from the statement's
        # snapshot, so a second UPDATE waiting on the row lock would still find it "open".
        Review.objects.select_for_update().filter(pk=review.pk).first()
        current = (
            StepState.objects.select_for_update()
            .filter(pk=state.pk)
            .values("status", "revision_id", "review__status")
            .first()
        )
        draft_revision = (
            Draft.objects.filter(pk=draft.pk).values_list("current_revision_id", flat=True).first()
        )
        if (
            current is None
            or current["status"] != StepState.Status.IN_PROGRESS
            or current["review__status"] != Review.Status.IN_PROGRESS
            or current["revision_id"] != draft_revision
        ):
            raise StepConflict(
                _(
                    "Someone else has already acted on this step, or the draft was edited. Reload to see the current state."
                )
            )
        StepState.objects.filter(pk=state.pk).update(
            status=to,
            acted_by=user,
            acted_at=now,
            comment=comment.strip(),
            ip=actor.ip,
            user_agent=actor.user_agent[:300],
        )
        state.refresh_from_db()
        _comments(review, state, user, comment if not approving else "", anchors)
        if approving:
            _sign(state, user, method, now)
            if later:
                StepState.objects.create(
                    school_id=review.school_id,
                    review=review,
                    step=later[0],
                    revision=state.revision,
                )
            else:
                Review.objects.filter(pk=review.pk).update(
                    status=Review.Status.APPROVED, finished_at=now
                )
                _state(draft, Draft.Status.APPROVED)
        elif action == Action.REQUEST_CHANGES:
            Review.objects.filter(pk=review.pk).update(status=Review.Status.NEEDS_CHANGES)
            _state(draft, Draft.Status.NEEDS_CHANGES)
        else:
            Review.objects.filter(pk=review.pk).update(
                status=Review.Status.REJECTED, finished_at=now
            )
            _state(draft, Draft.Status.REJECTED)
        audit_record(
            f"publishing.step.{'approved' if approving else to}",
            obj=draft,
            changes={
                "step": step.name,
                "revision": state.revision.number,
                "content_sha256": state.revision.content_hash,
                "comment": comment.strip(),
                "confirmed_by": method,
            },
        )
        if approving and not later:
            audit_record("publishing.review.approved", obj=draft, changes={"review": review.pk})
    return state


def _sign(state: StepState, user: User, method: str, now: dt.datetime) -> Signature:
    revision = state.revision
    statement = signing.statement_for(
        revision_id=revision.pk,
        draft_id=revision.draft_id,
        content_hash=revision.content_hash,
        signer_id=user.pk,
        signer_name=str(user),
        signed_at=now.isoformat(),
        ip=state.ip,
        step=state.step.name,
    )
    signed = signing.sign(statement)
    return Signature.objects.create(
        school_id=state.school_id,
        step_state=state,
        revision=revision,
        signer=user,
        signer_name=str(user)[:150],
        content_hash=revision.content_hash,
        signed_at=now,
        ip=state.ip,
        method=method,
        statement=signed.statement,
        signature=signed.signature,
        key_id=signed.key_id,
        public_key=signed.public_key,
    )
